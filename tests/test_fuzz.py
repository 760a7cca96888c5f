"""The mutation fuzz, kept small for CI (the long run is ``scripts/fuzz.py``).

Generated and public captures are mutated at the packet level (bit flips, cuts, inserted
bytes, length fields that lie in IP/UDP/TCP headers and in DNS, DHCP, TLS, HTTP and SSDP
payloads, container lies) with a fixed seed, and run through the Analyzer and through the
real command line: every mutant ends in a schema-valid report or a one-line refusal with
exit 2, never a traceback. ``NETSCAN_FUZZ_ENGINE`` picks the engine (default core), so
the same mutants run against every engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_script

ENGINE = os.environ.get("NETSCAN_FUZZ_ENGINE", "core")
CI_SEED = 20260
ANALYZER_MUTANTS = 40
CLI_MUTANTS = 4


fuzz = load_script("fuzz")


@pytest.fixture(scope="module")
def seeds() -> list:
    found = fuzz.load_seeds()
    names = {s.name for s in found}
    assert "generated" in names and "demo_sales_office.pcapng" in names
    return found


def _crash_report(summary) -> str:
    lines = []
    for m, o, cap in summary.crashes:
        lines.append(f"mutant {m.index} from {m.source}: {o.what} (reproducer {cap})")
        lines.append("  " + "; ".join(m.notes))
        lines.append(o.detail[-1500:])
    return "\n".join(lines)


def test_mutants_are_deterministic_and_varied(seeds: list) -> None:
    a = [fuzz.make_mutant(seeds, CI_SEED, i) for i in range(30)]
    b = [fuzz.make_mutant(seeds, CI_SEED, i) for i in range(30)]
    assert [m.data for m in a] == [m.data for m in b]
    assert len({m.data for m in a}) == 30
    assert fuzz.make_mutant(seeds, CI_SEED + 1, 0).data != a[0].data


def test_mutators_reach_every_protocol(seeds: list) -> None:
    """The mutants really lie inside DNS, DHCP, TLS and HTTP/SSDP payloads, in IP and
    transport headers and in the container: the fuzz is not just random bytes."""
    notes = " | ".join(n for i in range(400) for n in fuzz.make_mutant(seeds, CI_SEED, i).notes)
    for words in ("dns counts", "dns pointer", "dns label", "dhcp length", "dhcp no-end",
                  "dhcp hostile-hostname", "tls record length", "tls sni length",
                  "text content-length", "text chunked", "text hostile-body", "hostile upload",
                  "ipv4 total_length",
                  "udp length lie", "tcp data offset lie", "truncate at", "insert",
                  "pcap record", "pcapng block", "file header"):  # fmt: skip
        assert words in notes, words


def test_packet_anatomy_of_a_generated_capture(seeds: list) -> None:
    gen = next(s for s in seeds if s.name == "generated")
    kinds = [fuzz._kind(fuzz.locate(lt, d), d) for _, lt, d in gen.records]
    assert {"dns", "dhcp", "tls", "text"} <= set(kinds)


def test_fuzz_through_the_analyzer(seeds: list, tmp_path: Path) -> None:
    summary = fuzz.fuzz(ANALYZER_MUTANTS, CI_SEED, mode="analyzer", engine=ENGINE,
                        outdir=tmp_path / "crashes", seeds=seeds, timeout=120)  # fmt: skip
    assert not summary.crashes, _crash_report(summary)
    assert summary.runs == ANALYZER_MUTANTS and summary.reports >= ANALYZER_MUTANTS // 2


def test_hostile_uploads_through_the_analyzer(seeds: list, tmp_path: Path) -> None:
    """Every hostile body shape, posted whole to every upload route: nested brackets,
    runs of picture signatures, an ISAPI tag on blanks (the analysis once crashed or took
    minutes on these); each mutant ends in a report within the harness's timeout."""
    picked: dict[str, int] = {}
    for i in range(5000):
        for note in fuzz.make_mutant(seeds, CI_SEED, i).notes:
            if note.startswith("hostile upload"):
                picked.setdefault(note.split(" to ")[0], i)  # one per body shape
        if len(picked) == len(fuzz.HOSTILE_BODIES):
            break
    assert len(picked) == len(fuzz.HOSTILE_BODIES)
    for i in picked.values():
        summary = fuzz.fuzz(1, CI_SEED, mode="analyzer", engine=ENGINE, only=i, seeds=seeds,
                            outdir=tmp_path / "crashes", timeout=60)  # fmt: skip
        assert not summary.crashes, _crash_report(summary)


def _indices(seeds: list, n: int) -> Iterator[int]:
    """The first mutants of the CI seed, one of them a damaged file header (exit 2)."""
    damaged = next(i for i in range(1000)
                   if any("file header" in x for x in fuzz.make_mutant(seeds, CI_SEED, i).notes))  # fmt: skip
    yield damaged
    yield from (i for i in range(n - 1) if i != damaged)


def test_fuzz_through_the_cli(seeds: list, tmp_path: Path) -> None:
    """The real command line, terminal summary included: exit 0 with JSON, HTML and
    Markdown reports written (the JSON schema-valid), or exit 2 with one error line and
    no report; no traceback."""
    refused = reports = 0
    for i in _indices(seeds, CLI_MUTANTS):
        summary = fuzz.fuzz(1, CI_SEED, mode="cli", engine=ENGINE, only=i, seeds=seeds,
                            outdir=tmp_path / "crashes", timeout=300,
                            summary_output=True)  # fmt: skip
        assert not summary.crashes, _crash_report(summary)
        refused += summary.refused
        reports += summary.reports
    assert refused >= 1 and reports >= 1


def test_a_crash_leaves_a_reproducer(seeds: list, tmp_path: Path) -> None:
    """The harness itself: an analysis that raises is reported with the mutant kept and
    a line that rebuilds it."""

    class Exploding:
        def run(self, paths: list[str]) -> None:
            raise RuntimeError("boom")

    out = tmp_path / "crashes"
    m = fuzz.make_mutant(seeds, CI_SEED, 3)
    o = fuzz.run_analyzer(tmp_path / "none.pcap", ENGINE, 30, Exploding())
    assert not o.ok and "RuntimeError: boom" in o.detail
    cap = fuzz.save_reproducer(out, m, o, ENGINE)
    assert cap.read_bytes() == m.data
    text = cap.with_suffix(".txt").read_text()
    assert f"--seed {CI_SEED} --only 3" in text and "RuntimeError: boom" in text
    assert f"python -m netscan analyze {cap}" in text


def test_jobs_two_gives_one_jobs_report_on_mutants(
    seeds: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Differential: every mutant analysed with ``--jobs 2`` (the core ahead in its own
    thread, of the core engine whichever engine the fuzz runs) gives the JSON report one job
    gives, with batches of 7 records so that the small
    seed captures cross many batches and parser stops are handed back between them."""
    from netscan.engine import core as core_engine

    monkeypatch.setattr(core_engine, "BATCH", 7)
    summary = fuzz.fuzz(ANALYZER_MUTANTS, CI_SEED + 2, mode="analyzer", engine="core",
                        outdir=tmp_path / "crashes", seeds=seeds, timeout=120,
                        compare_jobs=2)  # fmt: skip
    assert not summary.crashes, _crash_report(summary)
    assert summary.runs == ANALYZER_MUTANTS and summary.reports >= ANALYZER_MUTANTS // 2


def test_a_difference_between_jobs_is_a_crash() -> None:
    """The harness itself: a ``--jobs`` report that differs from one job's in anything but
    the time it was made fails the mutant and says where."""
    from netscan.analyze import Analyzer, Options

    path = ROOT / "pcaps" / "demo_sales_office.pcapng"

    class Differs:
        def run(self, paths: list[str]) -> object:
            result = Analyzer(Options(engine="core")).run(paths)
            result.warnings.append("a warning one job did not give")
            return result

    o = fuzz.run_analyzer(path, "core", 60, None, Differs())
    assert not o.ok and "differs" in o.what and "warnings" in o.what
    same = fuzz.run_analyzer(path, "core", 60, None, Analyzer(Options(engine="core", jobs=2)))
    assert same.ok, same.what
