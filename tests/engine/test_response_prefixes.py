"""The HTTP responses the engines keep are the pack's: the paths of its face-library
protocols whose records answer a device's poll (``library.direction: response``). A path a
pack adds (not one the bundled pack names) is honoured by the core, the Python reference
parser and the tshark engine alike, and reaches the analysis; a pack that names none keeps
none; the pack's validation holds the paths within what the engines take."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netscan import _core
from netscan.analyze import Analyzer, Options
from netscan.dissectors import http
from netscan.engine.core import CoreEngine
from netscan.events import HttpBodyEvent
from netscan.report.json_report import build
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import load_pack, validate_pack
from netscan.sources.pcapfile import CaptureFile
from tests.analysis.scenarios.build import ADMS_SERVER, ZK_TERMINAL, Capture, tcp_exchange
from tests.engine.test_engines import Recorder
from tests.signatures.helpers import BUNDLED

POLL = "/acme/sync/poll"  # a path no signature of the bundled pack names
COMMANDS = b"C:7:DATA UPDATE USERINFO PIN=31\tName=Ann\nC:8:DATA UPDATE USERINFO PIN=32\tName=Bob\n"


def _signature(paths: str, direction: str = "response") -> str:
    entries = "".join(f"        {line}\n" for line in paths.splitlines())
    return (
        "signatures:\n"
        "  - id: protocol.acme-sync-poll\n"
        "    name: Acme terminal sync poll (records in the answers)\n"
        "    category: protocol\n"
        "    vendor: Acme\n"
        "    jurisdiction: ZZ\n"
        "    role: access-control\n"
        "    match:\n"
        "      http_path_prefix:\n" + entries + "    confidence: 0.9\n"
        "    library:\n"
        "      protocol: acme-sync\n"
        f"      direction: {direction}\n"
        "      format: line-commands\n"
        '      command_prefix: "C:"\n'
        "      command_verbs: [DATA UPDATE]\n"
        "      record_ids: [PIN]\n"
        "      record_tables: [USERINFO]\n"
        "    sources:\n"
        "      - doc:Acme terminal synchronisation protocol, command answers to the poll\n"
        "    examples:\n"
        f'      - {{http_path_prefix: "{POLL}?sn=1"}}\n'
    )


def _pack(tmp_path: Path, paths: str = "- /ACME/Sync/Poll", direction: str = "response") -> Path:
    """The bundled pack plus one face-library protocol whose records answer a poll."""
    pack = tmp_path / "pack"
    shutil.copytree(BUNDLED, pack)
    (pack / "protocol" / "acme.yaml").write_text(_signature(paths, direction), encoding="utf-8")
    return pack


def _capture(path: Path) -> Path:
    cap = Capture(31)
    req = (f"GET {POLL}?sn=AC1 HTTP/1.1\r\nHost: {ADMS_SERVER}:8081\r\n"
           "Connection: close\r\n\r\n").encode()  # fmt: skip
    resp = (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(COMMANDS)}\r\n"
            "Connection: close\r\n\r\n").encode() + COMMANDS  # fmt: skip
    tcp_exchange(cap, 1.0, ZK_TERMINAL, ADMS_SERVER, 8081, req, resp)
    return cap.write(path)


def _sink(pack: Path) -> Recorder:
    sink = Recorder()
    sink.matcher = Matcher(load_pack(pack))  # type: ignore[attr-defined]
    return sink


def _kept(sink: Recorder) -> list[tuple[str, str, bytes]]:
    return [(e.method, e.path, e.body) for e in sink.of(HttpBodyEvent)]


def _core_run(pack: Path, path: Path) -> Recorder:
    sink = _sink(pack)
    engine = CoreEngine(sink)  # type: ignore[arg-type]
    engine.open([str(path)])
    engine.run_files()
    engine.finish()
    return sink


def _reference(pack: Path, path: Path) -> Recorder:
    from tests.reference.native import Engine

    sink = _sink(pack)
    engine = Engine(sink)  # type: ignore[arg-type]
    capture = CaptureFile(path)
    engine.run(capture.records())
    engine.finish()
    capture.close()
    return sink


def test_the_bundled_pack_names_the_zkteco_poll() -> None:
    assert load_pack(BUNDLED).response_prefixes == ("/iclock/getrequest",)


def test_a_poll_the_pack_adds_is_kept_by_every_engine(tmp_path: Path) -> None:
    from netscan.engine.tshark import TsharkEngine

    pack = _pack(tmp_path)
    assert POLL in load_pack(pack).response_prefixes  # lower-cased once, by the pack
    path = _capture(tmp_path / "poll.pcap")
    want = [("RESPONSE", f"{POLL}?sn=AC1", COMMANDS)]
    assert _kept(_core_run(pack, path)) == want
    assert _kept(_reference(pack, path)) == want
    sink = _sink(pack)
    TsharkEngine(sink).run_files([str(path)])
    assert _kept(sink) == want
    # the bundled pack does not name the path: no engine keeps the answer
    assert _kept(_core_run(BUNDLED, path)) == [] and _kept(_reference(BUNDLED, path)) == []
    bundled = _sink(BUNDLED)
    TsharkEngine(bundled).run_files([str(path)])
    assert _kept(bundled) == []


def test_the_stream_parsers_take_the_prefixes_given() -> None:
    from netscan.events import Ctx

    calls = [(f"GET {POLL}/x HTTP/1.1\r\n\r\n".encode(), True),
             (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False)]  # fmt: skip
    for prefixes, kept in (((), 0), (("/ACME/sync",), 1), (("/other",), 0)):
        for parser in (http.HttpStream(response_prefixes=prefixes),
                       _core.HttpStream(response_prefixes=list(prefixes))):  # fmt: skip
            events = [
                e for data, client in calls for e in parser.feed(data, Ctx(0, 1, 0.0), client)
            ]
            assert sum(isinstance(e, HttpBodyEvent) for e in events) == kept


def test_the_analysis_reads_the_records_of_the_packs_poll(tmp_path: Path) -> None:
    """``netscan analyze`` hands the pack's paths to the core: the records in the answer reach
    the face-library analysis, which the bundled pack cannot give."""
    path = _capture(tmp_path / "poll.pcap")
    for pack, records in ((_pack(tmp_path), 2), (BUNDLED, None)):
        report = build(Analyzer(Options(signatures=str(pack))).run([str(path)]))
        libs = [f["library"] for f in report["findings"] if f.get("library")]
        assert [lib.get("records") for lib in libs] == ([records] if records else [])


def test_core_and_parser_refuse_what_is_out_of_bounds() -> None:
    too_many = [f"/p{i}" for i in range(http.MAX_RESPONSE_PREFIXES + 1)]
    too_long = ["/" + "a" * http.MAX_RESPONSE_PREFIX_LEN]
    for bad in (too_many, too_long, [""], ["/a b"], ["/caf\u00e9"]):
        with pytest.raises(ValueError):
            http.checked_response_prefixes(bad)
        with pytest.raises(ValueError):
            _core.HttpStream(response_prefixes=bad)
        with pytest.raises(ValueError):
            _core.Core([], [], [], response_prefixes=bad)
    assert http.checked_response_prefixes(["/A", "/a"]) == ("/a",)


@pytest.mark.parametrize(
    ("paths", "why"),
    [
        ('- {regex: "^/acme/"}', "must be a plain path prefix"),
        ('- "/acme/caf\u00e9"', "printable ASCII"),
        ('- "/' + "a" * 300 + '"', "1 to 256 characters"),
    ],
)
def test_validation_holds_the_paths_within_bounds(tmp_path: Path, paths: str, why: str) -> None:
    errors = validate_pack(_pack(tmp_path, paths))
    assert any("direction response" in e and why in e for e in errors), errors


def test_validation_caps_the_number_of_kept_paths(tmp_path: Path) -> None:
    paths = "\n".join(f"- /acme/p{i}" for i in range(http.MAX_RESPONSE_PREFIXES))
    errors = validate_pack(_pack(tmp_path, paths))
    assert any(f"at most {http.MAX_RESPONSE_PREFIXES} are kept" in e for e in errors), errors
    # requests to the device keep no response: their paths are not counted
    assert validate_pack(_pack(tmp_path / "req", paths, direction="request")) == []


def test_a_cached_pack_keeps_the_same_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netscan.signatures import pack as pack_mod

    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(tmp_path / "cache"))
    pack = _pack(tmp_path)
    parsed = load_pack(pack)
    monkeypatch.setattr(pack_mod, "_collect", None)  # a second load must come from the cache
    assert load_pack(pack).response_prefixes == parsed.response_prefixes
    assert POLL in parsed.response_prefixes
