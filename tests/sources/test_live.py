"""Live capture: the pcapng follower, the evidence ring and its manifest, and the whole
``netscan capture`` command against ``netscan analyze`` on the same packets.

The live tests create a pair of network namespaces joined by a veth link, replay a capture
into one end and capture on the other; traffic never leaves the namespaces. They skip only
where namespaces cannot be created (not root, no ``ip``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netscan.sources.interfaces import list_interfaces, parse_dumpcap_list
from netscan.sources.live import (
    MANIFEST,
    LiveCapture,
    PcapngFollower,
    ring_sequence,
)
from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS, ROOT
from tests.engine.tunnels import mirrored

DEMO = PCAPS / "demo_sales_office.pcapng"


# -- helpers ---------------------------------------------------------------------------------


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def _epb(ticks: int, data: bytes) -> bytes:
    head = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data) + 2)
    return _block(6, head + data)


def padded_copy(src: Path, dst: Path) -> int:
    """``src`` as a classic pcap whose records are complete (cut packets padded with zeros to
    their wire length), so replaying it sends exactly the packets that were analysed."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    n = 0
    for rec in CaptureFile(src):
        data = bytes(rec.data) + b"\0" * max(0, rec.wirelen - len(rec.data))
        us = round(rec.ts * 1e6)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)))
        out.append(data)
        n += 1
    dst.write_bytes(b"".join(out))
    return n


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- no namespaces needed ----------------------------------------------------------------------


def test_follower_reads_a_growing_file_block_by_block(tmp_path: Path) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 9, 1) + b"\x09\0\0\0")
    packets = [_epb(1_700_000_000_000_000_000 + i * 1000, bytes([i]) * (60 + i)) for i in range(5)]
    isb = _block(5, struct.pack("<III", 0, 0, 0) + struct.pack("<HHQ", 5, 8, 7)
                 + struct.pack("<HHQ", 7, 8, 3) + struct.pack("<HH", 0, 0))  # fmt: skip
    blob = shb + idb + b"".join(packets) + isb
    path = tmp_path / "growing.pcapng"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        follower = PcapngFollower(fd, index=3)
        got: list[Any] = []
        with path.open("ab") as fh:
            for i in range(0, len(blob), 7):  # arrive in odd-sized pieces
                fh.write(blob[i : i + 7])
                fh.flush()
                got += follower.poll()
        got += follower.poll()
    finally:
        os.close(fd)
    assert [r[1] for r in got] == [1, 2, 3, 4, 5]
    assert all(r[0] == 3 and r[3] == 1 for r in got)
    assert [len(r[4]) for r in got] == [60, 61, 62, 63, 64]
    assert [r[5] for r in got] == [62, 63, 64, 65, 66]
    assert got[0][2] == pytest.approx(1_700_000_000.0)
    assert follower.leftover() == 0 and follower.error is None
    assert follower.isb_drops == {0: {"ifdrop": 7, "osdrop": 3}}


def test_ring_names_and_interface_lists(tmp_path: Path) -> None:
    assert ring_sequence("capture_00012_20260302090000.pcapng") == 12
    assert ring_sequence("capture.pcapng") is None
    assert ring_sequence("other_00012_20260302090000.pcapng") is None
    text = "1. eth0\n2. any\n3. lo (Loopback)\n"
    assert parse_dumpcap_list(text) == [("eth0", ""), ("any", ""), ("lo", "Loopback")]
    sysnet = tmp_path / "net"
    (sysnet / "eth9").mkdir(parents=True)
    (sysnet / "eth9" / "address").write_text("02:00:00:00:00:09\n")
    (sysnet / "eth9" / "operstate").write_text("up\n")
    found = list_interfaces(use_dumpcap=False, sys_net=sysnet)
    assert [(i.name, i.mac, i.state, i.kind) for i in found] == [
        ("eth9", "02:00:00:00:00:09", "up", "virtual")
    ]


def test_dumpcap_drop_summary_is_parsed(tmp_path: Path) -> None:
    cap = LiveCapture("lo", evidence_dir=tmp_path, backend="auto")
    cap._stderr_line("Packets: 120 ")
    assert cap.packets_captured == 120
    cap._stderr_line(
        "Packets received/dropped on interface 'eth0': 1000/12 "
        "(pcap:10/dumpcap:0/flushed:0/ps_ifdrop:2) (98.8%)"
    )
    assert (cap.drops.received, cap.drops.kernel, cap.drops.interface) == (1000, 10, 2)
    assert cap.drops.total == 12


# -- network namespaces --------------------------------------------------------------------------


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


class NetnsPair:
    """Two namespaces, ``a`` (sender) and ``b`` (capture), joined by a veth link."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns_a, self.ns_b = f"ns-a-{tag}", f"ns-b-{tag}"
        self.if_a, self.if_b = f"vna{tag}", f"vnb{tag}"
        self.created: list[str] = []

    def create(self) -> None:
        for ns in (self.ns_a, self.ns_b):
            _run("ip", "netns", "add", ns)
            self.created.append(ns)
            # no IPv6 chatter (router solicitations, MLD) on the link
            for key in ("all", "default"):
                _run("ip", "netns", "exec", ns, "sysctl", "-qw",
                     f"net.ipv6.conf.{key}.disable_ipv6=1")  # fmt: skip
        # created inside ns-a: the peer goes straight to ns-b, nothing in the host namespace
        _run("ip", "-n", self.ns_a, "link", "add", self.if_a, "mtu", "9000", "type", "veth",
             "peer", "name", self.if_b, "netns", self.ns_b)  # fmt: skip
        _run("ip", "-n", self.ns_b, "link", "set", self.if_b, "mtu", "9000")
        for ns, ifname, addr in ((self.ns_a, self.if_a, "198.51.100.1/30"),
                                 (self.ns_b, self.if_b, "198.51.100.2/30")):  # fmt: skip
            _run("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
            _run("ip", "-n", ns, "link", "set", ifname, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")

    def destroy(self) -> None:
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)

    def capture_cli(
        self, args: list[str], capture: Path, mbps: float | None, settle: float,
        loops: int = 1, paused: bool = False,
    ) -> tuple[str, str]:  # fmt: skip
        """``netscan capture -i <b> ARGS`` in ns-b while ``capture`` is replayed into the
        link (``loops`` times), then Ctrl-C once ``settle`` seconds passed: its stdout and
        stderr (exit 0). ``paused``: dumpcap is stopped (SIGSTOP) while the replay runs and
        continued after it, so that what overflows the kernel's buffer is dropped."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_b, sys.executable, "-m", "netscan", "capture",
             "-i", self.if_b, *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: list[str] = []
        ready = threading.Event()

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line)
                if "capturing on" in line:
                    ready.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            assert ready.wait(60), f"capture did not start: {''.join(lines)}"
            writers = subprocess.run(["pgrep", "-x", "-P", str(proc.pid), "dumpcap"],
                                     capture_output=True, text=True).stdout.split() if paused else []  # fmt: skip
            assert writers or not paused, "no dumpcap to pause"
            for pid in writers:
                os.kill(int(pid), signal.SIGSTOP)
            try:
                self.replay(capture, mbps, loops)
            finally:
                for pid in writers:
                    os.kill(int(pid), signal.SIGCONT)
            time.sleep(settle)
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stop cleanly, keep everything
            stdout = proc.stdout.read() if proc.stdout is not None else ""
            assert proc.wait(60) == 0, "".join(lines)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(10)
        return stdout, "".join(lines)

    def replay(self, capture: Path, mbps: float | None = None, loops: int = 1) -> None:
        """Send ``capture`` (``loops`` times) into the link from ns-a (tcpreplay, or scapy
        without it)."""
        if shutil.which("tcpreplay"):
            speed = [f"--mbps={mbps}"] if mbps else ["--topspeed"]
            _run("ip", "netns", "exec", self.ns_a, "tcpreplay", "-q", "-i", self.if_a, *speed,
                 f"--loop={loops}", str(capture))  # fmt: skip
            return
        code = ("import sys; from scapy.all import rdpcap, sendp; "
                "sendp(rdpcap(sys.argv[1]) * int(sys.argv[3]), iface=sys.argv[2], verbose=False)")  # fmt: skip
        _run("ip", "netns", "exec", self.ns_a, sys.executable, "-c", code, str(capture),
             self.if_a, str(loops))  # fmt: skip


@pytest.fixture
def netns() -> Iterator[NetnsPair]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed")
    pair = NetnsPair()
    try:
        try:
            pair.create()
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot create network namespaces: {exc.stderr.decode().strip()}")
        yield pair
    finally:
        pair.destroy()


@pytest.fixture(scope="module")
def replayable(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("live") / "demo_padded.pcap"
    return path, padded_copy(DEMO, path)


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the packets were obtained: devices, names (DNS, SNI),
    flows with byte and packet counts, findings."""
    return {
        "packets": report["summary"]["packets"],
        "devices": sorted(
            (
                d["key"],
                d["ips"],
                d["hostnames"],
                d["vendor"],
                d["model"],
                d["role"],
                d["signatures"],
                sorted(d["services"]),
            )
            for d in report["devices"]
        ),  # fmt: skip
        "endpoints": sorted(
            (e["ip"], e["names"], e["provider"], e["category"], e["signatures"])
            for e in report["endpoints"]
        ),
        "flows": sorted(
            (
                f["device"],
                f["ip"],
                f["transport"],
                f["port"],
                f["bytes_up"],
                f["bytes_down"],
                f["packets_up"],
                f["packets_down"],
                f["protocols"],
                f["flows"],
            )
            for f in report["flows"]
        ),  # fmt: skip
        "findings": sorted(
            (f["device"], f["destination"].get("ip"), f["level"], f["kind"])
            for f in report["findings"]
        ),
    }


def _netscan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netscan", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)  # fmt: skip


def _check_manifest(evidence: Path, files: list[str]) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in (evidence / MANIFEST).read_text().splitlines()]
    assert entries[0]["event"] == "start" and entries[-1]["event"] == "stop"
    hashed = {e["file"]: e for e in entries if e["event"] == "file"}
    assert sorted(hashed) == sorted(Path(f).name for f in files)
    for name, entry in hashed.items():
        assert entry["sha256"] == sha256(evidence / name)
        assert entry["packets"] == sum(1 for _ in CaptureFile(evidence / name))
    return entries


def _capture_cli(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int], backend: str,
    mbps: float | None,
) -> dict[str, Any]:  # fmt: skip
    capture, _n = replayable
    evidence = tmp_path / "evidence"
    out = tmp_path / "live.json"
    netns.capture_cli(["--evidence", str(evidence), "--json", str(out), "-q",
                       "--backend", backend], capture, mbps, 1.0)  # fmt: skip
    report = json.loads(out.read_text())
    _check_manifest(evidence, [i["path"] for i in report["inputs"]])
    _check_private(evidence)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return report


def _check_private(evidence: Path) -> None:
    """Whatever the backend: the evidence directory 0700, every file in it 0600."""
    assert stat.S_IMODE(evidence.stat().st_mode) == 0o700
    names = os.listdir(evidence)
    assert MANIFEST in names and any(n.endswith(".pcapng") for n in names)
    for name in names:
        st = os.lstat(evidence / name)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, name


@pytest.mark.live
@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed")
def test_capture_command_equals_analyze(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int]
) -> None:
    capture, n = replayable
    live = _capture_cli(netns, tmp_path, replayable, "dumpcap", 100)
    ran = _netscan("analyze", str(capture), "--json", str(tmp_path / "file.json"), "-q")
    assert ran.returncode == 0, ran.stderr
    offline = json.loads((tmp_path / "file.json").read_text())
    assert live["engine"] == "live"
    assert live["capture"]["packets_analysed"] == n
    assert live["capture"]["drops"]["kernel"] == 0
    assert all(len(i["sha256"]) == 64 for i in live["inputs"])
    assert _comparable(live) == _comparable(offline)
    assert offline["findings"], "the demo capture should give findings to compare"


@pytest.mark.live
def test_a_remote_mirror_captured_live_equals_the_premises_capture(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int]
) -> None:
    """The demo sent through the link as a remote mirror delivers it (each frame in ERSPAN,
    GRE bridging, VXLAN or GENEVE) and captured live gives the report of the demo itself."""
    capture, n = replayable
    wrapped = tmp_path / "mirrored.pcap"
    counts = mirrored(capture, wrapped)
    live = _capture_cli(netns, tmp_path, (wrapped, n), "dumpcap", 100)
    ran = _netscan("analyze", str(capture), "--json", str(tmp_path / "file.json"), "-q")
    assert ran.returncode == 0, ran.stderr
    offline = json.loads((tmp_path / "file.json").read_text())
    assert live["capture"]["packets_analysed"] == n
    assert live["summary"]["tunnels"] == counts
    assert _comparable(live) == _comparable(offline)
    assert offline["findings"]


@pytest.mark.live
@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed")
def test_packets_the_capture_lost_reach_the_verdict(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int]
) -> None:
    """dumpcap held still while about 50 MB are sent: the kernel's buffer overflows, and
    what it dropped is in the report's ``capture.drops`` and said by the verdict on the
    terminal (dumpcap's ring files carry no statistics blocks to say it)."""
    capture, n = replayable
    out = tmp_path / "live.json"
    text, err = netns.capture_cli(["--evidence", str(tmp_path / "evidence"), "--json", str(out),
                                   "--lang", "en"], capture, None, 1.0, loops=20, paused=True)  # fmt: skip
    drops = json.loads(out.read_text())["capture"]["drops"]
    lost = drops["kernel"] + drops["interface"] + drops["dumpcap"] + drops["flushed"]
    assert drops["kernel"] > 0 and drops["received"] + lost >= 20 * n, (drops, err)
    assert f"dropped by the capture: {lost}" in err
    said = f"The live capture lost {lost:,} packets before they reached its files"
    assert said in text, text


@pytest.mark.live
def test_scapy_backend_equals_analyze(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int]
) -> None:
    capture, n = replayable
    live = _capture_cli(netns, tmp_path, replayable, "scapy", 20)
    ran = _netscan("analyze", str(capture), "--json", str(tmp_path / "file.json"), "-q")
    offline = json.loads((tmp_path / "file.json").read_text())
    assert live["capture"]["backend"] == "scapy"
    assert live["capture"]["drops"]["kernel"] == 0
    assert live["capture"]["packets_analysed"] == n, ran.stderr
    assert _comparable(live) == _comparable(offline)


@pytest.mark.live
@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed")
def test_ring_files_frames_hashes_and_backlog(
    netns: NetnsPair, tmp_path: Path, replayable: tuple[Path, int]
) -> None:
    capture, n = replayable
    evidence = tmp_path / "ring"
    cap = LiveCapture(netns.if_b, evidence_dir=evidence, ring_size_mb=0.5, netns=netns.ns_b)
    cap.start()
    try:
        sender = threading.Thread(target=lambda: (netns.replay(capture, 100), time.sleep(1.0),
                                                  cap.stop()))  # fmt: skip
        sender.start()
        got: list[tuple[int, Any]] = []
        statuses = []
        for item in cap.records(tick=lambda: statuses.append(cap.status()), tick_interval=0.2):
            got.append(item)
            if len(got) == 10:
                time.sleep(0.5)  # fall behind on purpose: the backlog must be reported
                statuses.append(cap.status())
        sender.join()
    finally:
        cap.close()
    final = cap.status()
    assert len(got) + final.drops.total == n  # a loss is always reported
    assert len(got) == n
    assert max(s.pending_bytes for s in statuses) > 0
    assert max(s.pending_packets or 0 for s in statuses) > 0
    assert max(s.pending_packets_est or 0 for s in statuses) > 0
    assert (final.pending_bytes, final.pending_packets, final.drops.total) == (0, 0, 0)
    assert not final.running and final.error is None
    assert len(cap.files) >= 5  # ~7.7 MB in 0.5 MB files
    # frame numbers count per ring file, exactly as reading that file on its own does
    for rf in cap.files:
        mine = [(rec.frame, rec.ts, bytes(rec.data), rec.wirelen)
                for i, rec in got if i == rf.index]  # fmt: skip
        theirs = [(r.frame, r.ts, bytes(r.data), r.wirelen) for r in CaptureFile(rf.path)]
        assert mine == theirs
        assert rf.sha256 == sha256(Path(rf.path)) and rf.closed
    # and the packets are the replayed ones, in order
    sent = [bytes(r.data) for r in CaptureFile(capture)]
    assert [bytes(rec.data) for _i, rec in got] == sent
    entries = _check_manifest(evidence, [rf.path for rf in cap.files])
    assert entries[-1]["packets_captured"] == n
