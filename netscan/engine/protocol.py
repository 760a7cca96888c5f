"""What the analysis driver (``netscan.analyze.Analyzer.drive``) asks of an engine.

Every engine implements ``Engine``: the Rust core (``CoreEngine``), its ``--jobs`` form
(``ThreadedEngine``: the core run ahead in a thread), the tshark reference (``TsharkEngine``) and a live capture
(``netscan.live_analysis.LiveEngine``). An engine is made with its sink (the inventory)
and its inputs; the driver then calls ``step`` until it returns False (each call may
yield a partial result in step-by-step runs), ``finish`` and ``release``, and reads
``inputs()`` and the counters below for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from netscan.engine.tunnels import Sessions


@dataclass
class InputInfo:
    """One input of an analysis, as the report lists it."""

    path: str
    sha256: str
    size: int
    packets: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    linktypes: list[int] = field(default_factory=list)
    # a pcapng file's Interface Statistics Blocks, summed over its interfaces (the last
    # block of each): ifrecv, ifdrop, filteraccept, osdrop, usrdeliv, those it gives
    statistics: dict[str, int] | None = None


Progress = Callable[[int, int], None]


@runtime_checkable
class Engine(Protocol):
    """An engine: reads its inputs into its sink, and says what it saw."""

    name: str  # the report's engine name: core, tshark, live
    packets: int  # records analysed so far
    warnings: list[str]  # the engine's own warnings, made by ``finish``
    dissector_errors: dict[str, int]  # dissector faults caught, by dissector
    unsupported_linktypes: set[int]  # link types counted but not decoded
    flows_retired: int  # flows retired from a full flow table (their counts kept)
    # what the engine set aside, counted: repeated datagrams and facts, payload heads past
    # their bound (the core's; empty for an engine that sets nothing aside)
    repeats: dict[str, int]
    # what the capture missed of the TCP connections (``netscan.engine.loss.counts``; empty
    # for a source that cannot tell, as Zeek logs)
    capture_loss: dict[str, int]
    # frames that came inside a remote mirror's encapsulation, by its kind (erspan,
    # gre_ethernet, vxlan, geneve), analysed as the frames they carry; empty for none
    tunnels: dict[str, int]
    # the mirror sessions they came in (``tunnels.Sessions``: outer addresses, kind, frames)
    mirrors: Sessions
    max_flows: int  # the flow table's bound
    l2_unlisted: int  # frames from MACs beyond the devices limit
    blind_spots: list[str]  # what the engine cannot see (the report's limits)

    def step(self, limit: int | None = None, progress: Progress | None = None) -> bool:
        """Analyse up to ``limit`` records (every one when None); False once the input
        is exhausted. The sink reflects every record analysed when it returns."""
        ...

    def bytes_read(self) -> tuple[int, int]:
        """Input bytes read so far and in all (0, 0 when unknown, as for live capture)."""
        ...

    def inputs(self, final: bool) -> list[InputInfo]:
        """The inputs' facts so far (``final``: after ``release``, as the report has them;
        the sha256 is filled in by the driver when the engine does not know it)."""
        ...

    def finish(self) -> None:
        """End of input: parsers flushed and closed, counters final, warnings made."""
        ...

    def release(self) -> None:
        """Let go of what only reading needed (the flows live on in the sink)."""
        ...


__all__ = ["Engine", "InputInfo", "Progress"]
