"""Messages the analysis worker posts to the app (they cross from the worker thread)."""

from __future__ import annotations

from textual.message import Message

from netscan.tui.state import Snapshot


class AnalysisProgress(Message):
    """How far the analysis is: bytes read of the total (0 when unknown) and packets."""

    def __init__(self, done_bytes: int, total_bytes: int, packets: int, drops: int | None) -> None:
        super().__init__()
        self.done_bytes = done_bytes
        self.total_bytes = total_bytes
        self.packets = packets
        self.drops = drops


class SnapshotReady(Message):
    """A new state of the analysis to show (the last one has ``snapshot.final`` set)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class AnalysisFailed(Message):
    """The analysis stopped with an error."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ExportDone(Message):
    """An export finished (``error`` set when it failed)."""

    def __init__(self, what: str, path: str, error: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.path = path
        self.error = error
