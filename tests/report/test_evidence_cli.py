"""``netscan evidence`` with wrong, changed or unreadable inputs: one line, exit 2, and no
pcapng written; with the right ones, the frames of the finding in a 0600 file."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from netscan.sources.pcapfile import CaptureFile
from tests.conftest import PCAPS, ROOT, realworld

DEMO = PCAPS / "demo_sales_office.pcapng"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_", "XDG_"))}
    # a clean home beside the work directory (netscan keeps its cache under $HOME/.cache)
    home = cwd.parent / f"{cwd.name}-home"
    home.mkdir(exist_ok=True)
    env.update(PYTHONPATH=str(ROOT), HOME=str(home))
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)  # fmt: skip


def refused(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("netscan: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a copy of the demo capture and the JSON report made from it."""
    d = tmp_path_factory.mktemp("evidence")
    shutil.copyfile(DEMO, d / "demo.pcapng")
    r = run("analyze", "-q", "demo.pcapng", "--json", "report.json", cwd=d)
    assert r.returncode == 0, r.stderr
    return d


def finding_id(work: Path) -> str:
    rep = json.loads((work / "report.json").read_text())
    return next(f["id"] for f in rep["findings"] if f["level"] == "confirmed")


def leftovers(work: Path) -> list[str]:
    return sorted(p.name for p in work.iterdir() if p.name not in ("demo.pcapng", "report.json"))


def test_right_capture_writes_the_frames_0600(work: Path) -> None:
    fid = finding_id(work)
    r = run("evidence", "demo.pcapng", "--finding", fid, "--report", "report.json",
            "-o", "ok.pcapng", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = work / "ok.pcapng"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert len(list(CaptureFile(out))) > 0
    assert leftovers(work) == ["ok.pcapng"]  # no temporary file left
    out.unlink()


def test_another_capture_is_refused(work: Path) -> None:
    other = realworld("mdns_zeek.pcap")
    r = run("evidence", str(other), "--finding", finding_id(work), "--report", "report.json",
            "-o", "x.pcapng", cwd=work)  # fmt: skip
    refused(r, "is not one of the captures the report was made from")
    assert leftovers(work) == []


def test_changed_capture_is_refused(work: Path, tmp_path: Path) -> None:
    """Same name, one byte changed: the frame numbers would point at other packets."""
    changed = tmp_path / "demo.pcapng"
    data = bytearray((work / "demo.pcapng").read_bytes())
    data[-100] ^= 0x01
    changed.write_bytes(bytes(data))
    r = run("evidence", str(changed), "--finding", finding_id(work), "--report", "report.json",
            "-o", "x.pcapng", cwd=work)  # fmt: skip
    refused(r, "sha256")
    assert leftovers(work) == []


@pytest.mark.parametrize("kind", ["empty", "missing", "directory", "symlink-loop"])
def test_unreadable_capture_is_refused(work: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "cap.pcapng"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink-loop":  # unreadable even for root (ELOOP)
        path.symlink_to(path)
    for report in ("report.json", None):
        args = ["evidence", str(path), "--finding", finding_id(work), "-o", "x.pcapng"]
        r = run(*args, *(["--report", report] if report else []), cwd=work)
        refused(r)
        assert leftovers(work) == []


def test_finding_in_a_capture_not_given(work: Path, tmp_path: Path) -> None:
    """The report covers two captures; the finding's frames are in the one not given."""
    other = tmp_path / "mdns.pcap"
    shutil.copyfile(realworld("mdns_zeek.pcap"), other)
    r = run("analyze", "-q", "demo.pcapng", str(other), "--json", str(tmp_path / "two.json"),
            cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "two.json").read_text())
    fid = next(f["id"] for f in rep["findings"] if f["level"] == "confirmed")
    r = run("evidence", str(other), "--finding", fid, "--report", str(tmp_path / "two.json"),
            "-o", "x.pcapng", cwd=work)  # fmt: skip
    refused(r, "demo.pcapng", "which was not given")
    assert leftovers(work) == []


def test_no_frame_found_writes_nothing(work: Path, tmp_path: Path) -> None:
    """A report whose finding names no frame of the capture: refused, not an empty file."""
    rep = json.loads((work / "report.json").read_text())
    fid = finding_id(work)
    for f in rep["findings"]:
        if f["id"] == fid:
            f["flows"], f["faces"] = [], []
            for ev in f["evidence"]:
                ev["frame"] = 10**9
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(rep))
    r = run("evidence", "demo.pcapng", "--finding", fid, "--report", str(doctored),
            "-o", "x.pcapng", cwd=work)  # fmt: skip
    refused(r, "no frame of finding")
    assert leftovers(work) == []


@pytest.mark.parametrize(
    "content",
    ["[1, 2]", '{"findings": "nope"}', "{", '{"inputs": [{"path": 1}]}'],
    ids=["list", "wrong-type", "not-json", "bad-input"],
)
def test_not_a_report_is_refused(work: Path, tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run("evidence", "demo.pcapng", "--finding", finding_id(work), "--report", str(bad),
            "-o", "x.pcapng", cwd=work)  # fmt: skip
    refused(r, str(bad))
    assert leftovers(work) == []
