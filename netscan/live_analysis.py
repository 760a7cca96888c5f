"""Analysis of a live capture: the Rust core fed from a ``LiveCapture`` as packets arrive.

``LiveAnalysis.run(tick)`` processes packets until the capture ends; ``tick`` is called in
the same thread between packets, where ``snapshot()`` (the analysis so far) and ``news()``
(devices, cloud endpoints and findings that appeared since the last call) are safe to use.
``result()`` after the run is what ``netscan analyze`` would report on the ring files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netscan.analysis.finding import Finding
from netscan.analyze import Analyzer, InputInfo, Options, Result, limit_warnings
from netscan.engine.core import CoreEngine
from netscan.inventory.inventory import Inventory
from netscan.sources import pcapfile
from netscan.sources.live import LiveCapture, LiveStatus
from netscan.sources.pcapfile import Record

# the engine's input: flat raw tuples (newer engines) or (file_index, Record) pairs
_ENGINE_TAKES_RAW = hasattr(pcapfile, "RawRecord")


@dataclass
class News:
    """What appeared since the previous ``news()`` call."""

    devices: list[Any] = field(default_factory=list)  # inventory Device objects
    endpoints: list[Any] = field(default_factory=list)  # Endpoints matched to a cloud
    findings: list[Finding] = field(default_factory=list)  # new or raised in level


class LiveAnalysis:
    """Runs the analysis over a live capture (which it starts if needed)."""

    def __init__(self, options: Options, capture: LiveCapture) -> None:
        self.options = options
        self.capture = capture
        self.analyzer = Analyzer(options)
        self.inventory = Inventory(
            self.analyzer.premises, self.analyzer.matcher, files=[], limits=self.analyzer.limits
        )
        self.engine = CoreEngine(self.inventory, self.analyzer.premises,
                                 max_flows=self.analyzer.max_flows)  # fmt: skip
        self.packets = 0
        self.finished = False
        self._seen_devices: set[str] = set()
        self._seen_endpoints: set[str] = set()
        self._seen_findings: dict[tuple[str, str], int] = {}
        self._result: Result | None = None

    def _records(self, tick: Callable[[], None] | None, tick_interval: float) -> Iterator[Any]:
        files = self.inventory.files
        capture = self.capture
        flat = _ENGINE_TAKES_RAW
        for raw in capture.raw_records(tick=tick, tick_interval=tick_interval):
            if raw[0] >= len(files):
                files.extend(f.path for f in capture.files[len(files) : raw[0] + 1])
            self.packets += 1
            yield raw if flat else (raw[0], Record(*raw[1:]))

    def _ticked(self, tick: Callable[[], None] | None) -> Callable[[], None] | None:
        """The consumer's tick, after the engine has processed every record handed over
        (the core takes records in chunks)."""
        if tick is None:
            return None
        engine = self.engine

        def ticked() -> None:
            engine.flush()
            tick()

        return ticked

    def run(self, tick: Callable[[], None] | None = None, tick_interval: float = 1.0) -> Result:
        """Analyse until the capture ends (``capture.stop()``), then return the result."""
        try:
            self.engine.run(self._records(self._ticked(tick), tick_interval))
            self.engine.finish()
        finally:
            self.capture.close()
        self.finished = True
        self._result = self._build()
        return self._result

    def status(self) -> LiveStatus:
        return self.capture.status()

    def snapshot(self) -> Result:
        """The analysis so far. Only between packets: in ``tick`` or after ``run``."""
        if self._result is not None:
            return self._result
        return self._build()

    def result(self) -> Result:
        if self._result is None:
            raise RuntimeError("the live analysis has not finished")
        return self._result

    def news(self, findings: bool = True) -> News:
        """Devices, cloud endpoints and (with ``findings``) findings new since the last call.

        Findings need a snapshot (roles and findings are recomputed), which costs time in
        proportion to the flows seen; devices and endpoints are cheap.
        """
        inv = self.inventory
        out = News()
        for key, dev in list(inv.devices.items()):
            if key not in self._seen_devices:
                self._seen_devices.add(key)
                out.devices.append(dev)
        for ip, ep in list(inv.endpoints.items()):
            if ep.category and ip not in self._seen_endpoints:
                self._seen_endpoints.add(ip)
                out.endpoints.append(ep)
        if findings:
            for f in self.snapshot().findings:
                key = (f.device, str(f.destination.ip))
                rank = f.level.rank
                if rank > self._seen_findings.get(key, 0):
                    self._seen_findings[key] = rank
                    out.findings.append(f)
        return out

    def _inputs(self) -> list[InputInfo]:
        infos: list[InputInfo] = []
        for rf in self.capture.files:
            path = Path(rf.path)
            size = rf.size
            if not rf.closed:
                try:
                    size = path.stat().st_size
                except OSError:
                    size = 0
            infos.append(
                InputInfo(
                    path=rf.path,
                    sha256=rf.sha256 or "",
                    size=size,
                    packets=rf.packets,
                    first_ts=rf.first_ts,
                    last_ts=rf.last_ts,
                    warnings=list(rf.warnings),
                    format="pcapng",
                    linktypes=sorted(rf.linktypes),
                )  # fmt: skip
            )
        return infos

    def _build(self) -> Result:
        inv = self.inventory
        status = self.capture.status()
        warnings = list(status.warnings)
        if status.error:
            warnings.append(status.error)
        drops = status.drops
        if drops.total:
            warnings.append(
                f"the capture lost {drops.total} packets before they were written "
                f"(kernel {drops.kernel}, interface {drops.interface}, writer {drops.dumpcap}, "
                f"flushed {drops.flushed}); the analysis misses them"
            )
        for lt in sorted(self.engine.unsupported_linktypes):
            warnings.append(
                f"link type {lt} is not supported; its frames were counted but not decoded"
            )
        warnings.extend(self.engine.warnings)
        convs = inv.finalize()
        warnings.extend(limit_warnings(inv, self.engine, convs, self.analyzer.limits))
        from netscan.analysis.roles import assign_roles

        assign_roles(inv, convs)
        from netscan.analysis.findings import find

        findings = find(inv, convs, self.options, warnings)
        return Result(
            options=self.options,
            inputs=self._inputs(),
            inventory=inv,
            conversations=convs,
            findings=findings,
            pack=self.analyzer.pack,
            engine="live",
            packets=self.packets,
            warnings=warnings,
            dissector_errors=dict(self.engine.dissector_errors),
        )
