"""The core engine: the Rust packet core (``netscan._core``) feeding the ``Sink`` that the
inventory implements (``netscan.engine.sink``).

The core reads the capture files itself (or takes live records), decodes, keeps the flow
table and its counters and upload bursts, reassembles the TCP streams that have a parser,
decides which flows are dissected and runs the dissectors itself (DNS, mDNS, LLMNR, NBNS,
DHCP, DHCPv6, NTP, SSDP, SIP over UDP, QUIC Initial, and every TCP stream: TLS, DNS over
TCP, HTTP/1.x with its upload bodies, RTSP, SIP over TCP), dropping repeated facts. What it hands back per batch is an ordered list of ops (MAC
sightings, new flows, ARP facts, parser attachments, ready events with their contexts,
payloads, parser closes, evicted flows' final counters) that this module replays into the
sink, calling the Python dissectors only for the payloads of the parsers that stay in
Python (WS-Discovery, vendor discovery, Router Advertisements). Flow counters are
synchronised into the ``Flow`` objects at the end of the input and whenever ``sync()`` is called (incremental runs).
When the sink folds every live flow at the end of the input, the core sums them per
conversation itself (``Core.conv_keys``, ``Inventory.seal_groups``) where that folds them
exactly as one flow at a time would.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
from collections import deque
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from netscan import _core
from netscan.dissectors import icmpv6, payload
from netscan.dissectors.registry import UDP_PARSERS, Datagrams
from netscan.engine import duplicates, loss, tunnels
from netscan.engine.protocol import InputInfo
from netscan.engine.sink import Sink, arp_event
from netscan.engine.sink import response_prefixes as sink_response_prefixes
from netscan.events import Ctx
from netscan.flow import NO_APP, BurstList, Flow
from netscan.inventory.enrich import DEFAULT_PREMISES, LOCAL_SCOPE
from netscan.limits import human
from netscan.limits import resolve as resolve_limits
from netscan.sources.pcapfile import CaptureError

WLAN_APP = frozenset({"wlan-encrypted"})  # shared by every encrypted station pair
NO_BURSTS: tuple[list[float], ...] = ()  # a watched flow's bursts before the core's counters
NO_FRAMES: tuple[int, ...] = ()
COUNTERS_CHUNK = 16384  # flows' counters taken from the core per call
# records per call into the core (the GIL is released while it runs); the ops of one batch
# are Python objects at once, so a smaller batch keeps the peak down (a flood of new flows
# makes two ops a record)
BATCH = 16384
# the flows whose Python parser stopped while a batch was replayed are stopped in the core
# before the batch this many batches later (so that the core may run that far ahead in a
# thread, netscan.engine.threaded, with the same result)
STOP_LAG = 2
PUSH_CHUNK = 4096  # records handed over from Python (live capture) per call
MAX_FLOWS = _core.MAX_FLOWS
# the core drops repeated datagram facts (the same DNS answer, the same SSDP announcement
# between the same hosts), handing over each fact's first and latest sighting only
DEDUP_FACTS = True

OP_L2, OP_FLOW, OP_ARP, OP_ATTACH, OP_PAYLOAD, OP_CLOSE, OP_FINAL, OP_EVENTS = range(8)

_SKIP_ID = ("dns", "mdns", "llmnr", "nbns")


def _udp_table(
    marker_ports: Iterable[int] = (),
) -> tuple[list[tuple[int, str, bool]], dict[str, tuple[str, Any]]]:
    """The UDP port parsers for the core: (port, key, skip_id) and key -> (name, function).
    Keys are unique per function, so two ports sharing a name but not a parser stay apart.
    The core runs its own parsers for the built-in ports whose names it knows; the others'
    payloads come back here. ``marker_ports`` (named by the pack for its content markers)
    that no parser claims get the payload-head parser, which the core bounds per flow."""
    ports: list[tuple[int, str, bool]] = []
    keys: dict[str, tuple[str, Any]] = {}
    fn_key: dict[int, str] = {}
    table = dict(UDP_PARSERS)
    free = sorted(p for p in marker_ports if p not in table)
    if free:
        probe = payload.parser(free)
        for p in free:
            table[p] = (payload.NAME, probe)
    for port, (name, fn) in table.items():
        key = fn_key.get(id(fn))
        if key is None:
            key = f"udp:{name}:{len(fn_key)}"
            fn_key[id(fn)] = key
            keys[key] = (name, fn)
        ports.append((port, key, name in _SKIP_ID))
    return ports, keys


_APPS: dict[tuple[frozenset[str], str], frozenset[str]] = {}


def _with_app(app: frozenset[str], name: str) -> frozenset[str]:
    """``app | {name}``, one shared set per combination (most flows have one application)."""
    key = (app, name)
    out = _APPS.get(key)
    if out is None:
        out = app | {name}
        if len(_APPS) < 4096:
            _APPS[key] = out
    return out


def _nets(cidrs: Iterable[str]) -> list[tuple[bytes, int]]:
    out = []
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        out.append((net.network_address.packed, net.prefixlen))
    return out


class CoreCapture:
    """One input opened by the core; the attributes ``CaptureFile`` offers the analysis."""

    def __init__(self, core: Any, index: int, path: str) -> None:
        self._core = core
        self.index = index
        self.given = path  # the path as given (the report's name for the input)
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.format = ""
        self.warnings: list[str] = []
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.linktypes: set[int] = set()
        self.statistics: dict[str, int] | None = None  # ``InputInfo.statistics``
        # SHA-256 of the file as stored, hashed by the core as it reads (None until the end)
        self.sha256: str | None = None
        self.refresh()

    def refresh(self) -> None:
        try:
            info = self._core.file_info(self.index)
        except ValueError:  # the core let go of its inputs: the last facts hold
            return
        self.format = info["format"]
        self.warnings = list(info["warnings"])
        self.frames = info["frames"]
        self.first_ts = info["first_ts"]
        self.last_ts = info["last_ts"]
        self.linktypes = set(info["linktypes"])
        self.statistics = info["statistics"]
        self._position = info["position"]
        self.sha256 = info["sha256"]

    @property
    def position(self) -> int:
        """File bytes read so far (compressed bytes for gzip)."""
        # after the core let go of its inputs, the last value holds
        with contextlib.suppress(ValueError):
            self._position = int(self._core.file_info(self.index)["position"])
        return self._position

    def close(self) -> None:
        pass


class CoreEngine:
    """Runs captures through the Rust core into a ``Sink`` (an ``Engine``)."""

    name = "core"
    # the inputs are hashed on a thread of their own (the reading thread is the busiest);
    # False: by the reading thread while it is ahead of the replay (``ThreadedEngine``)
    hash_thread = True
    l2_unlisted = 0  # the core counts the frames of MACs beyond its table in its warnings

    def __init__(
        self,
        sink: Sink,
        premises: Any = None,
        dissect: bool = True,
        max_flows: int | None = None,
        marker_ports: Iterable[int] | None = None,
        response_prefixes: Iterable[str] | None = None,
        body_budget: int | None = None,
        duplicate_window: float | None = None,
    ) -> None:
        self.sink = sink
        prem = premises if premises is not None else getattr(sink, "premises", None)
        cidrs = list(prem.cidrs) if prem is not None else list(DEFAULT_PREMISES)
        if marker_ports is None:  # the UDP ports the sink's signature pack names for markers
            matcher = getattr(sink, "matcher", None)
            marker_ports = matcher.marker_ports("udp") if matcher is not None else ()
        self.marker_ports = frozenset(marker_ports)
        ports, self._udp = _udp_table(self.marker_ports)
        if response_prefixes is None:  # the sink's pack names the polls whose answers count
            response_prefixes = sink_response_prefixes(sink)
        self.response_prefixes = tuple(response_prefixes)
        # body bytes the core's HTTP streams reassemble at once (--limit body-reassembly)
        self.body_budget = _core.BODY_BUDGET if body_budget is None else body_budget
        # a frame identical to one of the few before it in its input, within this many
        # seconds, is a copy the capture made (a mirror port sending each packet twice):
        # counted, not analysed (0: every frame is analysed; --keep-duplicates)
        self.duplicate_window = duplicates.WINDOW if duplicate_window is None else duplicate_window
        self.core = _core.Core(ports, _nets(cidrs), _nets(LOCAL_SCOPE),
                               max_flows=max_flows or MAX_FLOWS, dissect=dissect,
                               dedup_facts=DEDUP_FACTS,
                               response_prefixes=list(self.response_prefixes),
                               body_budget=self.body_budget,
                               duplicate_window=self.duplicate_window)  # fmt: skip
        self.flows: dict[int, Flow] = {}  # live flows by the core's id
        self.captures: list[CoreCapture] = []
        self.packets = 0
        self.bytes = 0
        self.dissector_errors: dict[str, int] = {}
        self.repeats: dict[str, int] = {}  # repeated datagrams / facts the core dropped
        # what the capture missed of the TCP connections (``netscan.engine.loss``)
        self.capture_loss: dict[str, int] = loss.counts(0, 0, 0, 0)
        self.tunnels: dict[str, int] = {}  # frames opened from remote-mirror encapsulations
        self.mirrors = tunnels.Sessions()  # the mirror sessions they came in
        self.unsupported_linktypes: set[int] = set()
        self.warnings: list[str] = []
        self.flows_retired = 0
        self.max_flows = max_flows or MAX_FLOWS
        self._stopped: list[int] = []
        self._hold_stops = False  # run_files gives the stops to the core itself (STOP_LAG)
        self._pending: list[tuple[int, int, float, int, bytes, int]] = []
        self._finished = False
        self._parser_apps: list[str | None] | None = None  # application of each parser id
        self._apps_memo: dict[tuple[tuple[int, ...], bool], frozenset[str]] = {}

    # -- inputs ------------------------------------------------------------------------

    def open(
        self,
        paths: Iterable[str],
        gunzip: int | None = None,
        gunzip_ratio: int | None = None,
        known: Collection[str] = (),
    ) -> list[CoreCapture]:
        """Opens capture files as inputs (in order); CaptureError for one that is not.
        gzip files are streamed with at most ``gunzip`` decompressed bytes and the
        ``gunzip_ratio`` expansion guard (the work limits' defaults when not given). The
        core hashes each file as it reads it (``CoreCapture.sha256``), but the ``known``
        ones (whose hash the caller has, or does not need)."""
        lim = resolve_limits(None)
        cap = lim.gunzip if gunzip is None else gunzip
        ratio = lim.gunzip_ratio if gunzip_ratio is None else gunzip_ratio
        for p in paths:
            try:
                index = self.core.open(str(p), cap, ratio, str(p) not in known,
                                       self.hash_thread)  # fmt: skip
            except ValueError as exc:
                raise CaptureError(str(exc)) from None
            self.captures.append(CoreCapture(self.core, index, str(p)))
        return self.captures

    def run_files(
        self, progress: Callable[[int, int], None] | None = None, limit: int | None = None
    ) -> int:
        """Processes the open inputs (at most ``limit`` records); returns records done."""
        total = sum(c.size for c in self.captures)
        done = 0
        held: deque[list[int]] = deque()  # the stops of the latest batches, not yet given
        self._hold_stops = True
        try:
            while limit is None or done < limit:
                want = BATCH if limit is None else min(BATCH, limit - done)
                ops, n = self.core.run(want)
                self._replay(ops)
                held.append(self._stopped)
                self._stopped = []
                if len(held) >= STOP_LAG:  # before the batch STOP_LAG after theirs
                    self._give(held.popleft())
                done += n
                if progress is not None:
                    progress(sum(c.position for c in self.captures), total)
                if n < want:
                    break
        finally:
            self._hold_stops = False
            while held:
                self._give(held.popleft())
        self._stats()
        return done

    def _give(self, fids: list[int]) -> None:
        if fids:
            self.core.stop(fids)

    def run(
        self,
        records: Iterable[tuple[int, int, float, int, bytes, int]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Processes raw records ``(file_index, frame, ts, linktype, data, wirelen)``
        handed over from elsewhere (live capture), in chunks; ``flush()`` hands over a
        partial chunk at once (a live consumer calls it before looking at the sink)."""
        for rec in records:
            # (no local alias: a tick inside `records` may flush and replace the list)
            self._pending.append(rec)
            if len(self._pending) >= PUSH_CHUNK:
                self.flush()
                if progress is not None:
                    progress(self.packets)
        self.flush()

    def flush(self) -> None:
        """Processes the records collected so far and brings the flows' counters up to
        date: the sink then reflects every record handed over."""
        if self._pending:
            chunk, self._pending = self._pending, []
            self._replay(self.core.push(chunk))
            self._stats()
        self.sync()

    def sync(self) -> None:
        """Brings the ``Flow`` objects' counters up to date (incremental runs, and the end).
        The core hands over only the flows changed since the last call, in pieces, so a
        full table never becomes one list of every flow's counters at once."""
        flows = self.flows
        while True:
            part = self.core.counters(False, COUNTERS_CHUNK)
            for t in part:
                flow = flows.get(t[1])
                if flow is not None:
                    _set_counters(flow, t)
            if len(part) < COUNTERS_CHUNK:
                break

    def _seal_all(self, seal: Callable[[Flow], None]) -> None:
        flows = self.flows
        # the core sums the flows per conversation, when the sink can take them so
        groups = self.sink.seal_groups
        if groups is not None and groups(self.core, flows, self._apps_of):
            return
        rows = self.sink.seal_rows  # a piece at a time, when it can
        start = 0
        while True:
            part = self.core.counters(True, COUNTERS_CHUNK, start)
            if rows is not None:
                rows(part, flows)
            else:
                for t in part:
                    flow = flows.pop(t[1], None)
                    if flow is not None:
                        _set_counters(flow, t)
                        seal(flow)
            if len(part) < COUNTERS_CHUNK:
                break
            start = part[-1][1] + 1

    def _apps_of(self, ids: tuple[int, ...], wlan: bool) -> frozenset[str]:
        """The applications (``Flow.app``) of flows with these parser ids attached (the
        core's ``conv_take``): the names their attach ops give them."""
        out = WLAN_APP if wlan else NO_APP
        if not ids:
            return out
        key = (ids, wlan)
        hit = self._apps_memo.get(key)
        if hit is not None:
            return hit
        names = self._parser_apps
        if names is None:
            names = self._parser_apps = [
                name if core else self.app_name(name) for name, core in self.core.parser_names()
            ]
        for i in ids:
            name = names[i]
            if name is not None:
                out = _with_app(out, name)
        if len(self._apps_memo) < 4096:
            self._apps_memo[key] = out
        return out

    def finish(self) -> None:
        """End of input: parsers flushed and closed, counters final, warnings made."""
        if self._finished:
            return
        self._finished = True
        if self._pending:
            self.flush()
        self._flush_stops()
        self._replay(self.core.finish())
        seal = self.sink.seal_flow
        if seal is not None and self.sink.sealing():
            # the sink folds every live flow at the end: hand each over with its final
            # counters in order of appearance (the order it folds them in), and let it
            # go at once, rather than bring every flow's counters up to date first
            self._seal_all(seal)
        else:
            # every flow whose counters were never handed over, or changed since, is
            # marked in the core: the changed ones are all the ones still to bring up to date
            self.sync()
        for c in self.captures:
            c.refresh()
        self._stats()
        st = self.core.stats()
        for name, n in st["dissector_errors"].items():  # faults of the core's dissectors
            self.dissector_errors[name] = self.dissector_errors.get(name, 0) + n
        self.repeats = {
            "datagrams": int(st["datagrams_repeated"]),
            "facts": int(st["facts_repeated"]),
            "latest_sightings": int(st["facts_resent"]),
            # payload heads of pack-named ports: datagrams past a flow's first ones, bytes cut
            "payload_datagrams": int(st["probe_dropped"]),
            "payload_bytes_cut": int(st["probe_cut"]),
            # copies of a frame just before them in their input, made by the capture
            "duplicate_frames": int(st["duplicates"]),
        }
        # evicted flows are reported with every engine's retired flows (analyze.limit_warnings)
        self.flows_retired = int(st["evicted"])
        if st["panics"]:
            self.warnings.append(
                f"{st['panics']} packets could not be decoded (a fault in the packet core was "
                "caught); they were counted but not analysed"
            )
        if st["duplicates"]:
            self.warnings.append(duplicates.warning(st["duplicates"], st["duplicate_bytes"],
                                                    self.duplicate_window))  # fmt: skip
        missed = _missed(st)
        self.capture_loss = loss.counts(*missed)
        said = loss.warning(*missed)
        if said is not None:
            self.warnings.append(said)
        if st["forced_skips"]:
            self.warnings.append(
                f"{st['forced_skips']} out-of-order TCP stretches were skipped because the "
                "reassembly memory budget was reached"
            )
        if st.get("bodies_cut"):
            self.warnings.append(
                f"{st['bodies_cut']} HTTP request bodies were cut short: the bodies being "
                f"reassembled at once reached {human(self.body_budget)} (--limit "
                "body-reassembly=N); each was analysed as far as it went"
            )
        if st["l2_dropped"]:
            self.warnings.append(
                f"{st['l2_dropped']} frames came from MAC addresses beyond the limit of "
                "distinct addresses tracked; they were counted but their senders not listed"
            )

    def release(self) -> None:
        """Drops the lookup tables once the input is done: the flows live on in the sink."""
        for c in self.captures:
            c.refresh()
        self.core.release()
        self.flows = {}
        _trim_heap()

    # -- replay ------------------------------------------------------------------------

    def _stats(self) -> None:
        st = self.core.stats()
        self.packets = st["packets"]
        self.bytes = st["bytes"]
        self.unsupported_linktypes = set(st["unsupported"])
        # the frames opened from remote mirrors so far, and their sessions (a live run's
        # header counts them as they come)
        self.tunnels = {str(k): int(n) for k, n in st["tunnelled"].items()}
        self.mirrors = tunnels.Sessions([(str(a), str(b), str(k), int(n))
                                         for a, b, k, n in st["mirror_sessions"]],
                                        int(st["mirror_unlisted"]))  # fmt: skip

    def missed_so_far(self) -> tuple[int, int, int, int]:
        """What the capture missed of the TCP connections so far (``loss``): bytes, gaps,
        connections and the TCP payload captured; a hole is counted once it is known to stay open
        (pushed out by later ones, or its connection ended)."""
        return _missed(self.core.stats())

    def _flush_stops(self) -> None:
        if self._stopped and not self._hold_stops:
            self.core.stop(self._stopped)
            self._stopped = []

    def _replay(self, ops: list[tuple[Any, ...]]) -> None:
        flows = self.flows
        sink = self.sink
        flow_end = sink.on_flow_end
        on_event = sink.on_event
        on_flow = sink.on_flow
        apps = _APPS
        for op in ops:
            kind = op[0]
            if kind == OP_EVENTS:  # the core's dissectors: events ready, with their Ctx
                flow = flows.get(op[1])
                if flow is not None:
                    for ev in op[2]:
                        on_event(ev, flow)
            elif kind == OP_PAYLOAD:
                _, fid, from_a, frame, ts, data, gap, last = op
                flow = flows.get(fid)
                if flow is None or not flow.parser:
                    continue
                parser = flow.parser
                ctx = flow.ctx(frame, ts, from_a)
                if gap:
                    self._gap(flow, ctx, from_a, fid)
                    if not flow.parser:
                        continue
                self._feed(flow, parser, data, ctx, from_a, fid)
                if last and flow.parser and parser.done:
                    self._close_parser(flow, ctx)
                    self._stopped.append(fid)
            elif kind == OP_FLOW:
                (_, fid, file, proto, wlan, a, b, a_port, b_port, a_mac, b_mac, ts,
                 frame, bursts, a_scope, b_scope, attach, in_core) = op  # fmt: skip
                # (addresses and MACs come as the core's shared strings; "" for none); the
                # first frames come with the counters, the frame that opened the flow now
                if wlan:
                    flow = Flow(file, 0, "", "", 0, 0, a_mac, b_mac, ts, -1, -1, None,
                                NO_FRAMES, frame)  # type: ignore[arg-type]  # fmt: skip
                    flow.app = WLAN_APP
                else:
                    # the core decided the premises scope (and whether uploads are watched:
                    # it keeps the bursts until the counters)
                    flow = Flow(file, proto, a, b, a_port, b_port, a_mac, b_mac, ts, a_scope,
                                b_scope, NO_BURSTS if bursts else None, NO_FRAMES,  # type: ignore[arg-type]
                                frame)  # fmt: skip
                flows[fid] = flow
                on_flow(flow)
                if attach is not None:  # the parser the first packet chose (as OP_ATTACH)
                    if in_core:
                        app = apps.get((flow.app, attach))
                        flow.app = app if app is not None else _with_app(flow.app, attach)
                    else:
                        self._attach(flow, attach)
            elif kind == OP_L2:
                sink.on_frame_l2(op[1], op[2], op[3], op[4], op[5])
            elif kind == OP_ATTACH:
                flow = flows.get(op[1])
                if flow is not None:
                    if op[3]:  # dissected in the core: only the application is named here
                        app = apps.get((flow.app, op[2]))
                        flow.app = app if app is not None else _with_app(flow.app, op[2])
                    else:
                        self._attach(flow, op[2])
            elif kind == OP_CLOSE:
                flow = flows.get(op[1])
                if flow is not None and flow.parser:
                    self._close_parser(flow, flow.ctx(op[3], op[4], op[2]))
            elif kind == OP_ARP:
                self._arp(op)
            elif kind == OP_FINAL:  # evicted: counters final, folded into the inventory
                flow = flows.pop(op[1], None)
                if flow is not None:
                    _set_counters(flow, op)
                    if flow_end is not None:
                        flow_end(flow)
        self._flush_stops()

    def app_name(self, key: str) -> str | None:
        """The application a parser key names on its flow (``Flow.app``); None for the
        parsers of link facts (Router Advertisements), which name none."""
        if key == "icmpv6":
            return None
        return self._udp[key][0] if key.startswith("udp:") else key

    def _attach(self, flow: Flow, key: str) -> None:
        # every TCP stream parser runs in the core: only datagram parsers are attached here
        if key.startswith("udp:"):
            name, fn = self._udp[key]
            parser: Any = Datagrams(fn, skip_id=name in _SKIP_ID)
        else:
            parser = Datagrams(icmpv6.parse)
        name = self.app_name(key)
        if name is not None:
            flow.app = _with_app(flow.app, name)
        flow.parser = parser

    def _error(self, flow: Flow, parser: Any, fid: int) -> None:
        name = type(parser).__name__
        self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1
        flow.parser = False
        self._stopped.append(fid)

    def _feed(self, flow: Flow, parser: Any, data: bytes, ctx: Ctx, from_a: bool, fid: int) -> None:
        try:
            events = parser.feed(data, ctx, from_a)
        except Exception:  # a dissector bug must never stop the analysis
            self._error(flow, parser, fid)
            return
        if events:
            on_event = self.sink.on_event
            for ev in events:
                on_event(ev, flow)

    def _gap(self, flow: Flow, ctx: Ctx, from_a: bool, fid: int) -> None:
        """Tell the parser that bytes of one direction were never captured."""
        gap = getattr(flow.parser, "gap", None)
        if gap is None:
            return
        try:
            events = gap(ctx, from_a)
        except Exception:
            self._error(flow, flow.parser, fid)
            return
        if events:
            for ev in events:
                self.sink.on_event(ev, flow)

    def _close_parser(self, flow: Flow, ctx: Ctx) -> None:
        parser = flow.parser
        flow.parser = False
        if parser:
            try:
                events = parser.close(ctx)
            except Exception:
                name = type(parser).__name__
                self.dissector_errors[name] = self.dissector_errors.get(name, 0) + 1
                return
            if events:
                for ev in events:
                    self.sink.on_event(ev, flow)

    def _arp(self, op: tuple[Any, ...]) -> None:
        _, file, frame, ts, code, sha, spa, tha, tpa = op
        self.sink.on_event(arp_event(file, frame, ts, code, sha, spa, tha, tpa), None)

    # -- the Engine protocol (netscan.engine.protocol) -----------------------------------

    @property
    def blind_spots(self) -> list[str]:
        return []

    def step(
        self, limit: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> bool:
        """Analyses up to ``limit`` records of the open inputs (all when None); False
        once they are exhausted. The flows' counters are brought up to date."""
        done = self.run_files(progress, limit)
        if limit is None or not done:
            return False
        self.sync()
        return True

    def bytes_read(self) -> tuple[int, int]:
        return sum(c.position for c in self.captures), sum(c.size for c in self.captures)

    def inputs(self, final: bool) -> list[InputInfo]:
        out = []
        for c in self.captures:
            if not final:
                c.refresh()
            out.append(input_info(c, c.given, final))
        return out


def input_info(c: Any, path: str, final: bool) -> InputInfo:
    """The report's facts of an input the core read (``CoreCapture``);
    its frames are counted once the input is done."""
    said = loss.host_drops(c.statistics)
    return InputInfo(path=path, sha256=c.sha256 or "", size=c.size, packets=c.frames if final else 0,
                     first_ts=c.first_ts, last_ts=c.last_ts,
                     warnings=list(c.warnings) + ([said] if said else []),
                     format=c.format, linktypes=sorted(c.linktypes),
                     statistics=c.statistics)  # fmt: skip


def _missed(st: dict[str, Any]) -> tuple[int, int, int, int]:
    """The core's counts of what the capture missed (``loss``): bytes, gaps, connections,
    and the TCP payload captured."""
    return (st["tcp_missed_bytes"], st["tcp_missed_gaps"], st["tcp_missed_connections"],
            st["tcp_payload_bytes"])  # fmt: skip


def _trim_heap() -> None:
    """Give the heap memory freed with the flow table back to the system (glibc keeps it
    otherwise, and the stages after the engine would start from the table's peak)."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def _set_counters(flow: Flow, t: tuple[Any, ...]) -> None:
    (_, _fid, flow.bytes_ab, flow.bytes_ba, flow.pkts_ab, flow.pkts_ba, flow.payload_ab,
     flow.payload_ba, flow.last_ts, flow.last_frame, first, bursts, flow.missed_ab,
     flow.missed_ba) = t  # fmt: skip
    flow.first_frames = first  # fresh lists from the core, nobody else holds them
    if bursts is not None:
        flow.bursts = BurstList.from_bytes(bursts)
