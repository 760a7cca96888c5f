"""One site's analysis, as a task on a Dask worker.

``analyse_site`` runs in a worker process: it fingerprints the site's inputs (sha256 of every
capture and log, the settings, the signature pack), skips the site when a finished run with
the same fingerprint is on disk, else analyses it and writes its reports under
``OUT/sites/<id>/`` (JSON, HTML, Markdown, flows as Parquet), then ``state.json`` last. Every
file is written to a temporary name and renamed, so a worker killed mid-way leaves the previous
state, never a half-written report. Any exception becomes a ``failed`` state with its reason;
a worker that dies is noticed by the driver (``KilledWorker``).

Progress goes to the driver as Dask worker events on the topic ``netscan-fleet``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from netscan import __version__
from netscan.analysis.finding import LEVEL_NAMES, report_findings
from netscan.util import sha256_file

TOPIC = "netscan-fleet"
STATE = "state.json"
RUNNING = "running.json"  # which worker process holds the site now (removed when it ends)
BATCH = 50_000  # records between progress reports
_local = threading.local()


def _event(msg: dict[str, Any]) -> None:
    from distributed import get_worker

    with contextlib.suppress(ValueError):  # not on a worker (a plain call, e.g. in a test)
        get_worker().log_event(TOPIC, msg)


def pack_fingerprint(directory: str | None) -> str:
    """sha256 over the active signature pack's files (names and contents)."""
    from netscan.signatures.pack import resolve_pack_source

    path, _ = resolve_pack_source(directory)
    path = path.resolve()
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if ".git" in p.relative_to(path).parts or not p.is_file():
            continue
        h.update(str(p.relative_to(path)).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def input_files(site: dict[str, Any]) -> list[Path]:
    files = [Path(p) for p in site.get("captures") or []]
    for key in ("zeek", "zeek_files"):
        d = site.get(key)
        if d and Path(d).is_dir():
            files += sorted(p for p in Path(d).rglob("*") if p.is_file() and not p.is_symlink())
    return files


def fingerprint(site: dict[str, Any], pack_fp: str) -> tuple[str, dict[str, str]]:
    """The fingerprint a finished run is kept under, and each input's sha256."""
    hashes = {str(p): sha256_file(p) for p in input_files(site)}
    settings = {k: site.get(k) for k in ("premises", "country", "signatures", "zeek", "captures")}
    if site.get("lang"):  # reports in another language are another run (English: as before)
        settings["lang"] = site["lang"]
    h = hashlib.sha256(
        json.dumps([settings, hashes, pack_fp, __version__], sort_keys=True).encode()
    )
    return h.hexdigest(), hashes


def _analyzer(site: dict[str, Any]) -> Any:
    """An ``Analyzer`` for the site: a copy of the worker's one per pack directory (loading a
    pack takes a second), with the site's own options and premises."""
    from netscan.analyze import Analyzer, Options
    from netscan.inventory.enrich import Premises

    opts = Options(premises=site.get("premises") or None, signatures=site.get("signatures"),
                   country=site.get("country"))  # fmt: skip
    cache = getattr(_local, "analyzers", None)
    if cache is None:
        cache = _local.analyzers = {}
    template = cache.get(opts.signatures)
    if template is None:
        template = cache[opts.signatures] = Analyzer(Options(signatures=opts.signatures))
    a = copy.copy(template)
    a.options = opts
    a.premises = Premises(opts.premises)
    return a


def _write(path: Path, text: str) -> None:
    """A new user-private file (0600) renamed over ``path``: never written through a link, and
    a worker killed mid-write leaves the previous file."""
    from netscan.safefile import write_private

    write_private(path, text)


def read_state(site_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((site_dir / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _site_dir(site_dir: Path) -> None:
    """The site's output directory: created 0700, or refused when others could write in it."""
    from netscan.safefile import PrivateDir

    PrivateDir.open(site_dir, "site output directory").close()


def write_state(site_dir: Path, state: dict[str, Any]) -> None:
    _site_dir(site_dir)
    _write(site_dir / STATE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers the driver shows and the fleet report ranks by."""
    levels = {lv: 0 for lv in LEVEL_NAMES}
    for f in report_findings(report):
        levels[f.level.value] += 1
    worst = next((lv for lv in LEVEL_NAMES if levels[lv]), None)
    return {
        "packets": sum(int(i.get("packets") or 0) for i in report.get("inputs", [])),
        "devices": len(report.get("devices", [])),
        "endpoints": len(report.get("endpoints", [])),
        "findings": len(report.get("findings", [])),
        "levels": levels,
        "worst": worst,
    }


def analyse_site(
    site: dict[str, Any], out: str, pack_fp: str, force: bool = False, flows: bool = True
) -> dict[str, Any]:
    """Analyse one site (on a worker); returns its state (also written to state.json)."""
    sid = site["id"]
    site_dir = Path(out) / "sites" / sid
    _site_dir(site_dir)
    t0 = time.time()
    _event({"site": sid, "event": "start", "pid": os.getpid()})
    state: dict[str, Any] = {"site": sid, "pid": os.getpid(), "started_at": t0}
    _write(site_dir / RUNNING, json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                                           "worker": _worker_address(), "started_at": t0}))  # fmt: skip
    try:
        return _analyse(site, sid, site_dir, out, pack_fp, force, flows, state, t0)
    finally:
        with contextlib.suppress(OSError):
            (site_dir / RUNNING).unlink()


def _worker_address() -> str | None:
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:  # not on a worker
        return None


def _analyse(
    site: dict[str, Any], sid: str, site_dir: Path, out: str, pack_fp: str, force: bool,
    flows: bool, state: dict[str, Any], t0: float,
) -> dict[str, Any]:  # fmt: skip
    try:
        site_pack = pack_fp if not site.get("signatures") else pack_fingerprint(site["signatures"])
        fp, hashes = fingerprint(site, site_pack)
        prev = read_state(site_dir)
        if (
            not force
            and prev is not None
            and prev.get("status") == "done"
            and prev.get("fingerprint") == fp
            and (site_dir / "report.json").is_file()
        ):
            prev["status_this_run"] = "unchanged"
            _event({"site": sid, "event": "end", "status": "unchanged"})
            return prev
        result, packets = _run(site, sid)
        from netscan.report import html_report, json_report, markdown_report

        report = json_report.build(result)
        report["site"] = {k: site.get(k) for k in ("id", "name", "address", "country", "analyst")}
        _write(site_dir / "report.json", json.dumps(report, indent=2) + "\n")
        lang = site.get("lang") or None
        _write(site_dir / "report.html", html_report.render(report, site.get("analyst"), lang))
        _write(site_dir / "report.md", markdown_report.render(report, site.get("analyst"), lang))
        if flows:
            from netscan.report import flows_parquet

            flows_parquet.write_site_part(result, Path(out) / "flows", sid)
        state.update({
            "status": "done", "fingerprint": fp, "inputs": hashes, "packets": packets,
            "seconds": round(time.time() - t0, 3), "finished_at": time.time(),
            "summary": summarize(report), "warnings": len(report.get("warnings", [])),
        })  # fmt: skip
    except Exception as exc:  # one site's failure is that site's, never the fleet's
        reason = f"{type(exc).__name__}: {exc}"[:500]
        state.update({"status": "failed", "reason": reason, "seconds": round(time.time() - t0, 3),
                      "finished_at": time.time(),
                      "traceback": traceback.format_exc(limit=6)[-4000:]})  # fmt: skip
    state["status_this_run"] = state["status"]
    write_state(site_dir, state)
    _event({"site": sid, "event": "end", "status": state["status"]})
    return state


def _run(site: dict[str, Any], sid: str) -> tuple[Any, int]:
    analyzer = _analyzer(site)
    if site.get("captures"):
        result = None
        last = 0
        for step in analyzer.run_incremental(site["captures"], batch=BATCH):
            _event({"site": sid, "event": "progress", "packets": step.packets - last})
            last = step.packets
            if step.final:
                result = step.result()
        assert result is not None
        return result, result.packets
    from netscan.sources.zeek import analyze_zeek

    result = analyze_zeek(analyzer, site["zeek"], site.get("zeek_files"))
    records = int(getattr(result, "zeek_records", 0))
    _event({"site": sid, "event": "progress", "records": records})
    return result, 0
