"""Analysis of a live capture: the Rust core fed from a ``LiveCapture`` as packets arrive.

``LiveAnalysis.run(tick)`` processes packets until the capture ends; ``tick`` is called in
the same thread between packets, where ``snapshot()`` (the analysis so far) and ``news()``
(devices, cloud endpoints and findings that appeared since the last call) are safe to use.
``result()`` after the run is what ``netscan analyze`` would report on the ring files.
The analysis is the one driver every analysis runs through (``netscan.analyze.Drive``),
premises inferred from the link included; ``LiveEngine`` is its engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from netscan.analysis.finding import Finding
from netscan.analyze import Analyzer, Drive, InputInfo, Options, Result
from netscan.engine import tunnels
from netscan.engine.core import CoreEngine
from netscan.engine.protocol import Progress
from netscan.inventory.enrich import Premises
from netscan.sources.live import LiveCapture, LiveStatus


class RecordsEngine:
    """The core fed with raw records ``(file_index, frame, ts, linktype, data, wirelen)``
    handed over from elsewhere, as they come (an ``Engine``)."""

    name = "core"
    l2_unlisted = 0  # the core counts the frames of MACs beyond its table in its warnings

    def __init__(
        self,
        sink: Any,
        premises: Premises,
        records: Iterable[Any],
        source: str,
        max_flows: int | None = None,
        body_budget: int | None = None,
        duplicate_window: float | None = None,
    ) -> None:
        self.core = CoreEngine(sink, premises, max_flows=max_flows, body_budget=body_budget,
                               duplicate_window=duplicate_window)  # fmt: skip
        self.records: Iterator[Any] = iter(records)
        self.source = source

    # the core's counters and findings
    @property
    def packets(self) -> int:
        return self.core.packets

    @property
    def warnings(self) -> list[str]:
        return self.core.warnings

    @property
    def dissector_errors(self) -> dict[str, int]:
        return self.core.dissector_errors

    @property
    def unsupported_linktypes(self) -> set[int]:
        return self.core.unsupported_linktypes

    @property
    def flows_retired(self) -> int:
        return self.core.flows_retired

    @property
    def repeats(self) -> dict[str, int]:
        return self.core.repeats

    @property
    def capture_loss(self) -> dict[str, int]:
        return self.core.capture_loss

    @property
    def tunnels(self) -> dict[str, int]:
        return self.core.tunnels

    @property
    def mirrors(self) -> tunnels.Sessions:
        return self.core.mirrors

    @property
    def max_flows(self) -> int:
        return self.core.max_flows

    @property
    def blind_spots(self) -> list[str]:
        return []

    def step(self, limit: int | None = None, progress: Progress | None = None) -> bool:
        before = self.core.packets
        self.core.run(self.records if limit is None else islice(self.records, limit))
        return limit is not None and self.core.packets != before

    def bytes_read(self) -> tuple[int, int]:
        return 0, 0

    def inputs(self, final: bool) -> list[InputInfo]:
        return [InputInfo(path=self.source, sha256="", size=0, packets=self.core.packets)]

    def finish(self) -> None:
        self.core.finish()

    def release(self) -> None:
        self.core.release()


class LiveEngine(RecordsEngine):
    """A live capture's ring files through the core, ``tick`` called between packets."""

    name = "live"

    def __init__(
        self,
        sink: Any,
        premises: Premises,
        capture: LiveCapture,
        max_flows: int | None = None,
        body_budget: int | None = None,
        duplicate_window: float | None = None,
    ) -> None:
        super().__init__(sink, premises, (), "live", max_flows=max_flows, body_budget=body_budget,
                         duplicate_window=duplicate_window)  # fmt: skip
        self.files: list[str] = sink.inventory.files  # the ring files, as they appear
        self.capture = capture
        self.handed = 0  # records handed to the core
        self.tick: Callable[[], None] | None = None
        self.tick_interval = 1.0

    @property
    def packets(self) -> int:
        return self.handed

    def _records(self) -> Iterator[Any]:
        files = self.files
        capture = self.capture
        core = self.core
        tick = self.tick
        ticked: Callable[[], None] | None = None
        if tick is not None:

            def ticked() -> None:
                # the consumer looks after every record handed over (the core takes
                # records in chunks)
                core.flush()
                tick()

        for raw in capture.raw_records(tick=ticked, tick_interval=self.tick_interval):
            if raw[0] >= len(files):
                files.extend(f.path for f in capture.files[len(files) : raw[0] + 1])
            self.handed += 1
            yield raw

    def step(self, limit: int | None = None, progress: Progress | None = None) -> bool:
        """Until the capture ends (``capture.stop()``)."""
        try:
            self.core.run(self._records())
            self.core.finish()
        finally:
            self.capture.close()
        return False

    @property
    def warnings(self) -> list[str]:
        status = self.capture.status()
        out = list(status.warnings)
        if status.error:
            out.append(status.error)
        drops = status.drops
        if drops.total:
            out.append(
                f"the capture lost {drops.total} packets before they were written "
                f"(kernel {drops.kernel}, interface {drops.interface}, writer {drops.dumpcap}, "
                f"flushed {drops.flushed}); the analysis misses them"
            )
        return out + self.core.warnings

    def inputs(self, final: bool) -> list[InputInfo]:
        infos: list[InputInfo] = []
        for rf in self.capture.files:
            size = rf.size
            if not rf.closed:
                try:
                    size = Path(rf.path).stat().st_size
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
        an = self.analyzer

        def make(sink: Any, premises: Premises) -> LiveEngine:
            return LiveEngine(sink, premises, capture, max_flows=an.max_flows,
                              body_budget=an.body_budget,
                              duplicate_window=an.duplicate_window)  # fmt: skip

        self.drive = Drive(an, make, [], [], {})
        assert isinstance(self.drive.engine, LiveEngine)
        self.engine: LiveEngine = self.drive.engine
        self.finished = False
        self._seen_devices: set[str] = set()
        self._seen_endpoints: set[str] = set()
        self._seen_findings: dict[tuple[str, str], int] = {}
        self._result: Result | None = None

    @property
    def inventory(self) -> Any:
        return self.drive.inventory

    @property
    def packets(self) -> int:
        return self.engine.handed

    def run(self, tick: Callable[[], None] | None = None, tick_interval: float = 1.0) -> Result:
        """Analyse until the capture ends (``capture.stop()``), then return the result."""
        self.engine.tick = tick
        self.engine.tick_interval = tick_interval
        self.drive.step(None)
        self.finished = True
        self._result = self.drive.result()
        return self._result

    def status(self) -> LiveStatus:
        return self.capture.status()

    def missed_so_far(self) -> tuple[int, int, int, int]:
        """What the capture missed of the TCP connections so far (``CoreEngine``'s)."""
        return self.engine.core.missed_so_far()

    def snapshot(self) -> Result:
        """The analysis so far. Only between packets: in ``tick`` or after ``run``."""
        if self._result is not None:
            return self._result
        return self.drive.snapshot()

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
