"""Live capture into a pcapng ring of evidence files, read back while it is being written.

``dumpcap`` (Wireshark's capture program; no root needed for members of its capture group)
writes the ring: ``<evidence>/capture_NNNNN_YYYYmmddHHMMSS.pcapng``. Without dumpcap, a
thread receives packets on a raw socket through scapy (root only) and writes the same ring
itself. Either way the analysis never reads packets from the network: it follows the
evidence files, so what was analysed is exactly what is kept.

Three threads of work:

* the writer: the dumpcap process (or the scapy writer thread);
* the monitor (a thread): opens every ring file as soon as it appears — so a ring file that
  dumpcap rotates out (``ring_files``) stays readable while it is held open — and when a
  file is closed (the next one exists, or the capture ended) hashes it and appends its
  SHA-256 to ``manifest.jsonl``; it also reads dumpcap's stderr for packet counts and drops;
* the reader: the consumer's own thread, iterating ``LiveCapture``. It follows the current
  file block by block as it grows and moves on when the file is closed, yielding
  ``(file_index, Record)`` with frame numbers counted per ring file (as Wireshark numbers
  them when the file is opened on its own).

Nothing is dropped when the analysis is slower than the network: the backlog waits on disk,
and ``status()`` says how far behind the reader is (bytes and packets pending).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from netscan import util
from netscan.safefile import PrivateDir, UnsafePathError
from netscan.sources import pcapng
from netscan.sources.pcapfile import CaptureError, Record

RawRecord = tuple[
    int, int, float, int, bytes, int
]  # (file_index, frame, ts, linktype, data, wirelen)

MANIFEST = "manifest.jsonl"
RING_STEM = "capture"
RING_SUFFIX = ".pcapng"
READ_CHUNK = 1 << 20

_RING_RE = re.compile(r"^(?P<stem>.+)_(?P<seq>\d{5,})_(?P<stamp>\d{14})(?P<suffix>\.[^.]+)?$")
_PACKETS_RE = re.compile(r"Packets(?: captured)?: (\d+)")
_DROPS_RE = re.compile(
    r"Packets received/dropped on interface '([^']*)': (\d+)/(\d+) "
    r"\(pcap:(\d+)/dumpcap:(\d+)/flushed:(\d+)/ps_ifdrop:(\d+)\)"
)


class LiveCaptureError(CaptureError):
    """The capture could not be started (no such interface, no permission, no backend)."""


def now_iso() -> str:
    return util.now_iso("milliseconds")


def ring_sequence(name: str, stem: str = RING_STEM) -> int | None:
    """The ring sequence number of a file named like dumpcap's ring files, else ``None``."""
    m = _RING_RE.match(name)
    if m is None or m.group("stem") != stem:
        return None
    return int(m.group("seq"))


# -- incremental pcapng reading ------------------------------------------------------------


@dataclass
class Drops:
    """Packets lost before they reached a ring file."""

    received: int = 0  # packets the capture library saw (dumpcap's summary)
    kernel: int = 0  # dropped by the kernel / capture buffer (pcap's ps_drop, isb_osdrop)
    interface: int = 0  # dropped by the interface or driver (ps_ifdrop, isb_ifdrop)
    dumpcap: int = 0  # dropped by the writer itself
    flushed: int = 0  # still buffered when the capture stopped
    source: str = ""  # where the numbers came from

    @property
    def total(self) -> int:
        return self.kernel + self.interface + self.dumpcap + self.flushed


class PcapngFollower:
    """Reads pcapng blocks from a file that is still being written.

    ``poll()`` returns the records of all blocks completed since the last call; a block
    written only in part stays pending until its end arrives. Frame numbers count every
    packet block from the start of the file.
    """

    def __init__(self, fd: int, index: int = 0) -> None:
        self.fd = fd
        self.index = index  # the file index put in front of each record
        self.offset = 0  # bytes of the file consumed (complete blocks)
        self.read_pos = 0  # bytes of the file read into memory
        self.pending = b""
        self.reader = pcapng.BlockReader()
        self.error: str | None = None

    @property
    def frames(self) -> int:
        return self.reader.frame

    @property
    def first_ts(self) -> float | None:
        return self.reader.first_ts

    @property
    def last_ts(self) -> float | None:
        return self.reader.last_ts if self.reader.frame else None

    @property
    def linktypes(self) -> set[int]:
        return self.reader.linktypes

    @property
    def isb_drops(self) -> dict[int, dict[str, int]]:
        """Interface id -> the counters of its Interface Statistics Block."""
        return self.reader.isb

    def _read(self) -> bool:
        chunk = os.pread(self.fd, READ_CHUNK, self.read_pos)
        if not chunk:
            return False
        self.read_pos += len(chunk)
        self.pending = self.pending + chunk if self.pending else chunk
        return True

    def poll(self, max_records: int = 4096) -> list[RawRecord]:
        """Up to about ``max_records`` new records (fewer when the file has no more yet), as
        ``(file_index, frame, ts, linktype, data, wirelen)`` tuples."""
        out: list[RawRecord] = []
        if self.error is not None:
            return out
        if len(self.pending) < 12 and not self._read():
            return out
        while len(out) < max_records:
            if not self._parse(out, max_records) or not self._read():
                break
        return out

    def leftover(self) -> int:
        """Bytes read but not yet a complete block (at end of file: a truncated block)."""
        return len(self.pending)

    def _parse(self, out: list[RawRecord], max_records: int) -> bool:
        """Parse the complete blocks in ``pending``; False on a corrupt block."""
        buf = self.pending
        size = len(buf)
        off = 0
        reader = self.reader
        try:
            while off + 12 <= size and len(out) < max_records:
                end, pkt = reader.next(buf, off, size)
                if end < 0:
                    break  # not written completely yet
                if pkt is not None:
                    ts, linktype, start, stop, wirelen = pkt
                    out.append((self.index, reader.frame, ts, linktype, buf[start:stop], wirelen))
                off = end
        except pcapng.PcapngError as exc:
            self.error = str(exc)
        self.offset += off
        self.pending = buf[off:]
        return self.error is None


# -- the ring ------------------------------------------------------------------------------


@dataclass
class RingFile:
    """One ring file: where it is, and (once closed) its hash and size."""

    index: int  # position in this capture's file list: the file index of its records
    seq: int  # the writer's ring sequence number
    path: str
    fd: int = -1
    size: int = 0
    closed: bool = False
    sha256: str | None = None
    packets: int = 0  # packets read from it so far
    first_ts: float | None = None
    last_ts: float | None = None
    linktypes: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    done_reading: bool = False


@dataclass
class LiveStatus:
    """How the capture is doing; safe to read from any thread."""

    running: bool
    backend: str
    iface: str
    files: int
    packets_captured: int | None  # packets the writer reported written (None: not known)
    packets_read: int
    bytes_written: int
    bytes_read: int
    pending_bytes: int  # written to the ring but not yet analysed
    pending_packets: int | None  # writer's packet count - packets read (a lower bound)
    pending_packets_est: int | None  # the same, estimated from pending bytes (can overshoot)
    drops: Drops
    warnings: list[str]
    error: str | None


class LiveCapture:
    """A live capture on ``iface`` into ``evidence_dir``; iterate it for records.

    ``ring_size_mb`` is the size at which the writer starts a new ring file; ``ring_files``
    bounds how many files are kept (0: all of them; the manifest keeps every file's hash
    either way). ``backend`` is ``auto`` (dumpcap when installed, else scapy), ``dumpcap``
    or ``scapy``. ``netns`` runs dumpcap inside that network namespace (``ip netns exec``).

    Use as a context manager, or ``start()`` … ``stop()`` … ``close()``. ``stop()`` only asks
    the writer to stop (safe from a signal handler); iteration then ends once every packet
    written has been read, and the last file has been hashed.
    """

    def __init__(
        self,
        iface: str,
        bpf: str | None = None,
        evidence_dir: str | os.PathLike[str] = "evidence",
        ring_size_mb: float = 100.0,
        ring_files: int = 0,
        backend: str = "auto",
        snaplen: int = 0,
        netns: str | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        if ring_size_mb <= 0:
            raise ValueError("ring_size_mb must be positive")
        if ring_files < 0 or ring_files == 1:
            raise ValueError("ring_files must be 0 (keep all) or at least 2")
        self.iface = iface
        self.bpf = bpf
        self.evidence_dir = Path(evidence_dir)
        self.ring_size_mb = ring_size_mb
        self.ring_files = ring_files
        self.snaplen = snaplen
        self.netns = netns
        self.poll_interval = poll_interval
        self.backend = self._choose_backend(backend)
        self.files: list[RingFile] = []
        self.warnings: list[str] = []
        self.drops = Drops()
        self.error: str | None = None
        self.started_at: str | None = None
        self.stopped_at: str | None = None
        self.packets_captured: int | None = None
        self.packets_read = 0
        self.bytes_read = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop_requested = threading.Event()
        self._writer_done = threading.Event()
        self._monitor_done = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: _ScapyRingWriter | None = None
        self._threads: list[threading.Thread] = []
        self._seen_names: set[str] = set()
        self._last_seq = 0
        self._manifest: IO[str] | None = None
        self._dir: PrivateDir | None = None
        self._stderr_tail: list[str] = []
        self._started = False
        self._closed = False

    @staticmethod
    def _choose_backend(backend: str) -> str:
        if backend not in ("auto", "dumpcap", "scapy"):
            raise ValueError(f"unknown capture backend {backend!r}")
        if backend == "auto":
            return "dumpcap" if shutil.which("dumpcap") else "scapy"
        if backend == "dumpcap" and not shutil.which("dumpcap"):
            raise LiveCaptureError(
                "dumpcap is not installed (Debian: apt install wireshark-common)"
            )
        return backend

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def ring_base(self) -> Path:
        return self.evidence_dir / f"{RING_STEM}{RING_SUFFIX}"

    def dumpcap_command(self) -> list[str]:
        cmd = ["dumpcap", "-i", self.iface, "-w", str(self.ring_base),
               "-b", f"filesize:{max(1, round(self.ring_size_mb * 1000))}"]  # fmt: skip
        if self.ring_files:
            cmd += ["-b", f"files:{self.ring_files}"]
        if self.bpf:
            cmd += ["-f", self.bpf]
        if self.snaplen:
            cmd += ["-s", str(self.snaplen)]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        return cmd

    def start(self, timeout: float = 15.0) -> LiveCapture:
        """Start writing; returns once the first ring file exists (the capture is open)."""
        if self._started:
            return self
        # 0700 when new; an existing directory others can write into is refused, never
        # re-moded. Every file in it is 0600 whatever the backend (dumpcap's own choice;
        # explicit modes and O_EXCL|O_NOFOLLOW here).
        try:
            self._dir = PrivateDir.open(self.evidence_dir)
            self._manifest = self._dir.open_append(MANIFEST)
        except UnsafePathError as exc:
            raise LiveCaptureError(str(exc)) from None
        except OSError as exc:
            raise LiveCaptureError(
                f"{self.evidence_dir}: cannot use as evidence directory: {exc.strerror or exc}"
            ) from None
        self.warnings.extend(self._dir.warnings)
        self._started = True
        self._seen_names = set(os.listdir(self._dir.fd))
        self.started_at = now_iso()
        if self.backend == "dumpcap":
            cmd = self.dumpcap_command()
            try:
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE, start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                raise LiveCaptureError(f"cannot run dumpcap: {exc}") from None
            self._spawn(self._read_stderr, "netscan-dumpcap-stderr")
            self._spawn(self._wait_dumpcap, "netscan-dumpcap-wait")
            command: list[str] = cmd
        else:
            self._writer = _ScapyRingWriter(self)
            self._writer.open()  # raises LiveCaptureError when the socket cannot be opened
            self._spawn(self._writer.run, "netscan-scapy-writer")
            command = ["scapy", self.iface]
        self._log({"event": "start", "at": self.started_at, "iface": self.iface, "bpf": self.bpf,
                   "backend": self.backend, "command": command, "host": socket.gethostname(),
                   "ring_size_mb": self.ring_size_mb, "ring_files": self.ring_files,
                   "netns": self.netns})  # fmt: skip
        self._spawn(self._monitor, "netscan-ring-monitor")
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.files and not self._writer_done.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, 0.1))
            ready = bool(self.files)
        if not ready:
            self.stop()
            self._monitor_done.wait(5)
            msg = self.error or " ".join(self._stderr_tail[-3:]) or "no ring file appeared"
            self.close()
            raise LiveCaptureError(f"capture on {self.iface} did not start: {msg}")
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self) -> None:
        """Ask the writer to stop. Non-blocking and idempotent; iteration drains the ring."""
        if self._stop_requested.is_set():
            return
        self._stop_requested.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGINT)  # dumpcap's own session: only it

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the writer has ended and every file is hashed."""
        return self._monitor_done.wait(timeout)

    def close(self) -> None:
        """Stop, wait for the last file to be hashed, release files. Idempotent."""
        if self._closed:
            return
        self.stop()
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._started and not self._monitor_done.wait(30):
            self.warnings.append("the ring monitor did not finish in time")
        self._closed = True
        for rf in self.files:
            if rf.fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(rf.fd)
                rf.fd = -1
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None
        if self._dir is not None:
            self._dir.close()

    def __enter__(self) -> LiveCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer side (threads) -------------------------------------------------------------

    def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        stream = proc.stderr
        buf = b""
        while True:
            chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            buf += chunk
            *parts, buf = re.split(rb"[\r\n]", buf)
            for raw in parts:
                self._stderr_line(raw.decode("utf-8", "replace").strip())
        if buf:
            self._stderr_line(buf.decode("utf-8", "replace").strip())

    def _stderr_line(self, line: str) -> None:
        if not line:
            return
        m = _DROPS_RE.search(line)
        if m is not None:
            recv, dropped, pcap, dcap, flushed, ifdrop = (int(x) for x in m.groups()[1:])
            with self._lock:
                self.drops = Drops(received=recv, kernel=pcap, interface=ifdrop, dumpcap=dcap,
                                   flushed=flushed, source="dumpcap")  # fmt: skip
                if dropped != pcap + dcap + flushed + ifdrop:
                    self.drops.kernel = max(pcap, dropped - dcap - flushed - ifdrop)
            return
        for m in _PACKETS_RE.finditer(line):
            with self._lock:
                self.packets_captured = int(m.group(1))
        if _PACKETS_RE.search(line) or line.startswith(("File:", "Capturing on")):
            return
        self._stderr_tail.append(line)
        del self._stderr_tail[:-20]

    def _wait_dumpcap(self) -> None:
        proc = self._proc
        assert proc is not None
        rc = proc.wait()
        if rc != 0 and not self._stop_requested.is_set():
            time.sleep(0.2)  # let the stderr reader collect the message
            with self._lock:
                self.error = "dumpcap exited with status {}: {}".format(
                    rc, " ".join(self._stderr_tail[-3:]) or "no message"
                )
        self._writer_done.set()

    def _scan_ring(self) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        try:
            names = os.listdir(self.evidence_dir)
        except OSError:
            return found
        for name in names:
            if name in self._seen_names:
                continue
            seq = ring_sequence(name)
            if seq is not None and seq > self._last_seq:
                found.append((seq, name))
        found.sort()
        return found

    def _monitor(self) -> None:
        try:
            while True:
                writer_done = self._writer_done.is_set()
                for seq, name in self._scan_ring():
                    self._add_file(seq, name)
                if writer_done:  # after a last scan that saw every file
                    break
                self._writer_done.wait(self.poll_interval)
            for rf in self.files:
                if not rf.closed:
                    self._close_file(rf)
        except Exception as exc:  # report, never hang the reader
            with self._lock:
                self.error = f"ring monitor failed: {exc!r}"
            for rf in self.files:
                rf.closed = True
        finally:
            self.stopped_at = now_iso()
            with self._lock:
                drops = asdict(self.drops)
                captured = self.packets_captured
            self._log({"event": "stop", "at": self.stopped_at, "files": len(self.files),
                       "packets_captured": captured, "drops": drops, "error": self.error,
                       "warnings": list(self.warnings)})  # fmt: skip
            self._monitor_done.set()
            with self._changed:
                self._changed.notify_all()

    def _add_file(self, seq: int, name: str) -> None:
        path = self.evidence_dir / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            self.warnings.append(f"ring file {name} was rotated out before it could be opened")
            self._seen_names.add(name)
            return
        if self._last_seq and seq != self._last_seq + 1:
            self.warnings.append(
                f"ring files {self._last_seq + 1}..{seq - 1} were rotated out before they could "
                "be opened: their packets were not analysed"
            )
        self._seen_names.add(name)
        self._last_seq = seq
        # a new file means the writer closed the previous one
        for rf in self.files:
            if not rf.closed:
                self._close_file(rf)
        with self._changed:
            self.files.append(RingFile(index=len(self.files), seq=seq, path=str(path), fd=fd))
            self._changed.notify_all()

    def _close_file(self, rf: RingFile) -> None:
        h = hashlib.sha256()
        pos = 0
        while True:
            chunk = os.pread(rf.fd, READ_CHUNK, pos)
            if not chunk:
                break
            h.update(chunk)
            pos += len(chunk)
        packets, isb = _count_blocks(rf.fd, pos)
        with self._changed:
            rf.size = pos
            rf.sha256 = h.hexdigest()
            rf.closed = True
            self._changed.notify_all()
        self._log({"event": "file", "index": rf.index, "seq": rf.seq, "file": Path(rf.path).name,
                   "sha256": rf.sha256, "size": pos, "packets": packets, "isb": isb,
                   "closed_at": now_iso()})  # fmt: skip
        if isb:
            with self._lock:
                if self.drops.source != "dumpcap":
                    self.drops.interface = sum(s.get("ifdrop", 0) for s in isb)
                    self.drops.kernel = sum(s.get("osdrop", 0) for s in isb)
                    self.drops.source = self.drops.source or "isb"

    def _log(self, entry: dict[str, Any]) -> None:
        if self._manifest is None:
            return
        with self._lock:
            self._manifest.write(json.dumps(entry, sort_keys=True) + "\n")
            self._manifest.flush()
            os.fsync(self._manifest.fileno())

    # -- reader side -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[int, Record]]:
        return self.records()

    def records(
        self, tick: Callable[[], None] | None = None, tick_interval: float = 1.0
    ) -> Iterator[tuple[int, Record]]:
        """``(file_index, Record)`` for every packet, in ring order, until the capture ends.
        See ``raw_records`` for ``tick``."""
        for raw in self.raw_records(tick, tick_interval):
            yield raw[0], Record(*raw[1:])

    def raw_records(
        self, tick: Callable[[], None] | None = None, tick_interval: float = 1.0
    ) -> Iterator[RawRecord]:
        """``(file_index, frame, ts, linktype, data, wirelen)`` for every packet, in ring
        order, until the capture ends.

        ``tick`` is called in the iterating thread about every ``tick_interval`` seconds,
        between packets (also while waiting for traffic) — a safe point to look at what the
        consumer has built so far.
        """
        if not self._started:
            self.start()
        next_tick = time.monotonic() + tick_interval
        index = 0
        while True:
            with self._changed:
                while index >= len(self.files) and not self._monitor_done.is_set():
                    self._changed.wait(self.poll_interval)
                    if tick is not None and time.monotonic() >= next_tick:
                        break
                have = index < len(self.files)
            if not have:
                if self._monitor_done.is_set():
                    return
                if tick is not None:
                    tick()
                    next_tick = time.monotonic() + tick_interval
                continue
            rf = self.files[index]
            follower = PcapngFollower(rf.fd, index)
            while True:
                closed = rf.closed
                recs = follower.poll()
                if recs:
                    rf.first_ts = follower.first_ts
                    rf.last_ts = follower.last_ts
                    rf.linktypes = follower.linktypes
                    yield from recs
                    # counted once consumed, bytes and packets together (status() estimates)
                    rf.packets = follower.frames
                    self._file_bytes_read(index, follower.offset, len(recs))
                    if tick is not None and time.monotonic() >= next_tick:
                        tick()
                        next_tick = time.monotonic() + tick_interval
                    continue
                self._file_bytes_read(index, follower.offset)
                if follower.error is not None:
                    rf.warnings.append(f"{follower.error}; the rest of this file was not analysed")
                    if not closed:
                        self._wait_closed(rf)
                    break
                if closed:
                    if follower.leftover():
                        rf.warnings.append(
                            f"truncated last block (after frame {follower.frames}); "
                            "analysed up to the cut"
                        )
                    break
                if tick is not None and time.monotonic() >= next_tick:
                    tick()
                    next_tick = time.monotonic() + tick_interval
                time.sleep(self.poll_interval)
            rf.done_reading = True
            rf.packets = follower.frames
            if rf.fd >= 0 and rf.sha256 is not None:
                with contextlib.suppress(OSError):
                    os.close(rf.fd)
                rf.fd = -1
            index += 1

    def _wait_closed(self, rf: RingFile) -> None:
        with self._changed:
            while not rf.closed:
                self._changed.wait(self.poll_interval)

    def _file_bytes_read(self, index: int, offset: int, packets: int = 0) -> None:
        done = sum(f.size for f in self.files[:index])
        with self._lock:
            self.bytes_read = done + offset
            self.packets_read += packets

    # -- status ----------------------------------------------------------------------------

    def bytes_written(self) -> int:
        total = 0
        for rf in list(self.files):
            if rf.closed:
                total += rf.size
            elif rf.fd >= 0:
                with contextlib.suppress(OSError):
                    total += os.fstat(rf.fd).st_size
        return total

    def status(self) -> LiveStatus:
        written = self.bytes_written()
        with self._lock:
            captured = self.packets_captured
            drops = Drops(**asdict(self.drops))
            error = self.error
        if self._writer is not None:
            captured = self._writer.packets
        with self._lock:
            read, bytes_read = self.packets_read, self.bytes_read
        pending_bytes = max(0, written - bytes_read)
        pending = None if captured is None else max(0, captured - read)
        estimate = pending
        if read >= 100 and pending_bytes:
            # the writer's count lags (dumpcap reports twice a second): estimate from bytes
            by_size = pending_bytes * read // max(1, bytes_read)
            estimate = by_size if pending is None else max(pending, by_size)
        warnings = list(self.warnings)
        for rf in self.files:
            warnings += [f"{Path(rf.path).name}: {w}" for w in rf.warnings]
        return LiveStatus(
            running=self._started and not self._monitor_done.is_set(),
            backend=self.backend,
            iface=self.iface,
            files=len(self.files),
            packets_captured=captured,
            packets_read=read,
            bytes_written=written,
            bytes_read=bytes_read,
            pending_bytes=pending_bytes,
            pending_packets=pending,
            pending_packets_est=estimate,
            drops=drops,
            warnings=warnings,
            error=error,
        )


def _count_blocks(fd: int, size: int) -> tuple[int, list[dict[str, int]]]:
    """Packets in a closed ring file and its interface statistics (walks block headers)."""
    follower = PcapngFollower(fd)
    while follower.poll(65536):
        pass
    return follower.frames, [follower.isb_drops[k] for k in sorted(follower.isb_drops)]


# -- the scapy fallback writer -------------------------------------------------------------

SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
RCVBUF = 64 * 1024 * 1024


class _ScapyRingWriter:
    """Receives on a raw socket (scapy, root) and writes a dumpcap-style pcapng ring."""

    def __init__(self, capture: LiveCapture) -> None:
        self.cap = capture
        self.sock: Any = None
        self.linktype = 1
        self.packets = 0
        self.received = 0
        self.dropped = 0
        self.seq = 0
        self.fh: IO[bytes] | None = None
        self.size = 0
        self.kept: list[Path] = []

    def open(self) -> None:
        import scapy.arch  # noqa: F401  (sets conf.L2listen for this platform)
        from scapy.config import conf

        if self.cap.netns:
            raise LiveCaptureError("the scapy backend cannot enter a network namespace")
        try:
            self.sock = conf.L2listen(iface=self.cap.iface, filter=self.cap.bpf or None)
        except PermissionError:
            raise LiveCaptureError(
                "capturing without dumpcap needs root (or install dumpcap)"
            ) from None
        except Exception as exc:  # scapy raises various types for a bad interface or filter
            raise LiveCaptureError(f"cannot capture on {self.cap.iface}: {exc}") from None
        self.linktype = self._linktype()
        ins = getattr(self.sock, "ins", None)
        if ins is not None:  # room for bursts while the analysis holds the interpreter
            for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
                try:
                    ins.setsockopt(socket.SOL_SOCKET, opt, RCVBUF)
                    break
                except OSError:
                    continue
        self._stats()  # reset the kernel counters

    def _linktype(self) -> int:
        """The pcap link type of the interface, from its ARPHRD type."""
        try:
            arphrd = int((Path("/sys/class/net") / self.cap.iface / "type").read_text())
        except (OSError, ValueError):
            return 1
        # Ethernet, loopback and 802.11 in managed mode deliver Ethernet headers
        return {65534: 101, 803: 127, 802: 119, 801: 1, 772: 1}.get(arphrd, 1)

    def _stats(self) -> None:
        ins = getattr(self.sock, "ins", None)
        if ins is None:
            return
        with contextlib.suppress(OSError, AttributeError):
            packets, drops = struct.unpack("II", ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            self.received += packets
            self.dropped += drops

    def _new_file(self) -> None:
        self._close_file()
        self.seq += 1
        stamp = time.strftime("%Y%m%d%H%M%S")
        name = f"{RING_STEM}_{self.seq:05d}_{stamp}{RING_SUFFIX}"
        path = self.cap.evidence_dir / name
        # full packets (face images included): 0600, new, never through a link
        assert self.cap._dir is not None
        fh = self.cap._dir.open_new(name)
        shb = pcapng.section_header("netscan live capture (scapy)")
        idb = pcapng.interface_description(self.linktype, self.cap.snaplen or pcapng.SNAPLEN,
                                           tsresol=9, name=self.cap.iface)  # fmt: skip
        fh.write(shb + idb)
        fh.flush()
        self.fh = fh
        self.size = len(shb) + len(idb)
        self.kept.append(path)
        ring = self.cap.ring_files
        if ring and len(self.kept) > ring:
            old = self.kept.pop(0)
            # the monitor holds it open until it is hashed and read; give it a moment
            deadline = time.monotonic() + 2.0
            while old.name not in self.cap._seen_names and time.monotonic() < deadline:
                time.sleep(0.01)
            with contextlib.suppress(OSError):
                old.unlink()

    def _close_file(self) -> None:
        if self.fh is None:
            return
        self._stats()
        isb = pcapng.interface_statistics(0, time.time(), {4: self.received, 5: 0,
                                                           7: self.dropped}, tsresol=9)  # fmt: skip
        self.fh.write(isb)
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        self.fh = None

    def run(self) -> None:
        cap = self.cap
        limit = max(1000, round(cap.ring_size_mb * 1_000_000))
        snap = cap.snaplen or 262144
        fd = self.sock.fileno()
        try:
            self._new_file()
            while not cap._stop_requested.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                fh = self.fh
                assert fh is not None
                for _ in range(256):
                    got = self.sock.recv_raw(65535)
                    data, ts = got[1], got[2]
                    if data is None:
                        break
                    wirelen = len(data)
                    data = data[:snap]
                    block = pcapng.enhanced_packet(0, ts if ts is not None else time.time(),
                                                   data, wirelen, tsresol=9)  # fmt: skip
                    fh.write(block)
                    self.size += len(block)
                    self.packets += 1
                    r, _, _ = select.select([fd], [], [], 0)
                    if not r:
                        break
                fh.flush()
                if self.size >= limit:
                    self._new_file()
        except Exception as exc:
            cap.error = f"capture failed: {exc!r}"
        finally:
            try:
                self._close_file()
            finally:
                with contextlib.suppress(Exception):
                    self.sock.close()
                with cap._lock:
                    cap.drops = Drops(received=self.received, kernel=self.dropped, source="socket")
                cap._writer_done.set()
