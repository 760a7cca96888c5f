"""One analysis run: inputs → engine → inventory → signatures → roles → findings.

Both the CLI and the TUI call ``Analyzer``; each stage lives in its own package.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from netscan import limits as _limits
from netscan.analysis.finding import Finding
from netscan.engine.protocol import Engine, InputInfo
from netscan.engine.sink import SealGroups, SealRows
from netscan.engine.tunnels import Sessions
from netscan.flow import Flow
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation
from netscan.safefile import PrivateDir
from netscan.sources.pcapfile import CaptureError
from netscan.util import input_digest, sha256_file


@dataclass
class Options:
    premises: list[str] | None = None
    engine: str = "core"
    signatures: str | None = None
    country: str | None = None
    jobs: int = 1
    keep_evidence: str | None = None
    limits: _limits.Limits | None = None  # None: the defaults and $NETSCAN_LIMITS
    max_flows: int | None = None  # live flows the core keeps before evicting the idlest
    analyst: str | None = None
    # premises ranges inferred from the link (Router Advertisements, DHCPv6, local MACs)
    # are added to the premises; False: only reported
    infer_premises: bool = True
    # a frame that holds the same IP packet as one of the few before it in its capture (or,
    # without one, the same bytes), within milliseconds, is a copy the capture made (a
    # mirror port sending each packet twice) and analysed once; True: every frame is
    # analysed (--keep-duplicates)
    keep_duplicates: bool = False


@dataclass
class Result:
    options: Options
    inputs: list[InputInfo]
    inventory: Inventory
    conversations: list[Conversation]
    findings: list[Finding]
    pack: dict[str, Any]
    engine: str
    packets: int
    warnings: list[str]
    dissector_errors: dict[str, int]
    # what the engine set aside, counted (``Engine.repeats``): the report's engine_counts
    repeats: dict[str, int] = field(default_factory=dict)
    # what the capture missed of the TCP connections (``Engine.capture_loss``)
    capture_loss: dict[str, int] = field(default_factory=dict)
    # frames opened from remote-mirror encapsulations, by kind (``Engine.tunnels``), and
    # the mirror sessions they came in (``Engine.mirrors``)
    tunnels: dict[str, int] = field(default_factory=dict)
    mirrors: Sessions = field(default_factory=Sessions)
    # sources other than captures (Zeek logs): where evidence lines came from, and what the
    # source cannot tell
    record_refs: Any = None
    limits: list[str] = field(default_factory=list)
    # what a live capture lost before its ring files (``sources.live.Drops``, counts by
    # where), set once the capture has stopped; empty for a file
    live_drops: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def relaxed_gc(collect_first: bool = True) -> Iterator[None]:
    """Cyclic garbage collection, rarely: an analysis allocates millions of small objects
    that never form cycles, and a full collection over them every few thousand
    allocations costs a fifth of the run. What exists before the run is frozen out of
    the collector's view (after a collection of the young generations only: a full one
    walks every object of the imported libraries, a tenth of a second or more, and finds
    nothing to free; older garbage, if any, is collected after the unfreeze). Without
    ``collect_first`` nothing is collected before the freeze (after an analysis, whose
    inventory fills the young generations with live objects, that collection would walk
    them all only to free a handful)."""
    old = gc.get_threshold()
    if collect_first:
        gc.collect(1)
    gc.freeze()
    gc.set_threshold(200_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def load_signatures(directory: str | None) -> tuple[Any, dict[str, Any]]:
    """The active signature pack's matcher and its version facts."""
    from netscan.signatures.matcher import Matcher
    from netscan.signatures.pack import load_pack, resolve_pack_source

    path, origin = resolve_pack_source(directory)
    # resolve once: an update that swaps the working copy mid-load cannot mix two packs
    pack = load_pack(path.resolve(), origin=origin)
    return Matcher(pack), pack_info(pack)


def pack_info(pack: Any) -> dict[str, Any]:
    """The pack facts every report and the TUI show: where it comes from, commit, date, count."""
    v = pack.version
    return {
        "source": str(v.source_dir),
        "origin": v.origin,
        "name": v.name,
        "pack_version": v.pack_version,
        "commit": v.git_commit,
        "date": v.git_date,
        "count": len(pack.signatures),
        "counts": dict(pack.counts),
    }


def check_engine(name: str) -> None:
    """Raise ``EngineError`` (one line) when the engine asked for cannot run here."""
    if name == "tshark":
        from netscan.engine.tshark import tshark_binary

        tshark_binary()


def unique_inputs(paths: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """The inputs without repeats of the same content (same sha256), a warning for each
    repeat left out (the same capture given twice would count every packet twice), and
    the sha256 of the inputs that had to be hashed for it: only files of the same size
    can repeat one another, so only those are read here (the core hashes the others
    while it reads them)."""
    sizes: dict[str, int] = {}
    for p in paths:
        if p == "-" and not os.path.exists(p):
            raise CaptureError(
                "-: a capture cannot be read from standard input; give its file (gzip is "
                "read as it is), or use netscan capture for a live interface"
            )
        try:
            with open(p, "rb") as fh:
                sizes[p] = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:
            raise CaptureError(f"{p}: no such file") from None
        except IsADirectoryError:
            raise CaptureError(f"{p}: is a directory, not a capture file") from None
        except OSError as exc:
            raise CaptureError(f"{p}: cannot read ({exc.strerror or exc})") from None
    same_size = Counter(sizes.values())
    kept: list[str] = []
    digests: dict[str, str] = {}
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for p in paths:
        if same_size[sizes[p]] < 2:
            kept.append(p)
            continue
        try:
            digest = sha256_file(p)
        except OSError as exc:
            raise CaptureError(f"{p}: cannot read ({exc.strerror or exc})") from None
        first = seen.get(digest)
        if first is not None:
            warnings.append(
                f"{p} has the same content (sha256 {digest[:12]}…) as {first}; "
                "it was analysed once, not twice"
            )
            continue
        seen[digest] = p
        digests[p] = digest
        kept.append(p)
    return kept, warnings, digests


def overlap_warnings(infos: list[InputInfo]) -> list[str]:
    """A warning for each pair of inputs on the same link type whose packets overlap in
    time: two captures of one link would count every packet twice."""

    def hms(ts: float) -> str:
        try:
            return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
        except (ValueError, OverflowError, OSError):  # a capture's clock out of range
            return f"{ts:.0f} s"

    out: list[str] = []
    for i, a in enumerate(infos):
        for b in infos[i + 1 :]:
            if None in (a.first_ts, a.last_ts, b.first_ts, b.last_ts):
                continue
            if not set(a.linktypes) & set(b.linktypes):
                continue
            start = max(a.first_ts, b.first_ts)  # type: ignore[type-var]
            stop = min(a.last_ts, b.last_ts)  # type: ignore[type-var]
            if start >= stop:  # type: ignore[operator]
                continue
            out.append(
                f"{a.path} and {b.path} overlap in time ({hms(start)} to {hms(stop)} UTC) on "  # type: ignore[arg-type]
                "the same link type: if both were captured on the same interface or link, "
                "the packets of that period are counted twice (give one of them)"
            )
    return out


def _unapplied_inference(inventory: Inventory) -> list[str]:
    """A run whose inventory's inputs were too many to keep, and that cannot read its
    input again (step by step over records, live capture): the inference is reported,
    not applied."""
    cidrs = inventory.premises.inference.cidrs
    return [
        "the link shows premises ranges the analysis did not use: "
        f"{', '.join(cidrs[:8])}"
        + (" …" if len(cidrs) > 8 else "")
        + " (netscan analyze applies them; or give --premises)"
    ]


def _outside_warnings(inference: Any) -> list[str]:
    """With --premises: addresses outside the given ranges whose frames are local."""
    if inference is None or inference.origin != "given" or not inference.local_outside:
        return []
    out = inference.local_outside
    return [
        "addresses outside the given premises ranges come straight from MACs on the local "
        f"link: {', '.join(out[:8])}"
        + (" …" if len(out) > 8 else "")
        + "; they count as off-site because --premises says so (without --premises they "
        "would be inferred as premises)"
    ]


def _inference_warnings(inference: Any) -> list[str]:
    """What the premises inference added (a line for the summary and every report)."""
    if inference is None or not inference.applied:
        return []
    return [
        f"premises inferred from the link and added to the default ranges: "
        f"{', '.join(inference.cidrs[:8])}"
        + (" …" if len(inference.cidrs) > 8 else "")
        + " (the report lists why; --premises overrides)"
    ]


def premises_warnings(premises: list[str] | None, inventory: Inventory) -> list[str]:
    """A warning when premises ranges the user gave match no address seen: every device
    then counts as off-site and findings can vanish or be wrong."""
    if not premises:
        return []
    seen: set[str] = set()
    for dev in inventory.devices.values():
        seen.update(dev.ips)
    seen.update(inventory.endpoints)
    if not seen:
        return []
    addrs = []
    for ip in seen:
        with contextlib.suppress(ValueError):
            addrs.append(ipaddress.ip_address(ip))
    unmatched = []
    for cidr in premises:
        net = ipaddress.ip_network(cidr, strict=False)
        if not any(a.version == net.version and a in net for a in addrs):
            unmatched.append(cidr)
    if not unmatched:
        return []
    if len(unmatched) == len(premises):
        return [
            f"the premises ranges ({', '.join(unmatched)}) match no device or address seen in "
            "the captures: every address counts as off-site, so findings may be missing or "
            "wrong (check --premises or the settings file)"
        ]
    return [f"premises range(s) {', '.join(unmatched)} match no device or address seen"]


class Analyzer:
    """Runs the pipeline; ``progress(done_bytes, total_bytes)`` is called now and then."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.limits = _limits.resolve(options.limits)
        # the core's live-flow bound: --max-flows, else the flows work limit
        self.max_flows = options.max_flows or self.limits.flows
        self.body_budget = self.limits.body_reassembly
        self.duplicate_window: float | None = 0.0 if self.options.keep_duplicates else None
        self.premises = Premises(options.premises)
        self.matcher: Any = None
        self.pack: dict[str, Any] = {
            "source": None,
            "commit": None,
            "date": None,
            "count": 0,
            "counts": {},
        }
        check_engine(options.engine)
        self.matcher, self.pack = load_signatures(options.signatures)
        # checked (or created 0700) before any work: an unsafe directory is refused up front
        self.keep: PrivateDir | None = None
        if options.keep_evidence:
            self.keep = PrivateDir.open(options.keep_evidence, "--keep-evidence directory")

    def run(self, paths: list[str], progress: Callable[[int, int], None] | None = None) -> Result:
        with relaxed_gc():
            run = self.drive_files(paths)
            while run.step(None, progress):
                pass
            run.finish()
            total = run.engine.bytes_read()[1]
            if progress is not None:
                progress(total, total)
            return run.result()

    def drive_files(self, paths: list[str], premises: Premises | None = None) -> Drive:
        """The driver of one analysis of capture files (repeats of the same content
        analysed once), with the engine the options name."""
        kept, warnings, digests = unique_inputs(list(paths))

        def make(sink: Any, prem: Premises) -> Engine:
            # the core hashes the inputs as it reads them, but those hashed already
            return self._file_engine(sink, prem, kept, set(digests))

        return Drive(self, make, [str(p) for p in kept], warnings, digests, premises,
                     rereadable=True)  # fmt: skip

    def _file_engine(
        self, sink: Any, premises: Premises, paths: list[str], known: set[str]
    ) -> Engine:
        lim = self.limits
        if self.options.engine == "tshark":
            # the other engine: tshark, the independent reference
            from netscan.engine.tshark import TsharkEngine

            tshark = TsharkEngine(sink, limits=lim, duplicate_window=self.duplicate_window)
            tshark.open(paths, lim.gunzip, lim.gunzip_ratio)
            return tshark
        if self.options.jobs > 1:
            # --jobs: the core runs ahead in a thread of its own while this one replays what
            # it found into the inventory (the same report as one job). Worker processes
            # were slower: their parent replayed every op alone, and more (netscan/engine/
            # threaded.py); the replay, not the core, is what one job waits for
            from netscan.engine.threaded import ThreadedEngine

            threaded = ThreadedEngine(sink, premises, max_flows=self.max_flows,
                                      body_budget=self.body_budget,
                                      duplicate_window=self.duplicate_window)  # fmt: skip
            threaded.open(paths, lim.gunzip, lim.gunzip_ratio, known)
            return threaded
        # the Rust packet core reads, decodes and tracks flows; Python dissects what it
        # hands over and keeps everything above
        from netscan.engine.core import CoreEngine

        core = CoreEngine(sink, premises, max_flows=self.max_flows, body_budget=self.body_budget,
                          duplicate_window=self.duplicate_window)  # fmt: skip
        core.open(paths, lim.gunzip, lim.gunzip_ratio, known)
        return core

    def _inferred_premises(self, inventory: Inventory) -> Premises | None:
        """The premises with what the link shows added, when that changes the analysis
        (None: the run's premises stand; its inference is recorded for the report).
        Without ``--premises`` every inferred range is added to the defaults; ``--premises``
        overrides: nothing is added, and the ranges of local-link addresses outside the
        given ones are only reported (a warning)."""
        given = bool(self.options.premises)
        inference = inventory.link.infer(inventory.premises)
        if given:
            local = [r for r in inference.ranges if "local-link" in r.sources]
            inference.local_outside = [r.range for r in local]
            inference.ranges = local
        inference.origin = "given" if given else "default"
        # the run's own copy: the analyzer's premises stay as they were for the next run
        inventory.premises = Premises(list(inventory.premises.cidrs), inference=inference)
        if given or not inference.ranges or not self.options.infer_premises:
            return None
        offsite = list(inventory.endpoints) + [
            ip for addrs in inventory.link.carried.values() for ip in addrs
        ]
        if not inference.covering(offsite):
            return None
        applied = replace(inference, applied=True, origin="default+inferred")
        return Premises(list(self.premises.cidrs) + applied.cidrs, inference=applied)

    def conclude(
        self,
        inventory: Inventory,
        engine: Any,
        infos: list[InputInfo],
        warnings: list[str],
        engine_name: str,
        packets: int,
        unsupported: set[int],
    ) -> Result:
        """The stages after the engine: finalize the inventory, roles, findings. Every
        analysis ends here (files, step by step, live capture, Zeek logs)."""
        for lt in sorted(unsupported):
            warnings.append(
                f"link type {lt} is not supported; its frames were counted but not decoded"
            )
        warnings.extend(overlap_warnings(infos))
        convs = inventory.finalize()
        warnings.extend(limit_warnings(inventory, engine, convs, self.limits))
        warnings.extend(premises_warnings(self.options.premises, inventory))
        from netscan.analysis.findings import find
        from netscan.analysis.roles import assign_roles

        assign_roles(inventory, convs)
        findings = find(inventory, convs, self.options, warnings, keep=self.keep)
        if self.keep is not None:
            warnings.extend(self.keep.warnings)
        return Result(
            options=self.options,
            inputs=infos,
            inventory=inventory,
            conversations=convs,
            findings=findings,
            pack=self.pack,
            engine=engine_name,
            packets=packets,
            warnings=warnings,
            dissector_errors=dict(engine.dissector_errors),
            repeats=dict(engine.repeats),
            capture_loss=dict(engine.capture_loss),
            tunnels=dict(engine.tunnels),
            mirrors=engine.mirrors,
        )

    def run_incremental(
        self,
        paths: list[str] | None = None,
        batch: int = 20000,
        *,
        records: Iterable[Any] | None = None,
        source: str = "live",
    ) -> Iterator[Partial]:
        """Run the analysis in steps of ``batch`` records, yielding a ``Partial`` after each and a
        final one whose ``result()`` is what ``run(paths)`` returns. Give capture ``paths``, or
        ``records`` (engine input records, e.g. from a live capture) named ``source``. The core
        streams; with tshark the whole run is one step."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if paths is not None:
            return _steps(self.drive_files(paths), batch)
        from netscan.live_analysis import RecordsEngine

        stream: Iterator[Any] = iter(records or ())

        def make(sink: Any, prem: Premises) -> Engine:
            return RecordsEngine(sink, prem, stream, source, max_flows=self.max_flows,
                                 body_budget=self.body_budget,
                                 duplicate_window=self.duplicate_window)  # fmt: skip

        return _steps(Drive(self, make, [source], [], {}), batch)


def limit_warnings(
    inventory: Inventory, engine: Any, convs: list[Conversation], limits: _limits.Limits
) -> list[str]:
    """What the work limits retired, folded or left out, counted (engine, inventory, report)."""
    out: list[str] = []
    retired = engine.flows_retired
    if retired:
        out.append(
            f"{retired:,} flows were retired from the engine's table of "
            f"{engine.max_flows or limits.flows:,} live "
            "flows (idlest first); their totals are kept in the conversations (--limit flows=N)"
        )
    held = engine.repeats.get("payload_datagrams", 0)
    cut = engine.repeats.get("payload_bytes_cut", 0)
    if held or cut:
        out.append(
            f"{held:,} datagrams on the UDP ports the signature pack names for content markers "
            "came after each flow's first ones and were not examined for markers; "
            f"{cut:,} bytes of longer datagrams were cut at the examined head's bound"
        )
    unlisted = engine.l2_unlisted
    if unlisted:
        out.append(
            f"{unlisted:,} frames came from MAC addresses beyond the limit of {limits.devices:,} "
            "devices and were not inventoried (--limit devices=N)"
        )
    out.extend(inventory.limit_warnings())
    if len(convs) > limits.report_flows:
        out.append(
            f"{len(convs) - limits.report_flows:,} of {len(convs):,} conversations (the smallest) "
            f"are not listed in the JSON report's flows (limit report-flows="
            f"{limits.report_flows:,}); their totals are in flows_aggregated"
        )
    return out


# -- the one driver ----------------------------------------------------------------------

# sink calls a run keeps so that premises the link shows (inferred at the end) apply without
# reading the input again; a run with more drops its log and, when an inference then
# applies, reads its files again (a step-by-step or live run reports the inference instead)
LOG_CALLS = 100_000
_L2, _FLOW, _EVENT, _END, _SEAL = range(5)


class SinkLog:
    """The inventory's inputs, passed on and recorded (bounded), so that a fresh inventory
    with other premises can be told the same things in the same order.

    The engines watch the uploads of every flow to an off-site address, also from an
    address the run's premises call off-site (the inferred premises may cover it); such
    bursts are kept aside here, where the inventory does not see them, until the premises
    are decided."""

    # the engine's end-of-input fold a piece at a time: only once nothing is recorded
    # (``_pass_through``); a recorded seal goes through ``seal_flow``
    seal_rows: SealRows | None = None
    seal_groups: SealGroups | None = None

    def __init__(self, inventory: Inventory, record: bool, limit: int | None = None) -> None:
        self.inventory = inventory
        self.premises = inventory.premises
        self.matcher = inventory.matcher  # the engines hand over payloads on its marker ports
        self.calls: list[tuple[Any, ...]] | None = [] if record else None
        self.limit = LOG_CALLS if limit is None else limit
        self.aside: dict[Flow, Any] = {}  # flow -> upload bursts from an off-site address
        self.dropped = False  # the log outgrew its bound
        if record:  # the events' signature hits, for the replay (the log keeps the events)
            inventory.hits_memo = {}
        else:
            self._pass_through()

    def _pass_through(self) -> None:
        """Nothing to record: the engine calls the inventory itself from now on (it looks
        the sink's methods up per batch or per call), but for retired flows."""
        inv = self.inventory
        inv.hits_memo = None  # no replay: the events' hits are not needed again
        self.on_frame_l2 = inv.on_frame_l2  # type: ignore[method-assign]
        self.on_flow = inv.on_flow  # type: ignore[method-assign]
        self.on_event = inv.on_event  # type: ignore[method-assign]
        # the engine's end-of-input fold, a piece of final counters at a time (only when
        # nothing is recorded: a recorded seal goes through ``seal_flow``)
        self.seal_rows = self._seal_rows
        self.seal_groups = self._seal_groups

    def _seal_groups(
        self,
        rows: Any,
        flows: dict[int, Flow],
        apps_of: Callable[[tuple[int, ...], bool], frozenset[str]],
    ) -> bool:
        # as ``seal_flow``: the bursts of a flow from an off-site sender do not count
        return self.inventory.seal_groups(rows, flows, apps_of, offsite_sender_bursts=False)

    def _seal_rows(self, rows: list[tuple[Any, ...]], flows: dict[int, Flow]) -> None:
        # as ``seal_flow``: the bursts of a flow from an off-site sender do not count
        get = flows.get
        kept: list[tuple[Any, ...]] = []
        for t in rows:
            flow = get(t[1])
            if flow is not None and flow.a_scope == 2:
                flow.bursts = None
                if t[11] is not None:
                    t = (*t[:11], None, *t[12:])
            kept.append(t)
        self.inventory.seal_rows(kept, flows)

    @property
    def complete(self) -> bool:
        return self.calls is not None

    def _log(self, call: tuple[Any, ...]) -> None:
        calls = self.calls
        if calls is None:
            return
        if len(calls) >= self.limit:
            self.calls = None
            self.aside = {}
            self.dropped = True
            self._pass_through()
            return
        calls.append(call)

    def _set_aside(self, flow: Flow) -> None:
        # a flow between two off-site addresses: its bursts count only if inferred
        # premises cover its sender (the replay decides)
        if flow.a_scope == 2 and flow.bursts is not None:
            if self.calls is not None:
                self.aside[flow] = flow.bursts
            flow.bursts = None

    # -- the sink ----------------------------------------------------------------------

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        self._log((_L2, file, frame, ts, src, wirelen))
        self.inventory.on_frame_l2(file, frame, ts, src, wirelen)

    def on_flow(self, flow: Flow) -> None:
        frame = flow.first_frames[0] if flow.first_frames else flow.last_frame
        self._log((_FLOW, flow, frame))
        self.inventory.on_flow(flow)
        if flow.bursts is None and flow.a_scope == 2 and flow.b_scope == 2:
            flow.track_bursts()  # engines that leave the watching to the sink (tshark)

    def on_event(self, event: Any, flow: Flow | None) -> None:
        # as ``_log``, kept inline: one call per event
        calls = self.calls
        if calls is not None:
            if len(calls) < self.limit:
                calls.append((_EVENT, event, flow))
            else:
                self._log((_EVENT, event, flow))
        self.inventory.on_event(event, flow)

    def on_flow_end(self, flow: Flow) -> None:
        self._set_aside(flow)
        self._log((_END, flow))
        self.inventory.on_flow_end(flow)

    def sealing(self) -> bool:
        return self.inventory.sealing()

    def seal_flow(self, flow: Flow) -> None:
        self._set_aside(flow)
        self._log((_SEAL, flow))
        self.inventory.seal_flow(flow)

    def set_aside_live(self) -> None:
        """Before the inventory reads its live flows (a partial result, the end)."""
        for flow in self.inventory.flows:
            self._set_aside(flow)

    # -- the replay --------------------------------------------------------------------

    def replay(self, inventory: Inventory) -> Inventory:
        """Tells ``inventory`` (with other premises) what this run's inventory was told,
        each flow's scopes and upload bursts decided by its premises as an engine given
        those premises would have decided them."""
        assert self.calls is not None
        scope = inventory.premises.scope
        aside = self.aside
        sealing: bool | None = None
        on_event = inventory.on_event
        # the events' signature hits as the first pass found them (they depend on the
        # event alone, not on the premises)
        inventory.hits_given = self.inventory.hits_memo
        for call in self.calls:
            kind = call[0]
            if kind == _EVENT:
                on_event(call[1], call[2])
            elif kind == _FLOW:
                flow = call[1]
                if flow.a_ip:
                    sa = flow.a_scope = scope(flow.a_ip)
                    sb = flow.b_scope = scope(flow.b_ip)
                    if sb == 2 and sa != 2:
                        if flow in aside:
                            flow.bursts = aside.pop(flow)
                    else:
                        flow.bursts = None
                # the flow as it was when it opened: the frame that opened it
                kept = flow.first_frames, flow.last_frame
                flow.first_frames, flow.last_frame = (), call[2]  # type: ignore[assignment]
                try:
                    inventory.on_flow(flow)
                finally:
                    flow.first_frames, flow.last_frame = kept
            elif kind == _L2:
                inventory.on_frame_l2(*call[1:])
            elif kind == _END:
                inventory.on_flow_end(call[1])
            else:  # sealed at the end of input, when this inventory seals too
                if sealing is None:
                    sealing = inventory.sealing()
                if sealing:
                    inventory.seal_flow(call[1])
        inventory.hits_given = None
        self.inventory.hits_memo = None
        self.calls = None
        self.aside = {}
        return inventory


class Drive:
    """One analysis: an engine feeding an inventory, concluded once.

    Every analysis runs through it: capture files (``Analyzer.run``), step by step
    (``Analyzer.run_incremental``, the TUI) and live capture (``LiveAnalysis``). Premises
    that the link shows are decided at the end: when they cover addresses the run called
    off-site, a fresh inventory is told what the engine told this one (the ``SinkLog``),
    with them, so that every decision (devices, conversations, upload bursts, findings)
    is made with them without reading the input again.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        make: Callable[[Any, Premises], Engine],
        files: list[str],
        warnings: list[str],
        digests: dict[str, str],
        premises: Premises | None = None,
        *,
        rereadable: bool = False,
    ) -> None:
        self.analyzer = analyzer
        self.rereadable = rereadable  # capture files, which a second pass can read again
        self.premises = premises or analyzer.premises
        self.files = files
        self.warnings = warnings  # the inputs' own (repeats left out)
        self.digests = digests
        opts = analyzer.options
        # the sink's calls are kept only when inferred premises may apply at the end
        self.inferring = premises is None and not opts.premises and opts.infer_premises
        self.inventory = Inventory(self.premises, analyzer.matcher, files=files,
                                   limits=analyzer.limits)  # fmt: skip
        self.log = SinkLog(self.inventory, record=self.inferring)
        self.engine: Engine = make(self.log, self.premises)
        self._make = make
        self.finished = False

    def step(self, limit: int | None, progress: Callable[[int, int], None] | None = None) -> bool:
        """Analyse up to ``limit`` records (all when None); False once the input is done."""
        return self.engine.step(limit, progress)

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.engine.finish()
        self.engine.release()
        self.log.set_aside_live()
        self.inventory.seal()

    def _infos(self, final: bool) -> list[InputInfo]:
        infos = self.engine.inputs(final)
        for info in infos:
            if not info.sha256:
                info.sha256 = self.digests.get(info.path, "")
            if not info.sha256 and final and self.rereadable and info.path in self.files:
                # an engine that does not hash what it reads (tshark): the file is read for it
                info.sha256 = self.digests[info.path] = input_digest(info.path)
        return infos

    def snapshot(self) -> Result:
        """The analysis so far (between steps), with the run's premises."""
        self.log.set_aside_live()
        return self._conclude(self.inventory, final=False)

    def _conclude(self, inventory: Inventory, final: bool) -> Result:
        infos = self._infos(final)
        warnings = list(self.warnings)
        for info in infos:
            warnings.extend(f"{info.path}: {w}" for w in info.warnings)
        warnings.extend(self.engine.warnings)
        eng = self.engine
        result = self.analyzer.conclude(inventory, eng, infos, warnings, eng.name, eng.packets,
                                        set(eng.unsupported_linktypes))  # fmt: skip
        # what the engine could not see (the tshark engine: protocols Wireshark lacks)
        result.limits.extend(eng.blind_spots)
        return result

    def result(self) -> Result:
        """The final result (after ``finish``), with the premises the link shows applied
        when they change the analysis."""
        self.finish()
        an = self.analyzer
        if self.premises is not an.premises:  # a second pass, with the premises inferred
            result = self._conclude(self.inventory, final=True)
            result.warnings.extend(_inference_warnings(self.premises.inference))
            return result
        premises = an._inferred_premises(self.inventory)
        if premises is None:
            self.log.calls = None
            self.inventory.hits_memo = None  # (kept for a replay, which is not needed)
            result = self._conclude(self.inventory, final=True)
            result.warnings.extend(_outside_warnings(result.inventory.premises.inference))
            return result
        if self.log.complete:
            fresh = Inventory(premises, an.matcher, files=list(self.inventory.files),
                              limits=an.limits)  # fmt: skip
            self.inventory = self.log.replay(fresh)
            self.inventory.seal()
            result = self._conclude(self.inventory, final=True)
            result.warnings.extend(_inference_warnings(premises.inference))
            return result
        if self.rereadable:
            # the log outgrew its bound: the capture files are read again with them (their
            # hashes, known from this pass, are not computed again)
            for info in self._infos(final=True):
                if info.sha256:
                    self.digests[info.path] = info.sha256
            again = Drive(an, self._make, self.files, self.warnings, self.digests, premises,
                          rereadable=True)  # fmt: skip
            while again.step(None):
                pass
            return again.result()
        result = self._conclude(self.inventory, final=True)
        result.warnings.extend(_unapplied_inference(self.inventory))
        return result


# -- step-by-step runs (the TUI) --------------------------------------------------------


@dataclass
class Partial:
    """One step of ``Analyzer.run_incremental``: how far the analysis is, and its state.

    While the consumer holds a ``Partial`` the analysis is suspended, so ``result()`` may
    read the inventory safely; the returned ``Result`` is only valid until the next step.
    """

    done_bytes: int
    total_bytes: int
    packets: int
    final: bool
    _build: Callable[[], Result]
    _result: Result | None = None

    def result(self) -> Result:
        """The analysis so far (roles and findings included); built once, on demand."""
        if self._result is None:
            self._result = self._build()
        return self._result


def _steps(run: Drive, batch: int) -> Iterator[Partial]:
    """The driver in steps of ``batch`` records; the last ``Partial`` is the final result."""
    engine = run.engine
    while run.step(batch):
        done, total = engine.bytes_read()
        yield Partial(done, total, engine.packets, False, run.snapshot)
    result = run.result()
    total = engine.bytes_read()[1]
    yield Partial(total, total, result.packets, True, lambda: result, result)


__all__ = ["Analyzer", "CaptureError", "Drive", "Engine", "InputInfo", "Options", "Partial",
           "Result"]  # fmt: skip
