"""``--jobs N``: the Rust core in N worker processes, each owning a share of the flows.

Every worker runs the core over the whole input with ``shard=(k, N)``: the core handles
only the IP packets whose address pair hashes to k (every flow of one pair of hosts, both
directions, fragments and repeated datagrams included), and worker 0 alone the frames of
no flow (MAC sightings, ARP, 802.11 station pairs). Each worker dissects its flows in
Python, as one engine would, and sends back what the sink would have been told: new flows,
parser attachments and evictions (the core's own ops), events and MAC sightings, each
tagged with where in the input it happened. The parent merges the workers' streams by
that position and replays them into the one inventory while the workers go on, so the
inventory is told the same things in the same order as by a single engine: flows are
never cut, and nothing needs merging afterwards.

Processes, not threads: the core releases the GIL, but the core's own work is a tenth of
a run; the rest (the Python dissectors) holds the GIL.

Where the order can differ from one engine's: inputs whose timestamps go backwards when
several captures are merged (positions are compared by time there), and runs that evict
flows (each worker's table holds only its share, so evictions come later than in one
table of the same size).
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing as mp
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import fields
from multiprocessing.connection import Connection
from operator import itemgetter
from pathlib import Path
from typing import Any

from netscan.engine.core import (
    OP_ARP,
    OP_ATTACH,
    OP_CLOSE,
    OP_EVENTS,
    OP_FINAL,
    OP_FLOW,
    OP_L2,
    OP_PAYLOAD,
    CoreCapture,
    CoreEngine,
    _set_counters,
    _with_app,
    input_info,
)
from netscan.engine.protocol import InputInfo
from netscan.events import EVENT_TYPES, Ctx, Event
from netscan.flow import Flow
from netscan.inventory.enrich import Premises
from netscan.limits import Limits, resolve

MIN_SEGMENT_BYTES = 8 * 1024 * 1024  # inputs smaller than two of these run in one process
BATCH = 16384  # records per core call in a worker: what it found goes to the parent then

# what crosses the process boundary: (position, seq, tag, payload)
_RAW, _EVENT, _L2, _ATTACH = 0, 1, 2, 3

_EVENT_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name not in ("ctx", "kind"))
    for cls in EVENT_TYPES.values()
}
_CTX_FIELDS = tuple(f.name for f in fields(Ctx))


def _pack_event(ev: Event) -> tuple[Any, ...]:
    c = ev.ctx
    ctx = tuple(getattr(c, n) for n in _CTX_FIELDS)
    return (ev.kind, ctx, tuple(getattr(ev, n) for n in _EVENT_FIELDS[type(ev)]))


def _maker(cls: type) -> Callable[..., Event]:
    """A constructor taking an event's fields positionally (the parent rebuilds every
    event it is sent: no keyword dict per event)."""
    names = _EVENT_FIELDS[cls]
    params = "".join(f", v{i}" for i in range(len(names)))
    kw = "".join(f", {n}=v{i}" for i, n in enumerate(names))
    space: dict[str, Any] = {"cls": cls, "Ctx": Ctx}
    exec(f"def make(ctx{params}):\n    return cls(ctx=Ctx(*ctx){kw})\n", space)  # noqa: S102
    return space["make"]  # type: ignore[no-any-return]


_MAKERS = {kind: _maker(cls) for kind, cls in EVENT_TYPES.items()}


def _unpack_event(t: tuple[Any, ...]) -> Event:
    return _MAKERS[t[0]](t[1], *t[2])


class _Recorder:
    """The worker's sink: records what the parent's sink is to be told, and where."""

    def __init__(self, shard: int, shards: int, single: bool) -> None:
        self.k = shard
        self.n = shards
        self.single = single  # one input: positions are frame numbers
        self.items: list[tuple[Any, ...]] = []
        self.seq = 0
        self.phase = 0  # 1: the end of input (parsers flushed and closed)
        self.cur: Any = -1 if single else (float("-inf"), -1, -1)
        self.key: tuple[Any, ...] = (0, self.cur, 1)
        self.created: dict[int, Any] = {}  # fid -> position of the packet that opened it
        self.fid = 0
        self._gfid: dict[int, int] = {}  # id(flow) -> global flow id

    def gfid(self, fid: int) -> int:
        return fid * self.n + self.k

    def at(self, op: tuple[Any, ...], flows: dict[int, Flow]) -> None:
        """The position of the op about to be replayed; core ops that the parent's sink
        needs as they are (new flows, attachments, evictions) are recorded here."""
        kind = op[0]
        if kind in (OP_L2, OP_ARP):
            file, frame, ts = op[1], op[2], op[3]
        elif kind == OP_FLOW:
            file, frame, ts = op[2], op[12], op[11]
        elif kind in (OP_PAYLOAD, OP_CLOSE):
            flow = flows.get(op[1])
            file, frame, ts = (flow.file if flow is not None else 0), op[3], op[4]
        elif kind == OP_EVENTS and op[2]:  # the core's own dissectors: where the fact was seen
            ctx = op[2][0].ctx
            file, frame, ts = ctx.file, ctx.frame, ctx.ts
        else:
            frame = -1
        if self.phase == 0:
            if frame >= 0:
                pos = frame if self.single else (ts, file, frame)
                if pos > self.cur:
                    self.cur = pos
            self.key = (0, self.cur, 0 if kind == OP_L2 else 1)
        elif kind == OP_L2:
            self.key = (1, 0, 0)
        else:  # parsers closed at the end, in the order their flows were opened
            self.key = (1, 1, self.created.get(op[1], self.cur))
        if kind == OP_FLOW:
            self.fid = op[1]
            self.created[op[1]] = self.cur
            if op[16] is None:
                self._raw(op)
            else:  # the parser ran here: the parent is told the flow, then the attachment
                self._raw((*op[:16], None, False))
                self.seq += 1
                self.items.append((self.key, self.seq, _ATTACH, (self.gfid(op[1]), op[16])))
        elif kind == OP_ATTACH:
            self.seq += 1
            self.items.append((self.key, self.seq, _ATTACH, (self.gfid(op[1]), op[2])))
        elif kind == OP_FINAL:
            self._raw(op)
            self.created.pop(op[1], None)

    def _raw(self, op: tuple[Any, ...]) -> None:
        self.seq += 1
        self.items.append((self.key, self.seq, _RAW, (op[0], self.gfid(op[1]), *op[2:])))

    def take(self) -> list[tuple[Any, ...]]:
        out, self.items = self.items, []
        return out

    # -- sink --------------------------------------------------------------------------

    def on_flow(self, flow: Flow) -> None:
        self._gfid[id(flow)] = self.gfid(self.fid)

    def on_event(self, event: Event, flow: Flow | None) -> None:
        self.seq += 1
        g = self._gfid.get(id(flow)) if flow is not None else None
        self.items.append((self.key, self.seq, _EVENT, (_pack_event(event), g)))

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        self.seq += 1
        self.items.append((self.key, self.seq, _L2, (file, frame, ts, src, wirelen)))


class _ShardEngine(CoreEngine):
    """The core engine of one worker: notes each op's position before replaying it."""

    def _replay(self, ops: list[tuple[Any, ...]]) -> None:
        rec = self.sink
        assert isinstance(rec, _Recorder)
        replay = super()._replay
        flows = self.flows
        for op in ops:
            rec.at(op, flows)
            replay([op])


def _worker(conn: Connection, job: tuple[Any, ...]) -> None:
    gc.set_threshold(200_000, 50, 1000)  # see analyze.relaxed_gc
    paths, k, n, cidrs, max_flows, gunzip, ratio, known, marker_ports = job
    try:
        rec = _Recorder(k, n, single=len(paths) == 1)
        eng = _ShardEngine(rec, Premises(cidrs), max_flows=max_flows, shard=(k, n),  # type: ignore[arg-type]
                           marker_ports=marker_ports)  # fmt: skip
        # worker 0 reports the inputs' facts, their hashes included: the others need none
        caps = eng.open(paths, gunzip, ratio, known=known if k == 0 else paths)
        while True:
            ops, done = eng.core.run(BATCH)
            eng._replay(ops)
            conn.send(("items", rec.take(), [c.position for c in caps] if k == 0 else None))
            if done < BATCH:
                break
        # the end of input, as CoreEngine.finish does it, keeping the final counters
        rec.phase = 1
        eng._flush_stops()
        eng._replay(eng.core.finish())
        counters = [(t[0], rec.gfid(t[1]), *t[2:]) for t in eng.core.counters(True)]
        conn.send(("items", rec.take(), None))
        infos = [eng.core.file_info(c.index) for c in caps] if k == 0 else None
        conn.send(("end", counters, dict(eng.core.stats()), eng.dissector_errors, infos))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class ShardCapture:
    """An input of a ``--jobs`` run: the facts ``CoreCapture`` offers, from worker 0."""

    def __init__(self, base: CoreCapture) -> None:
        self.index = base.index
        self.path = Path(base.path)
        self.size = base.size
        self.format = base.format
        self.warnings: list[str] = []
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.linktypes: set[int] = set(base.linktypes)
        self.position = 0
        self.sha256: str | None = None  # worker 0's core hashes the file as it reads it

    def update(self, info: dict[str, Any]) -> None:
        self.format = info["format"]
        self.warnings = list(info["warnings"])
        self.frames = info["frames"]
        self.first_ts = info["first_ts"]
        self.last_ts = info["last_ts"]
        self.linktypes = set(info["linktypes"])
        self.position = int(info["position"])
        self.sha256 = info["sha256"]

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class ParallelEngine:
    """``CoreEngine``'s interface for the analysis (an ``Engine``), with the work done by
    ``jobs`` workers."""

    name = "core"
    l2_unlisted = 0

    def __init__(
        self,
        sink: Any,
        premises: Premises,
        jobs: int,
        max_flows: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.sink = sink
        self.premises = premises
        self.jobs = max(2, jobs)
        self.limits = resolve(limits)
        # replays the workers' flows, attachments and evictions into the sink exactly as
        # the single-process engine does (it never reads a packet itself)
        self.replayer = CoreEngine(sink, premises, max_flows=max_flows)
        self.max_flows = self.replayer.max_flows
        self.captures: list[ShardCapture] = []
        self.paths: list[str] = []
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.unsupported_linktypes: set[int] = set()
        self.warnings: list[str] = []
        self.flows_retired = 0

    def open(
        self,
        paths: Iterable[str],
        gunzip: int | None = None,
        gunzip_ratio: int | None = None,
        known: Collection[str] = (),
    ) -> list[ShardCapture]:
        """Checks the inputs are captures (CaptureError otherwise) before any worker starts;
        worker 0 hashes the inputs as it reads them, but the ``known`` ones."""
        self.paths = [str(p) for p in paths]
        self.known = [p for p in self.paths if p in known]
        self.gunzip = self.limits.gunzip if gunzip is None else gunzip
        self.gunzip_ratio = self.limits.gunzip_ratio if gunzip_ratio is None else gunzip_ratio
        base = self.replayer.open(self.paths, self.gunzip, self.gunzip_ratio, known=self.paths)
        self.captures = [ShardCapture(c) for c in base]
        self.replayer.core.release()  # the parent reads no packet
        return self.captures

    def run_files(self, progress: Callable[[int, int], None] | None = None) -> None:
        n = self.jobs
        total = sum(c.size for c in self.captures)
        ctx = mp.get_context("fork")
        conns: list[Connection] = []
        procs = []
        cidrs = list(self.premises.cidrs)
        for k in range(n):
            recv, send = ctx.Pipe(duplex=False)
            job = (self.paths, k, n, cidrs, self.max_flows, self.gunzip, self.gunzip_ratio,
                   self.known, self.replayer.marker_ports)  # fmt: skip
            proc = ctx.Process(target=_worker, args=(send, job), daemon=True)
            proc.start()
            send.close()
            conns.append(recv)
            procs.append(proc)
        ends: list[tuple[Any, ...] | None] = [None] * n

        def stream(i: int) -> Iterator[tuple[Any, ...]]:
            """Worker i's items as they come (each worker's are in position order)."""
            while True:
                try:
                    msg = conns[i].recv()
                except EOFError:
                    raise RuntimeError(f"--jobs worker {i} ended without its results") from None
                if msg[0] == "items":
                    if msg[2] is not None:
                        for cap, pos in zip(self.captures, msg[2], strict=True):
                            cap.position = pos
                        if progress is not None:
                            progress(sum(c.position for c in self.captures), total)
                    yield from msg[1]
                elif msg[0] == "end":
                    ends[i] = msg
                    return
                else:
                    raise RuntimeError(f"--jobs worker {i} failed:\n{msg[1]}")

        try:
            # ties between workers cannot happen but for evictions; then worker order
            self._replay(heapq.merge(*(stream(i) for i in range(n)), key=itemgetter(0, 1)))
        finally:
            for c in conns:
                c.close()
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
        self._conclude([e for e in ends if e is not None])

    def _replay(self, items: Iterable[tuple[Any, ...]]) -> None:
        """Tells the sink what the workers recorded, in input order."""
        sink = self.sink
        flows = self.replayer.flows
        replay = self.replayer._replay
        app_name = self.replayer.app_name
        on_event = sink.on_event
        on_l2 = sink.on_frame_l2
        makers = _MAKERS
        raw: list[tuple[Any, ...]] = []  # core ops replayed together, in order
        for _key, _seq, tag, item in items:
            if tag == _RAW:
                raw.append(item)
                continue
            if raw:
                replay(raw)
                raw = []
            if tag == _EVENT:
                (kind, ctx, values), g = item
                ev = makers[kind](ctx, *values)
                on_event(ev, flows.get(g) if g is not None else None)
            elif tag == _ATTACH:  # the parser itself ran in the worker
                flow = flows.get(item[0])
                if flow is not None:
                    name = app_name(item[1])
                    if name is not None:
                        flow.app = _with_app(flow.app, name)
            else:
                on_l2(*item)
        if raw:
            replay(raw)

    def _conclude(self, ends: list[tuple[Any, ...]]) -> None:
        flows = self.replayer.flows
        panics = forced = evicted = l2_dropped = 0
        for k, (_tag, counters, stats, errors, infos) in enumerate(ends):
            for t in counters:
                flow = flows.get(t[1])
                if flow is not None:
                    _set_counters(flow, t)
            for name, count in errors.items():
                self.dissector_errors[name] = self.dissector_errors.get(name, 0) + count
            evicted += int(stats["evicted"])
            forced += int(stats["forced_skips"])
            panics = max(panics, int(stats["panics"]))
            if k == 0:
                self.packets = int(stats["packets"])
                self.bytes = int(stats["bytes"])
                self.unsupported_linktypes = set(stats["unsupported"])
                l2_dropped = int(stats["l2_dropped"])
                for cap, info in zip(self.captures, infos, strict=True):
                    cap.update(info)
        self.flows_retired = evicted
        # the single-process engine's warnings (CoreEngine.finish), in its words
        if panics:
            self.warnings.append(
                f"{panics} packets could not be decoded (a fault in the packet core was "
                "caught); they were counted but not analysed"
            )
        if forced:
            self.warnings.append(
                f"{forced} out-of-order TCP stretches were skipped because the "
                "reassembly memory budget was reached"
            )
        if l2_dropped:
            self.warnings.append(
                f"{l2_dropped} frames came from MAC addresses beyond the limit of "
                "distinct addresses tracked; they were counted but their senders not listed"
            )

    # -- the Engine protocol (netscan.engine.protocol) -----------------------------------

    @property
    def blind_spots(self) -> list[str]:
        return []

    def step(self, limit: int | None = None, progress: Callable[[int, int], None] | None = None
             ) -> bool:  # fmt: skip
        """The whole input in one step (the workers stream it to the sink)."""
        self.run_files(progress)
        return False

    def bytes_read(self) -> tuple[int, int]:
        return sum(c.position for c in self.captures), sum(c.size for c in self.captures)

    def inputs(self, final: bool) -> list[InputInfo]:
        return [input_info(c, p, final) for c, p in zip(self.captures, self.paths, strict=True)]

    def finish(self) -> None:
        """Nothing left: the workers finished their input in ``run_files``."""

    def release(self) -> None:
        self.replayer.flows = {}
