"""``--jobs N``: the native engine over segments of large captures in worker processes.

Each input is cut at record boundaries into segments (``CaptureFile.split``); a worker
runs the native engine over one segment with a recording sink and sends back its flows,
events and MAC sightings. The parent merges flows that several segments saw (same
5-tuple), then replays everything into the one inventory in capture order, so the rest
of the pipeline cannot tell the difference. Frame numbers stay Wireshark's: every segment
knows how many frames come before it.

Limit: a TCP stream cut by a segment boundary is parsed only in the segment where it
starts (its counters are complete; its later application bytes are not dissected).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from netscan.engine.native import Engine
from netscan.events import EVENT_TYPES, Ctx, Event
from netscan.flow import BURST_GAP, Flow, retire_idlest
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import burst_policy
from netscan.limits import Limits, resolve
from netscan.sources.pcapfile import CaptureFile, Segment

MIN_SEGMENT_BYTES = 8 * 1024 * 1024  # smaller inputs are not worth a process
FACT_KEYS = ("frames", "first_ts", "last_ts", "linktypes", "warnings")


@dataclass
class Recorder:
    """A sink that only records, for shipping back to the parent."""

    premises: Premises
    flows: list[Flow] = field(default_factory=list)
    flow_ids: dict[int, int] = field(default_factory=dict)
    events: list[tuple[Event, int]] = field(default_factory=list)
    l2: list[tuple[int, int, float, bytes, int]] = field(default_factory=list)

    def on_flow(self, flow: Flow) -> None:
        self.flow_ids[id(flow)] = len(self.flows)
        self.flows.append(flow)
        burst_policy(self.premises, flow)

    def on_event(self, event: Event, flow: Flow | None) -> None:
        self.events.append((event, self.flow_ids.get(id(flow), -1) if flow is not None else -1))

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        self.l2.append((file, frame, ts, src, wirelen))


def _work(job: tuple[str, int, Segment, list[str], Limits]) -> dict[str, Any]:
    gc.set_threshold(200_000, 50, 1000)  # see analyze.relaxed_gc
    path, index, segment, premises, limits = job
    cap = CaptureFile(path, index=index, gunzip=limits.gunzip, gunzip_ratio=limits.gunzip_ratio)
    rec = Recorder(Premises(premises))
    engine = Engine(rec, limits=limits)
    try:
        engine.run(cap.records(segment))
        engine.finish()
    finally:
        cap.close()
    return {
        "flows": [_pack_flow(f) for f in rec.flows],
        "events": [(_pack_event(ev), idx) for ev, idx in rec.events],
        "l2": rec.l2,
        "packets": engine.packets,
        "bytes": engine.bytes,
        "errors": engine.dissector_errors,
        "l2_unlisted": engine.l2_unlisted,
        "unsupported": engine.unsupported_linktypes,
        "warnings": cap.warnings,
        "linktypes": cap.linktypes,
        "frames": cap.frames,
        "first_ts": cap.first_ts,
        "last_ts": cap.last_ts,
    }


# Results cross the process boundary as plain tuples: pickling slotted objects one by one
# costs more than the analysis that made them.
_FLOW_FIELDS = (
    "file", "proto", "a_ip", "b_ip", "a_port", "b_port", "a_mac", "b_mac", "bytes_ab",
    "bytes_ba", "pkts_ab", "pkts_ba", "payload_ab", "payload_ba", "first_ts", "last_ts",
    "first_frames", "last_frame", "app", "bursts",
)  # fmt: skip
_EVENT_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name not in ("ctx", "kind"))
    for cls in EVENT_TYPES.values()
}
_CTX_FIELDS = tuple(f.name for f in fields(Ctx))


def _pack_flow(f: Flow) -> tuple[Any, ...]:
    return tuple(getattr(f, name) for name in _FLOW_FIELDS)


def _unpack_flow(t: tuple[Any, ...]) -> Flow:
    f = Flow(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[14])
    for name, value in zip(_FLOW_FIELDS[8:], t[8:], strict=True):
        setattr(f, name, value)
    f.parser = False
    return f


def _pack_event(ev: Event) -> tuple[Any, ...]:
    c = ev.ctx
    ctx = tuple(getattr(c, n) for n in _CTX_FIELDS)
    return (ev.kind, ctx, tuple(getattr(ev, n) for n in _EVENT_FIELDS[type(ev)]))


def _unpack_event(t: tuple[Any, ...]) -> Event:
    cls = EVENT_TYPES[t[0]]
    ev = cls(ctx=Ctx(*t[1]), **dict(zip(_EVENT_FIELDS[cls], t[2], strict=True)))
    return ev


def _flow_key(f: Flow) -> tuple[Any, ...]:
    a, b = (f.a_ip, f.a_port, f.a_mac), (f.b_ip, f.b_port, f.b_mac)
    if not f.a_ip:  # 802.11 station pairs are keyed by MACs
        a, b = (f.a_mac, 0, None), (f.b_mac, 0, None)
    lo, hi = (a, b) if (a[0] or "", a[1]) <= (b[0] or "", b[1]) else (b, a)
    return (f.file, f.proto, lo[0], lo[1], hi[0], hi[1])


def _merge_into(into: Flow, other: Flow) -> None:
    same = (into.a_ip, into.a_port, into.a_mac if not into.a_ip else None) == (
        other.a_ip, other.a_port, other.a_mac if not other.a_ip else None,
    )  # fmt: skip
    if same:
        into.bytes_ab += other.bytes_ab
        into.bytes_ba += other.bytes_ba
        into.pkts_ab += other.pkts_ab
        into.pkts_ba += other.pkts_ba
        into.payload_ab += other.payload_ab
        into.payload_ba += other.payload_ba
        if other.bursts:
            into.track_bursts()
            assert into.bursts is not None
            more = [list(b) for b in other.bursts]
            last = into.bursts[-1] if into.bursts else None
            if last is not None and more[0][0] - last[1] <= BURST_GAP:
                # one burst cut in two by the segment boundary
                first = more.pop(0)
                last[1] = first[1]
                last[2] += first[2]
                last[3] += first[3]
            into.bursts.extend(more)
    else:
        into.bytes_ab += other.bytes_ba
        into.bytes_ba += other.bytes_ab
        into.pkts_ab += other.pkts_ba
        into.pkts_ba += other.pkts_ab
        into.payload_ab += other.payload_ba
        into.payload_ba += other.payload_ab
    if len(into.first_frames) < 5:
        into.first_frames.extend(other.first_frames[: 5 - len(into.first_frames)])
    if other.last_ts >= into.last_ts:
        into.last_ts = other.last_ts
        into.last_frame = other.last_frame
    into.app |= other.app


class ParallelEngine:
    """Same interface as ``Engine`` for the analyzer: run over files, then read counters."""

    def __init__(
        self, sink: Any, premises: Premises, jobs: int, limits: Limits | None = None
    ) -> None:
        self.sink = sink
        self.premises = premises
        self.jobs = jobs
        self.limits = resolve(limits)
        self.flows_retired = 0
        self.l2_unlisted = 0
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.unsupported_linktypes: set[int] = set()

    def run_files(
        self, captures: list[CaptureFile], progress: Callable[[int, int], None] | None = None
    ) -> None:
        jobs: list[tuple[str, int, Segment, list[str], Limits]] = []
        for cap in captures:
            parts = max(1, min(self.jobs * 4, cap.size // MIN_SEGMENT_BYTES))
            for seg in cap.split(parts):
                jobs.append((str(cap.path), cap.index, seg, list(self.premises.cidrs), self.limits))
        self._merged: dict[tuple[Any, ...], Flow] = {}
        single = len(captures) == 1
        facts: list[tuple[int, dict[str, Any]]] = []
        held: list[dict[str, Any]] = []
        total = len(jobs)
        with mp.get_context("fork").Pool(min(self.jobs, total)) as pool:
            for i, res in enumerate(pool.imap(_work, jobs)):
                facts.append((jobs[i][1], {k: res[k] for k in FACT_KEYS}))
                if single:
                    # segments come back in order: replay each while the workers go on
                    self._replay([res], single=True)
                    self._bound()
                else:
                    held.append(res)
                if progress is not None:
                    progress(i + 1, total)
        if held:
            self._replay(held, single=False)
        self._file_facts(captures, facts)

    def _bound(self) -> None:
        """The parent's table of merged flows obeys the flow limit like an engine's table:
        the idlest are retired (their totals folded by the sink), never dropped."""
        on_end = getattr(self.sink, "on_flow_end", None)
        while len(self._merged) > self.limits.flows and on_end is not None:
            gone = retire_idlest(list(self._merged.values()), [])
            dead = {id(f) for f in gone}
            for key in [k for k, f in self._merged.items() if id(f) in dead]:
                del self._merged[key]
            for flow in gone:
                on_end(flow)
            self.flows_retired += len(gone)

    @staticmethod
    def _file_facts(captures: list[CaptureFile], facts: list[tuple[int, dict[str, Any]]]) -> None:
        """Per-input facts: frames, times, link types and warnings from its segments."""
        for cap in captures:
            parts = [f for index, f in facts if index == cap.index]
            cap.frames = max((r["frames"] for r in parts), default=0)
            firsts = [r["first_ts"] for r in parts if r["first_ts"] is not None]
            lasts = [r["last_ts"] for r in parts if r["last_ts"] is not None]
            cap.first_ts = firsts[0] if firsts else None
            cap.last_ts = lasts[-1] if lasts else None
            for r in parts:
                cap.linktypes |= r["linktypes"]
                for w in r["warnings"]:
                    cap.warn(w)

    def _replay(self, results: list[dict[str, Any]], single: bool) -> None:
        """Feed the sink in the order one engine would have: per input in frame order
        (several inputs: merged by time); a flow is announced before its first event."""
        merged = self._merged
        timeline: list[tuple[tuple[Any, ...], int, Any]] = []

        def at(file: int, frame: int, ts: float, kind: int) -> tuple[Any, ...]:
            return (frame, kind) if single else (ts, file, frame, kind)

        for res in results:
            local: list[Flow] = []
            for packed in res["flows"]:
                f = _unpack_flow(packed)
                key = _flow_key(f)
                have = merged.get(key)
                if have is None:
                    merged[key] = f
                    local.append(f)
                    first = f.first_frames[0] if f.first_frames else 0
                    timeline.append((at(f.file, first, f.first_ts, 0), 0, f))
                else:
                    _merge_into(have, f)
                    local.append(have)
            self.packets += res["packets"]
            self.l2_unlisted += res["l2_unlisted"]
            self.bytes += res["bytes"]
            for k, v in res["errors"].items():
                self.dissector_errors[k] = self.dissector_errors.get(k, 0) + v
            self.unsupported_linktypes |= res["unsupported"]
            for item in res["l2"]:
                timeline.append((at(item[0], item[1], item[2], 1), 1, item))
            for packed, idx in res["events"]:
                ev = _unpack_event(packed)
                c = ev.ctx
                timeline.append(
                    (at(c.file, c.frame, c.ts, 2), 2, (ev, local[idx] if idx >= 0 else None))
                )
        timeline.sort(key=lambda t: t[0])
        sink = self.sink
        for _key, kind, item in timeline:
            if kind == 0:
                sink.on_flow(item)
            elif kind == 1:
                sink.on_frame_l2(*item)
            else:
                sink.on_event(item[0], item[1])
