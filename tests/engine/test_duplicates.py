"""Copies of a frame that the capture made (a mirror port recording each packet twice) are
counted in the inputs and analysed once, by both engines; ``--keep-duplicates`` analyses
every frame."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader, PcapWriter

from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.engine import duplicates
from tests.baselines import COUNTRY, capture_path
from tests.conftest import realworld, requires_tshark
from tests.sources.test_live import NetnsPair, netns  # noqa: F401  (the fixture)

# a camera posting faces to a face API (a "confirmed" finding)
SCENARIO = "json_face_api"
# a public capture in which 717 of 1,641 frames are such copies (its camera-to-phone
# stream: each packet twice, about a millisecond apart)
DOUBLED = "cam_dlink_dcs8000lh_stream_shncp.pcap"
ENGINES = ["core", pytest.param("tshark", marks=requires_tshark), "jobs2"]


def _doubled(src: Path, dst: Path, gap: float) -> int:
    """``src`` with every frame written twice, the copy ``gap`` seconds after it."""
    n = 0
    with PcapReader(str(src)) as rd, PcapWriter(str(dst), linktype=rd.linktype) as wr:
        for pkt in rd:
            copy = pkt.copy()
            copy.time = pkt.time + gap
            wr.write(pkt)
            wr.write(copy)
            n += 1
    return n


def _tagged_copies(src: Path, dst: Path, gap: float) -> int:
    """``src`` (Ethernet) as a mirror port copies an access port and the trunk it is
    carried on: every frame twice, the copy ``gap`` seconds later with an 802.1Q tag and
    the frame check sequence. Returns how many frames hold an IP packet."""
    n = 0
    with PcapReader(str(src)) as rd, PcapWriter(str(dst), linktype=rd.linktype) as wr:
        assert rd.linktype == 1
        for pkt in rd:
            raw = bytes(pkt)
            copy = Ether(raw[:12] + b"\x81\x00\x00\x0a" + raw[12:] + b"\x5a\xc3\x0f\x96")
            copy.time = pkt.time + gap
            wr.write(pkt)
            wr.write(copy)
            n += IP in pkt or IPv6 in pkt
    return n


def _run(path: Path, tmp: Path, *extra: str) -> dict[str, Any]:
    out = tmp / f"{path.stem}-{len(list(tmp.iterdir()))}.json"
    args = ["analyze", str(path), "--country", COUNTRY, "--json", str(out), "-q", *extra]
    assert cli.main(args) == 0
    return json.loads(out.read_text())


def _volumes(rep: dict[str, Any]) -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
    return {
        (f["device"], f.get("ip"), f["transport"], f["port"]): (
            f["bytes_up"], f["bytes_down"], f["packets_up"], f["packets_down"],
        )
        for f in rep["flows"]
    }  # fmt: skip


def _findings(rep: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["kind"], f["level"], f["device"]) for f in rep["findings"]]


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    tmp = tmp_path_factory.mktemp("duplicates")
    plain = capture_path("scenarios", SCENARIO, tmp)
    doubled = tmp / "doubled.pcap"
    return plain, doubled, _doubled(plain, doubled, 0.00003)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_doubled_capture_is_analysed_as_the_capture(
    captures: tuple[Path, Path, int], tmp_path: Path, engine: str
) -> None:
    plain, doubled, n = captures
    extra = ["--jobs", "2"] if engine == "jobs2" else ["--engine", engine, "--jobs", "1"]
    want = _run(plain, tmp_path, *extra)
    got = _run(doubled, tmp_path, *extra)
    # every frame was read and counted in the input, each copy analysed once
    assert got["summary"]["packets"] == 2 * n == 2 * want["summary"]["packets"]
    assert got["inputs"][0]["packets"] == 2 * n
    assert got["summary"]["engine_counts"]["duplicate_frames"] == n
    assert want["summary"]["engine_counts"]["duplicate_frames"] == 0
    # the same volumes (what a device sent, and how much), the same findings
    assert _volumes(got) == _volumes(want)
    assert _findings(got) == _findings(want) and ("face-upload", "confirmed") in {
        f[:2] for f in _findings(got)
    }
    said = [w for w in got["warnings"] if "exact copies" in w]
    assert len(said) == 1 and said[0].startswith(f"{n:,} frames (")
    assert "within 10 ms" in said[0] and "--keep-duplicates" in said[0]
    assert not [w for w in want["warnings"] if "exact copies" in w]
    # --keep-duplicates: every frame analysed, every volume doubled
    kept = _run(doubled, tmp_path, *extra, "--keep-duplicates")
    assert kept["summary"]["engine_counts"]["duplicate_frames"] == 0
    assert not [w for w in kept["warnings"] if "exact copies" in w]
    doubled_volumes = {k: tuple(2 * x for x in v) for k, v in _volumes(want).items()}
    assert _volumes(kept) == doubled_volumes


@pytest.mark.parametrize("engine", ENGINES)
def test_a_copy_the_mirror_port_tagged_is_a_copy(
    captures: tuple[Path, Path, int], tmp_path: Path, engine: str
) -> None:
    """A mirror port copying an access port untagged and its trunk with an 802.1Q tag (and
    the frame check sequence) makes copies whose frames differ but whose IP packets do not:
    they are copies, analysed once (a frame without an IP packet is compared by its bytes:
    ``a_copy_under_another_link_header_is_a_copy_of_its_ip_packet`` in the core's tests)."""
    plain, _, n = captures
    tagged = tmp_path / "tagged.pcap"
    ip = _tagged_copies(plain, tagged, 0.00002)
    assert ip == n  # every frame of the scenario holds an IP packet
    extra = ["--jobs", "2"] if engine == "jobs2" else ["--engine", engine, "--jobs", "1"]
    want = _run(plain, tmp_path, *extra)
    got = _run(tagged, tmp_path, *extra)
    assert got["summary"]["packets"] == 2 * n
    assert got["summary"]["engine_counts"]["duplicate_frames"] == ip
    assert _volumes(got) == _volumes(want)
    assert _findings(got) == _findings(want) and ("face-upload", "confirmed") in {
        f[:2] for f in _findings(got)
    }
    said = [w for w in got["warnings"] if "exact copies" in w]
    assert len(said) == 1 and said[0].startswith(f"{ip:,} frames (")
    assert "whatever the link header" in said[0]
    # --keep-duplicates: every frame analysed, each copy 8 bytes longer (tag and check)
    kept = _run(tagged, tmp_path, *extra, "--keep-duplicates")
    assert _volumes(kept) == {
        k: (2 * bu + 8 * pu, 2 * bd + 8 * pd, 2 * pu, 2 * pd)
        for k, (bu, bd, pu, pd) in _volumes(want).items()
    }


def test_an_802_11_retry_is_a_copy() -> None:
    """In a public Wi-Fi capture, an 802.11 retry (the retry flag set: a frame of other
    bytes holding the same IP packet) 4 ms after the first try is a copy; the retry of
    another packet 64 ms after its first try is a packet."""
    an = Analyzer(Options(country=COUNTRY))
    result = an.run([str(realworld("wifi_radiotap_http_arkime.pcap"))])
    assert result.repeats["duplicate_frames"] == 1
    said = [w for w in result.warnings if "exact cop" in w]
    assert said == [w for w in said if w.startswith("1 frame (124 bytes) was an exact copy ")]
    assert len(said) == 1
    kept = Analyzer(Options(country=COUNTRY, keep_duplicates=True))
    assert (
        kept.run([str(realworld("wifi_radiotap_http_arkime.pcap"))]).repeats["duplicate_frames"]
        == 0
    )


def test_a_repeat_later_than_the_window_is_a_packet(
    captures: tuple[Path, Path, int], tmp_path: Path
) -> None:
    """The same bytes sent again later (a device's own repeat) are not a copy."""
    plain, _, n = captures
    later = tmp_path / "later.pcap"
    _doubled(plain, later, duplicates.WINDOW * 1.5)
    rep = _run(later, tmp_path)
    assert rep["summary"]["engine_counts"]["duplicate_frames"] == 0
    assert rep["summary"]["packets"] == 2 * n


def test_the_copies_are_those_editcap_finds(tmp_path: Path) -> None:
    """On a public capture made with each packet twice, the frames set aside are the ones
    Wireshark's ``editcap -d`` removes (the same bytes within the 4 frames before), and the
    analysis is that of editcap's output, every frame of it analysed."""
    src = realworld(DOUBLED)
    deduped = tmp_path / "editcap.pcap"
    run = subprocess.run(["editcap", "-d", str(src), str(deduped)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    said = run.stdout + run.stderr  # "1641 packets seen, 717 packets skipped with ..."
    skipped = int(said.split(" packets skipped")[0].split()[-1])
    assert skipped == 717
    got = _run(src, tmp_path)
    want = _run(deduped, tmp_path, "--keep-duplicates")
    assert got["summary"]["engine_counts"]["duplicate_frames"] == skipped
    assert _volumes(got) == _volumes(want)
    # the camera's stream to the phone: 686 datagrams, not the 1,372 the file holds
    stream = [v for k, v in _volumes(got).items() if k[0] == "b0:c5:54:10:88:39" and k[3] == 42473]
    assert stream == [(638_295, 729, 686, 8)]


def test_live_records_are_told_apart_too() -> None:
    """Records handed over (a live capture's) go through the same rule."""
    with PcapReader(str(realworld(DOUBLED))) as rd:
        records = [
            (0, i + 1, float(p.time), rd.linktype, bytes(p), p.wirelen or len(p))
            for i, p in enumerate(rd)
        ]
    an = Analyzer(Options(country=COUNTRY))
    *_, last = an.run_incremental(records=records, source="live", batch=300)
    result = last.result()
    assert result.repeats["duplicate_frames"] == 717
    assert any(w.startswith("717 frames") for w in result.warnings)
    kept = Analyzer(Options(country=COUNTRY, keep_duplicates=True))
    *_, last = kept.run_incremental(records=records, source="live", batch=300)
    assert last.result().repeats["duplicate_frames"] == 0


def test_a_copy_in_the_next_ring_file_is_a_copy() -> None:
    """A live capture's ring files are one capture: a copy that the capture wrote to the
    next ring file than its original (the rotation fell between them) is still a copy."""
    with PcapReader(str(realworld(DOUBLED))) as rd:
        frames = [(float(p.time), rd.linktype, bytes(p), p.wirelen or len(p)) for p in rd]
    # a rotation between each copy and its original: after frame k (k = 0, 1, ...)
    cuts = [k for k in range(1, len(frames)) if frames[k][2] == frames[k - 1][2]][::50]
    assert len(cuts) >= 5
    records, file, frame = [], 0, 0
    for i, rec in enumerate(frames):
        if i in cuts:
            file, frame = file + 1, 0
        frame += 1
        records.append((file, frame, *rec))
    an = Analyzer(Options(country=COUNTRY))
    *_, last = an.run_incremental(records=records, source="live", batch=300)
    assert last.result().repeats["duplicate_frames"] == 717


@pytest.mark.live
def test_a_live_capture_of_a_doubling_link(
    netns: NetnsPair,  # noqa: F811
    captures: tuple[Path, Path, int],
    tmp_path: Path,
) -> None:
    """``netscan capture`` on a link where every packet comes twice (the doubled scenario
    replayed into a network namespace): each copy is counted and analysed once, and the
    face upload found as from the capture itself."""
    _, doubled, n = captures
    out = tmp_path / "live.json"
    netns.capture_cli(["--evidence", str(tmp_path / "evidence"), "--json", str(out),
                       "--country", COUNTRY, "-q"], doubled, 20, 2.0)  # fmt: skip
    rep = json.loads(out.read_text())
    # the link may carry a few frames of its own (IPv6 neighbour discovery): at least
    # every frame replayed was captured, and every copy told apart
    assert rep["summary"]["packets"] >= 2 * n
    assert rep["summary"]["engine_counts"]["duplicate_frames"] == n
    assert ("face-upload", "confirmed") in {f[:2] for f in _findings(rep)}
