"""The inputs' SHA-256 in the report (chain of custody): hashed by the Rust core as it reads
each capture, equal to hashlib's over the whole file as stored, for every engine and way of
running; only inputs of equal size are read beforehand, to find repeats."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from netscan import analyze, util
from netscan.analyze import Analyzer, Options, unique_inputs
from tests.conftest import PCAPS, realworld, requires_tshark

DEMO = PCAPS / "demo_sales_office.pcapng"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("digest")
    gz = d / "mdns.pcap.gz"
    gz.write_bytes(gzip.compress(realworld("mdns_zeek.pcap").read_bytes()))
    cut = d / "cut.pcap"
    data = realworld("sip_calls_zeek.pcap").read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 7])  # cut in the middle of a record
    return [DEMO, gz, cut, realworld("bad_truncated_file_suricata.pcap")]


def test_core_hashes_each_input_as_it_reads_it(
    inputs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = util.sha256_file

    def counted(path: str) -> str:
        read.append(str(path))
        return real(path)

    monkeypatch.setattr("netscan.analyze.sha256_file", counted)
    monkeypatch.setattr("netscan.util.sha256_file", counted)
    result = Analyzer(Options(infer_premises=False)).run([str(p) for p in inputs])
    assert [i.sha256 for i in result.inputs] == [sha(p) for p in inputs]
    assert read == []  # no input was read a second time for its hash
    assert any("cut" in w for w in result.inputs[2].warnings)


def test_repeats_are_found_by_content(inputs: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.pcapng"
    shutil.copyfile(DEMO, copy)
    other = tmp_path / "same-size.pcapng"
    data = bytearray(DEMO.read_bytes())
    data[-1] ^= 1
    other.write_bytes(bytes(data))
    paths = [str(DEMO), str(inputs[1]), str(copy), str(other), str(DEMO)]
    kept, warnings, digests = unique_inputs(paths)
    assert kept == [str(DEMO), str(inputs[1]), str(other)]
    assert len(warnings) == 2 and all("same content" in w for w in warnings)
    # only the inputs of one size were read here; the gzip capture is left to the core
    assert digests == {str(DEMO): sha(DEMO), str(other): sha(other)}


def test_jobs_and_steps_give_the_same_digests(
    inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netscan.engine.threaded import ThreadedEngine

    opened: list[int] = []
    real_open = ThreadedEngine.open

    def spy(self: ThreadedEngine, *args: object, **kw: object) -> object:
        opened.append(2)
        return real_open(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ThreadedEngine, "open", spy)
    paths = [str(p) for p in inputs]
    want = [sha(p) for p in inputs]
    # --jobs: the core, run ahead in its thread, hashes each file as it reads it
    data = realworld("sip_calls_zeek.pcap").read_bytes()
    big = tmp_path / "big.pcap"
    big.write_bytes(data[:24] + data[24:] * (17_000_000 // len(data) + 1))
    result = Analyzer(Options(jobs=2, infer_premises=False)).run([*paths, str(big)])
    assert opened == [2] and result.packets > 0
    assert [i.sha256 for i in result.inputs] == [*want, sha(big)]
    steps = list(Analyzer(Options(infer_premises=False)).run_incremental(paths, batch=2000))
    assert len(steps) > 2
    # a step before the end reads the file for its hash; the last one has the core's
    assert [i.sha256 for i in steps[0].result().inputs] == want
    assert [i.sha256 for i in steps[-1].result().inputs] == want


@requires_tshark
def test_tshark_engine_hashes_in_python(inputs: list[Path]) -> None:
    result = Analyzer(Options(engine="tshark", infer_premises=False)).run([str(DEMO)])
    assert [i.sha256 for i in result.inputs] == [sha(DEMO)]


def test_second_pass_does_not_hash_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from netscan.engine.core import CoreEngine

    # a public capture whose own hosts use global addresses: premises inference runs twice
    path = str(realworld("tls_sni_many_sites_22if_ndpi.pcapng"))
    calls: list[set[str]] = []
    real_open = CoreEngine.open

    def spy(self: CoreEngine, paths: list[str], *args: object, **kw: object) -> object:
        known = kw.get("known", args[2] if len(args) > 2 else ())
        calls.append(set(known))  # type: ignore[arg-type]
        return real_open(self, paths, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(CoreEngine, "open", spy)
    result = Analyzer(Options()).run([path])
    assert result.inventory.premises.inference.applied
    assert calls == [set()]  # one pass: the inferred premises apply without reading again
    assert [i.sha256 for i in result.inputs] == [sha(Path(path))]
    # a run too large to replay reads the file again, with the first pass's hash kept
    calls.clear()
    monkeypatch.setattr(analyze, "LOG_CALLS", 10)
    result = Analyzer(Options()).run([path])
    assert result.inventory.premises.inference.applied
    assert calls == [set(), {path}]  # hashed by the core in the first pass only
    assert [i.sha256 for i in result.inputs] == [sha(Path(path))]
