"""One analysis run: inputs → engine → inventory → signatures → roles → findings.

Both the CLI and the TUI call ``Analyzer``; each stage lives in its own package.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from netscan import limits as _limits
from netscan.analysis.finding import Finding
from netscan.engine.parallel import MIN_SEGMENT_BYTES
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation
from netscan.safefile import PrivateDir
from netscan.sources.pcapfile import CaptureError, CaptureFile
from netscan.util import sha256_file


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


@dataclass
class InputInfo:
    path: str
    sha256: str
    size: int
    packets: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    linktypes: list[int] = field(default_factory=list)


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
    # sources other than captures (Zeek logs): where evidence lines came from, and what the
    # source cannot tell
    record_refs: Any = None
    limits: list[str] = field(default_factory=list)


@contextlib.contextmanager
def relaxed_gc() -> Iterator[None]:
    """Cyclic garbage collection, rarely: an analysis allocates millions of small objects
    that never form cycles, and a full collection over them every few thousand
    allocations costs a fifth of the run. What exists before the run is frozen out of
    the collector's view."""
    old = gc.get_threshold()
    gc.collect()
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


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def check_engine(name: str) -> None:
    """Raise ``EngineError`` (one line) when the engine asked for cannot run here."""
    if name == "tshark":
        from netscan.engine.tshark import tshark_binary

        tshark_binary()


def unique_inputs(paths: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """The inputs without repeats of the same content (same sha256), a warning for each
    repeat left out (the same capture given twice would count every packet twice), and
    the sha256 of each input kept."""
    kept: list[str] = []
    digests: dict[str, str] = {}
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for p in paths:
        try:
            digest = sha256_file(Path(p))
        except FileNotFoundError:
            raise CaptureError(f"{p}: no such file") from None
        except IsADirectoryError:
            raise CaptureError(f"{p}: is a directory, not a capture file") from None
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


def _unapplied_inference(analyzer: Analyzer, inventory: Inventory) -> list[str]:
    """Step-by-step runs cannot run again: the inference is reported, not applied."""
    if analyzer._inferred_premises(inventory) is None:
        return []
    cidrs = inventory.premises.inference.cidrs
    return [
        "the link shows premises ranges the step-by-step analysis did not use: "
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


def open_inputs(
    paths: list[str],
    limits: _limits.Limits | None = None,
    digests: dict[str, str] | None = None,
) -> tuple[list[CaptureFile], list[InputInfo]]:
    lim = _limits.resolve(limits)
    captures: list[CaptureFile] = []
    infos: list[InputInfo] = []
    for i, p in enumerate(paths):
        cap = CaptureFile(p, index=i, gunzip=lim.gunzip, gunzip_ratio=lim.gunzip_ratio)
        captures.append(cap)
        path = Path(p)
        digest = (digests or {}).get(p) or sha256_file(path)
        infos.append(InputInfo(path=str(p), sha256=digest, size=path.stat().st_size,
                               format=cap.format))  # fmt: skip
    return captures, infos


class Analyzer:
    """Runs the pipeline; ``progress(done_bytes, total_bytes)`` is called now and then."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.limits = _limits.resolve(options.limits)
        # the core's live-flow bound: --max-flows, else the flows work limit
        self.max_flows = options.max_flows or self.limits.flows
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
            result = self._run(paths, progress)
            premises = self._inferred_premises(result.inventory)
            if premises is None:
                result.warnings.extend(_outside_warnings(result.inventory.premises.inference))
                return result
            # the link shows addresses of the premises the run called off-site: run again
            # with them, so every decision (devices, bursts, findings) is made with them
            base = self.premises
            self.premises = premises
            try:
                result = self._run(paths, progress)
            finally:
                self.premises = base
            result.warnings.extend(_inference_warnings(premises.inference))
            return result

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

    def _run(self, paths: list[str], progress: Callable[[int, int], None] | None = None) -> Result:
        paths, warnings, digests = unique_inputs(list(paths))
        if self.options.engine != "tshark":
            return self._run_core(paths, progress, warnings, digests)
        captures, infos = open_inputs(paths, self.limits, digests)
        inventory = Inventory(
            self.premises, self.matcher, files=[str(p) for p in paths], limits=self.limits
        )
        total = sum(c.size for c in captures)
        try:
            # the other engine: tshark, the independent reference
            from netscan.engine.tshark import TsharkEngine

            engine: Any = TsharkEngine(inventory, limits=self.limits)
            engine.run_files(paths, captures)
            inventory.seal()
        finally:
            for c in captures:
                c.close()
        for cap, info in zip(captures, infos, strict=True):
            info.warnings = list(cap.warnings)
            info.packets = cap.frames
            info.first_ts, info.last_ts = cap.first_ts, cap.last_ts
            info.linktypes = sorted(cap.linktypes)
            for w in cap.warnings:
                warnings.append(f"{info.path}: {w}")
        # the tshark engine reads the files itself: its frame counts and times are the facts
        for info, stats in zip(infos, getattr(engine, "file_stats", []), strict=False):
            info.packets, info.first_ts, info.last_ts = stats.frames, stats.first_ts, stats.last_ts
            for w in stats.warnings:
                info.warnings.append(f"tshark: {w}")
                warnings.append(f"{info.path}: tshark: {w}")
        unsupported = getattr(engine, "unsupported_linktypes", set())
        if progress is not None:
            progress(total, total)
        result = self.conclude(inventory, engine, infos, warnings, self.options.engine,
                               sum(i.packets for i in infos), unsupported)  # fmt: skip
        # what the engine could not see (the tshark engine: protocols Wireshark lacks)
        result.limits.extend(getattr(engine, "blind_spots", None) or [])
        return result

    def _run_core(
        self,
        paths: list[str],
        progress: Callable[[int, int], None] | None,
        warnings: list[str],
        digests: dict[str, str],
    ) -> Result:
        """The Rust packet core reads, decodes and tracks flows; Python dissects what it
        hands over and keeps everything above."""
        from netscan.engine.core import CoreEngine

        inventory = Inventory(
            self.premises, self.matcher, files=[str(p) for p in paths], limits=self.limits
        )
        engine: Any
        if self.options.jobs > 1 and sum(_size(p) for p in paths) >= 2 * MIN_SEGMENT_BYTES:
            # --jobs: worker processes, each with the core over its share of the flows
            from netscan.engine.parallel import ParallelEngine

            engine = ParallelEngine(inventory, self.premises, self.options.jobs,
                                    max_flows=self.max_flows, limits=self.limits)  # fmt: skip
        else:
            engine = CoreEngine(inventory, self.premises, max_flows=self.max_flows)
        captures = engine.open(paths, self.limits.gunzip, self.limits.gunzip_ratio)
        infos = [
            InputInfo(path=str(p), sha256=digests[p], size=c.size, format=c.format)
            for p, c in zip(paths, captures, strict=True)
        ]
        total = sum(c.size for c in captures)
        engine.run_files(progress)
        engine.finish()
        engine.release()
        inventory.seal()
        for cap, info in zip(captures, infos, strict=True):
            info.warnings = list(cap.warnings)
            info.packets = cap.frames
            info.first_ts, info.last_ts = cap.first_ts, cap.last_ts
            info.linktypes = sorted(cap.linktypes)
            for w in cap.warnings:
                warnings.append(f"{info.path}: {w}")
        warnings.extend(engine.warnings)
        if progress is not None:
            progress(total, total)
        return self.conclude(inventory, engine, infos, warnings, "core",
                             sum(i.packets for i in infos), engine.unsupported_linktypes)  # fmt: skip

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
        """The stages after the engine: finalize the inventory, roles, findings."""
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
            dissector_errors=dict(getattr(engine, "dissector_errors", {})),
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
        return _incremental(self, paths, batch, records, source)


def limit_warnings(
    inventory: Inventory, engine: Any, convs: list[Conversation], limits: _limits.Limits
) -> list[str]:
    """What the work limits retired, folded or left out, counted (engine, inventory, report)."""
    out: list[str] = []
    retired = getattr(engine, "flows_retired", 0)
    if retired:
        out.append(
            f"{retired:,} flows were retired from the engine's table of "
            f"{getattr(engine, 'max_flows', None) or limits.flows:,} live "
            "flows (idlest first); their totals are kept in the conversations (--limit flows=N)"
        )
    unlisted = getattr(engine, "l2_unlisted", 0)
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


# -- incremental runs (the TUI) ---------------------------------------------------------


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


def _incremental(
    self: Analyzer,
    paths: list[str] | None,
    batch: int,
    records: Iterable[Any] | None,
    source: str,
) -> Iterator[Partial]:
    if paths is not None and self.options.engine != "tshark":
        yield from _incremental_core(self, paths, batch)
        return
    if paths is not None:
        result = self.run(paths)
        total = sum(i.size for i in result.inputs)
        yield Partial(total, total, result.packets, True, lambda: result, result)
        return
    from netscan.engine.core import CoreEngine

    # records handed over from elsewhere (a live capture): the core takes them as they come
    info = InputInfo(path=source, sha256="", size=0)
    inventory = Inventory(self.premises, self.matcher, files=[source], limits=self.limits)
    engine = CoreEngine(inventory, self.premises, max_flows=self.max_flows)
    stream: Iterator[Any] = iter(records or ())

    def build(final: bool) -> Result:
        step = replace(info, packets=engine.packets)
        warnings = list(engine.warnings) if final else []
        return self.conclude(inventory, engine, [step], warnings, "core", engine.packets,
                             set(engine.unsupported_linktypes))  # fmt: skip

    while True:
        before = engine.packets
        engine.run(islice(stream, batch))
        if engine.packets == before:
            break
        yield Partial(0, 0, engine.packets, False, lambda: build(False))
    engine.finish()
    engine.release()
    inventory.seal()
    result = build(True)
    result.warnings.extend(_unapplied_inference(self, inventory))
    yield Partial(0, 0, result.packets, True, lambda: result, result)


def _incremental_core(self: Analyzer, paths: list[str], batch: int) -> Iterator[Partial]:
    """``run_incremental`` over capture files with the Rust core: ``batch`` records a step."""
    from netscan.engine.core import CoreEngine

    inventory = Inventory(self.premises, self.matcher, files=[str(p) for p in paths],
                          limits=self.limits)  # fmt: skip
    engine = CoreEngine(inventory, self.premises, max_flows=self.max_flows)
    captures = engine.open(paths, self.limits.gunzip, self.limits.gunzip_ratio)
    infos = [
        InputInfo(path=str(p), sha256=sha256_file(Path(p)), size=c.size, format=c.format)
        for p, c in zip(paths, captures, strict=True)
    ]
    total = sum(c.size for c in captures)

    def build(final: bool) -> Result:
        warnings: list[str] = []
        step_infos = [replace(i) for i in infos]
        for cap, info in zip(captures, step_infos, strict=True):
            if not final:
                cap.refresh()
            info.warnings = list(cap.warnings)
            info.packets = cap.frames if final else 0
            info.first_ts, info.last_ts = cap.first_ts, cap.last_ts
            info.linktypes = sorted(cap.linktypes)
            warnings.extend(f"{info.path}: {w}" for w in cap.warnings)
        if final:
            warnings.extend(engine.warnings)
        return self.conclude(inventory, engine, step_infos, warnings, "core", engine.packets,
                             set(engine.unsupported_linktypes))  # fmt: skip

    while engine.run_files(limit=batch):
        engine.sync()
        yield Partial(sum(c.position for c in captures), total, engine.packets, False,
                      lambda: build(False))  # fmt: skip
    engine.finish()
    engine.release()
    inventory.seal()
    result = build(True)
    result.warnings.extend(_unapplied_inference(self, inventory))
    yield Partial(total, total, result.packets, True, lambda: result, result)


__all__ = ["Analyzer", "CaptureError", "Options", "Partial", "Result"]
