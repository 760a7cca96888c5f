"""The fleet driver: every site a task on Dask distributed, progress on the terminal.

A local cluster (worker processes on this machine) unless ``scheduler`` names an existing
one (``tcp://HOST:PORT`` or a scheduler file). Sites are submitted all at once; the
scheduler hands them to workers as they free up. A site whose task raises, or whose worker
dies (``KilledWorker``), is recorded as failed with the reason and the rest go on.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from netscan.fleet.sites import Site
from netscan.fleet.task import (
    RUNNING,
    TOPIC,
    analyse_site,
    pack_fingerprint,
    read_state,
    write_state,
)
from netscan.untrusted import display


class FleetError(Exception):
    """The fleet cannot run at all (e.g. no scheduler): one line, exit 2."""


MAX_ATTEMPTS = 3  # submissions of a site that never started because its worker died


@dataclass
class FleetRun:
    out: Path
    scheduler: str | None = None
    workers: int = 2
    force: bool = False
    flows: bool = True
    signatures: str | None = None
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    packets: int = 0
    cluster: str = ""


def _plain(text: str, n: int = 120) -> str:
    """Site-provided text for a terminal line: control characters shown, never obeyed."""
    return display(text, n)


class Progress:
    """Sites done/running/failed and packets per second across the cluster. On a terminal,
    one status line rewritten in place; otherwise plain lines, one per finished site plus a
    summary every ``every`` seconds."""

    def __init__(self, total: int, stream: IO[str] | None = None, every: float = 10.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self.running: set[str] = set()
        self.started: set[str] = set()  # sites whose task began on a worker in this run
        self.done = self.failed = self.unchanged = 0
        self.packets = 0
        self._window: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._last_plain = time.monotonic()
        self.t0 = time.monotonic()

    def event(self, msg: dict[str, Any]) -> None:
        with self._lock:
            site = str(msg.get("site", ""))
            kind = msg.get("event")
            if kind == "start":
                self.running.add(site)
                self.started.add(site)
            elif kind == "progress":
                n = int(msg.get("packets") or 0)
                self.packets += n
                self._window.append((time.monotonic(), n))
            elif kind == "end":
                self.running.discard(site)

    def rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0][0] > 10.0:
                self._window.popleft()
            n = sum(x for _, x in self._window)
        span = min(10.0, max(now - self.t0, 1e-3))
        return n / span

    def finished(self, site: Site, state: dict[str, Any]) -> None:
        status = state.get("status_this_run") or state.get("status")
        with self._lock:
            self.running.discard(site.id)
            if status == "failed":
                self.failed += 1
            elif status == "unchanged":
                self.unchanged += 1
            else:
                self.done += 1
        sid = _plain(site.id, 64)
        if status == "failed":
            line = f"site {sid}: FAILED: {_plain(state.get('reason', ''), 300)}"
        elif status == "unchanged":
            line = f"site {sid}: unchanged since the last run, not re-analysed"
        else:
            s = state.get("summary") or {}
            line = (
                f"site {sid}: done in {state.get('seconds', 0):.1f} s, "
                f"{s.get('packets', 0):,} packets, {s.get('findings', 0)} finding(s)"
                + (f", worst {s['worst']}" if s.get("worst") else "")
            )
        self._print(line)

    def status(self) -> str:
        finished = self.done + self.failed + self.unchanged
        return (
            f"sites {finished}/{self.total}: {self.done} analysed, {self.unchanged} unchanged, "
            f"{len(self.running)} running, {self.failed} failed; {self.rate():,.0f} packets/s"
        )

    def tick(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + self.status())
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= self.every:
            self._last_plain = time.monotonic()
            self._print(self.status())

    def _print(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._print(self.status())


def _client(run: FleetRun) -> tuple[Any, Any]:
    import dask
    from distributed import Client, LocalCluster

    if run.scheduler:
        sched = run.scheduler
        if "://" not in sched and Path(sched).is_file():
            return Client(scheduler_file=sched, timeout="20s"), None
        return Client(sched, timeout="20s"), None
    # a site that kills its worker gets one more try on a fresh worker, then fails
    dask.config.set({"distributed.scheduler.allowed-failures": 1,
                     "distributed.scheduler.worker-saturation": 1.0})  # fmt: skip
    cluster = LocalCluster(n_workers=run.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=50)  # fmt: skip
    return Client(cluster), cluster


def run_fleet(sites: list[Site], run: FleetRun, progress: Progress | None = None) -> FleetRun:
    """Analyse every site; returns with ``run.states`` filled (one state per site)."""
    from distributed import wait
    from distributed.scheduler import KilledWorker

    from netscan.safefile import PrivateDir

    for d, what in ((run.out, "--out directory"), (run.out / "sites", "sites directory")):
        PrivateDir.open(d, what).close()  # created 0700, or refused if others can write
    pack_fp = pack_fingerprint(run.signatures)
    progress = progress or Progress(len(sites))
    t0 = time.monotonic()
    try:
        client, cluster = _client(run)
    except OSError as exc:  # unreachable scheduler, or a timeout connecting to it
        raise FleetError(f"cannot reach the Dask scheduler {run.scheduler}: {exc}") from None
    try:
        run.cluster = str(client.scheduler.address) if client.scheduler else ""
        client.subscribe_topic(
            TOPIC, lambda ev: progress.event(ev[1] if isinstance(ev, tuple) else ev)
        )
        futures: dict[Any, Site] = {}
        attempts: dict[str, int] = {}

        def submit(s: Site) -> Any:
            attempts[s.id] = attempts.get(s.id, 0) + 1
            fut = client.submit(analyse_site, s.to_dict(), str(run.out.resolve()), pack_fp,
                                run.force, run.flows, key=f"netscan-site-{s.id}-{time.time_ns()}",
                                pure=False, retries=0)  # fmt: skip
            futures[fut] = s
            return fut

        pending = {submit(s) for s in sites}
        while pending:
            try:
                done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in this half second
                progress.tick()
                continue
            for fut in done:
                site = futures[fut]
                try:
                    state = fut.result()
                except KilledWorker as exc:
                    if site.id not in progress.started and attempts[site.id] < MAX_ATTEMPTS:
                        # it only waited in the dead worker's queue: not its fault, run it again
                        pending.add(submit(site))
                        continue
                    state = _failed(run, site, "the worker analysing this site died "
                                    f"(KilledWorker: {exc})")  # fmt: skip
                except Exception as exc:  # the task could not even start (e.g. lost data)
                    state = _failed(run, site, f"{type(exc).__name__}: {exc}")
                run.states[site.id] = state
                progress.finished(site, state)
            progress.tick()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(TOPIC)
    finally:
        import logging

        # the workers' heartbeats may race the shutdown: that noise is not the user's business
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        finally:
            quiet.setLevel(level)
    run.seconds = time.monotonic() - t0
    run.packets = sum(int(s.get("packets") or 0) for s in run.states.values()
                      if s.get("status_this_run") == "done")  # fmt: skip
    progress.close()
    return run


def _failed(run: FleetRun, site: Site, reason: str) -> dict[str, Any]:
    site_dir = run.out / "sites" / site.id
    prev = read_state(site_dir) or {}
    state = {"site": site.id, "status": "failed", "reason": reason[:500],
             "finished_at": time.time(), "status_this_run": "failed"}  # fmt: skip
    if prev.get("status") == "done":
        # an earlier report exists, but this run could not confirm it is current
        state["previous"] = {k: prev.get(k) for k in ("fingerprint", "finished_at", "summary")}
    write_state(site_dir, state)
    with contextlib.suppress(OSError):
        (site_dir / RUNNING).unlink()
    return state
