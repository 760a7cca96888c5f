"""``--jobs 2``: the core engine with the packet core run ahead in a thread.

The Rust core reads and processes the capture in a worker thread of its own (the GIL is
not needed there), batch by batch, while this thread turns the previous batch's ops into
Python objects and replays them into the sink (``CoreEngine._replay``). While the worker
is ahead of the replay (it would wait anyway) it also hashes the inputs as it reads them;
while it is behind, a hashing thread does, as for one job: on two cores a third busy
thread takes time from whichever of the two is the longer. It is the same single core
over the same batches, only ahead of the replay: the ops, their order and so the report
are exactly those of one job. The flows whose Python parser stops while a batch is
replayed are handed back after each batch and stopped in the core before the batch
``STOP_LAG`` batches later, as the one-job loop does (``CoreEngine.run_files``), so how
far ahead the worker happened to be never shows.

A failure of the worker thread (a fault outside one packet's guard, which counts those
as the usual warning) is an ``EngineError``; Ctrl-C stops the worker within a batch.
"""

from __future__ import annotations

from collections.abc import Callable

from netscan.engine import EngineError
from netscan.engine import core as _core_engine
from netscan.engine.core import CoreEngine


class ThreadedEngine(CoreEngine):
    """``CoreEngine`` with the packet core run ahead in a worker thread."""

    fail_after: int | None = None  # a fault injected after that many batches (tests)
    # the worker hashes while it is ahead of the replay, the hashing thread while it is not
    hash_thread = False
    _running = False  # the worker holds the core: its facts come with each batch

    def bytes_read(self) -> tuple[int, int]:
        if self._running:
            return sum(c._position for c in self.captures), sum(c.size for c in self.captures)
        return super().bytes_read()

    def run_files(
        self, progress: Callable[[int, int], None] | None = None, limit: int | None = None
    ) -> int:
        """Processes the open inputs (at most ``limit`` records); returns records done."""
        core = self.core
        caps = self.captures
        total = sum(c.size for c in caps)
        done = 0
        self._hold_stops = True
        try:
            core.start(_core_engine.BATCH, limit, _core_engine.STOP_LAG, self.fail_after)
        except RuntimeError as exc:
            self._hold_stops = False
            raise EngineError(str(exc)) from None
        self._running = True
        try:
            while True:
                try:
                    got = core.next_batch()
                except RuntimeError as exc:
                    raise EngineError(str(exc)) from None
                if got is None:
                    break
                ops, n, _want, positions = got
                self._replay(ops)
                del ops
                core.give_stops(self._stopped)
                self._stopped = []
                done += n
                for c, pos in zip(caps, positions, strict=True):
                    c._position = pos
                if progress is not None:
                    progress(sum(positions), total)
        finally:
            self._hold_stops = False
            self._running = False
            try:
                core.join()  # the stops not taken yet are applied
            except RuntimeError as exc:
                raise EngineError(str(exc)) from None
        self._stats()
        return done
