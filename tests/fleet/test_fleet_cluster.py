"""``netscan fleet`` on a real Dask cluster: a scheduler and two workers started as separate
processes on localhost, 23 generated sites, one with a corrupt capture and one whose worker is
killed mid-analysis. The fleet report must be complete for every other site, name the failed
ones with their reason, and a resumed run must analyse only what is missing.

The killed site's capture is a named pipe nobody writes to: its task blocks reading it, the
test finds the worker process holding it (``running.json``) and kills it. The scheduler runs
with ``allowed-failures`` 0 and ``worker-saturation`` 1.0, so the task fails at once instead of
moving to the other worker and each worker holds one site at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pyarrow.dataset as pads
import pytest

from netscan.fleet import report as fleet_report

from .conftest import make_sites

pytestmark = pytest.mark.slow

DASK = Path(sys.executable).with_name("dask")
HOSTILE_NAME = '<script>alert("x")</script>\x1b[31m Shop & Co'


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
        "DASK_TEMPORARY_DIRECTORY": str(tmp / "dask-tmp"),
    })  # fmt: skip
    return env


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    sf = tmp_path / "scheduler.json"
    env = _env(tmp_path)
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    procs = [subprocess.Popen(
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(sf)],
        env=env, stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("wb"),
        start_new_session=True,
    )]  # fmt: skip
    deadline = time.monotonic() + 60
    while not sf.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sf.exists(), (logs / "scheduler.log").read_text()
    for name in ("w1", "w2"):
        procs.append(subprocess.Popen(
            [str(DASK), "worker", "--scheduler-file", str(sf), "--nthreads", "1", "--name", name,
             "--no-dashboard", "--local-directory", str(tmp_path / "dask-tmp")],
            env=env, stdout=subprocess.DEVNULL, stderr=(logs / f"{name}.log").open("wb"),
            start_new_session=True,
        ))  # fmt: skip
    from distributed import Client

    with Client(scheduler_file=str(sf), timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)
    try:
        yield sf
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _fleet(sites: Path, out: Path, sf: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "netscan", "fleet", str(sites), "--out", str(out),
         "--scheduler", str(sf), "--country", "CN"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_fleet_on_a_real_cluster(tmp_path: Path, cluster: Path) -> None:
    sites = tmp_path / "sites"
    good = make_sites(sites, 21)
    (sites / "site-000" / "site.toml").write_text(
        f'name = {json.dumps(HOSTILE_NAME)}\naddress = "1 Main St\\n<b>bold</b>"\n'
    )
    corrupt = sites / "corrupt-site"
    corrupt.mkdir()
    (corrupt / "capture.pcap").write_bytes(b"\x00garbage, not a capture" * 40)
    killed = sites / "killed-site"
    killed.mkdir()
    os.mkfifo(killed / "stream.pcap")  # blocks its reader: the site is mid-analysis until killed
    out = tmp_path / "out"
    env = _env(tmp_path)

    proc = _fleet(sites, out, cluster, env)
    running = out / "sites" / "killed-site" / "running.json"
    deadline = time.monotonic() + 240
    while not running.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the killed site never started"
        time.sleep(0.2)
    time.sleep(0.5)
    pid = json.loads(running.read_text())["pid"]
    os.kill(pid, signal.SIGKILL)  # the worker process analysing killed-site dies
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr

    fleet = json.loads((out / "fleet.json").read_text())
    jsonschema.validate(fleet, fleet_report.schema())
    by_id = {r["id"]: r for r in fleet["sites"]}
    assert len(by_id) == len(good) + 2
    for sid in good:
        r = by_id[sid]
        assert r["status"] == "done", r
        for name in ("report.json", "report.html", "report.md", "state.json"):
            assert (out / "sites" / sid / name).is_file()
        assert r["report"] == f"sites/{sid}/report.html"
    assert by_id["corrupt-site"]["status"] == "failed"
    assert "not a pcap or pcapng" in by_id["corrupt-site"]["reason"]
    assert by_id["killed-site"]["status"] == "failed"
    assert "worker" in by_id["killed-site"]["reason"] and "died" in by_id["killed-site"]["reason"]
    assert fleet["totals"] == {**fleet["totals"], "sites": 23, "analysed": 21, "failed": 2}
    assert "failed: killed-site" in stdout and "failed: corrupt-site" in stdout
    # progress: plain lines when not on a terminal
    assert "site corrupt-site: FAILED" in stderr and "sites 23/23" in stderr
    # the fleet report: worst first, findings and face-data destinations across sites
    assert fleet["sites"][0]["worst"] == "confirmed"
    assert fleet["sites"][-1]["status"] == "failed"
    assert fleet["destinations"]["providers"] and fleet["destinations"]["countries"]
    assert any(m["sites"] and len(m["sites"]) >= 3 for m in fleet["device_models"])
    assert any(f["kind"] == "same-model-many-sites" for f in fleet["fleet_findings"])
    # flows: one dataset partitioned by site
    flows = pads.dataset(out / "flows", partitioning="hive").to_table()
    assert set(flows.column("site").to_pylist()) == set(good)

    page = (out / "fleet.html").read_text()
    assert "<script" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    findings_before = {sid: by_id[sid]["findings"] for sid in good}
    assert sum(findings_before.values()) > 0
    # resume: the killed site's capture is now a real file; only it and the corrupt site run
    before = {sid: (out / "sites" / sid / "report.json").stat().st_mtime_ns for sid in good}
    killed.joinpath("stream.pcap").unlink()
    shutil.copy(next((sites / "site-001").glob("*.pcap")), killed / "stream.pcap")
    proc = _fleet(sites, out, cluster, env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    fleet = json.loads((out / "fleet.json").read_text())
    by_id = {r["id"]: r for r in fleet["sites"]}
    assert by_id["killed-site"]["status"] == "done"
    assert by_id["corrupt-site"]["status"] == "failed"
    assert all(by_id[sid]["status"] == "unchanged" for sid in good)
    assert fleet["totals"]["unchanged"] == 21 and fleet["totals"]["analysed"] == 1
    after = {sid: (out / "sites" / sid / "report.json").stat().st_mtime_ns for sid in good}
    assert after == before  # not re-analysed, not rewritten
    # the unchanged sites still count in the fleet report, with the same results
    assert {sid: by_id[sid]["findings"] for sid in good} == findings_before
