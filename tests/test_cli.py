"""The command line as a user meets it: exit codes, one-line errors, the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from netscan.report.json_report import schema
from tests.conftest import PCAPS, realworld


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netscan", *args], capture_output=True, text=True, timeout=600
    )


def test_help_documents_exit_codes() -> None:
    r = run("analyze", "--help")
    assert r.returncode == 0
    assert "exit codes" in r.stdout and "2  bad usage" in r.stdout


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a capture at all", b"\xa1\xb2\xc3\xd4\x00"],
    ids=["empty", "text", "short"],
)
def test_bad_input_one_line_exit_2(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "in.pcap"
    p.write_bytes(content)
    r = run("analyze", str(p))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("netscan: error:")


def test_missing_file_and_bad_cidr(tmp_path: Path) -> None:
    r = run("analyze", str(tmp_path / "missing.pcap"))
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = run("analyze", "--premises", "10.0.0.0/99", str(tmp_path / "x.pcap"))
    assert r.returncode == 2 and "CIDR" in r.stderr


def test_truncated_capture_warns_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("analyze", "-q", str(realworld("bad_truncated_file_suricata.pcap")), "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "Traceback" not in r.stderr
    rep = json.loads(out.read_text())
    assert rep["inputs"][0]["packets"] == 6
    assert rep["inputs"][0]["warnings"]


def test_empty_capture_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("analyze", "-q", str(realworld("bad_empty_arkime.pcap")), "--json", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["inputs"][0]["packets"] == 0 and rep["devices"] == []


def _validate(rep: dict) -> None:
    jsonschema.Draft202012Validator(schema()).validate(rep)


def test_json_report_is_schema_valid_and_stable(tmp_path: Path) -> None:
    src = realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("analyze", "-q", str(src), "--json", str(a)).returncode == 0
    assert run("analyze", "-q", str(src), "--json", str(b)).returncode == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    _validate(ra)
    ra.pop("generated_at"), rb.pop("generated_at")
    assert ra == rb
    dev = {d["mac"]: d for d in ra["devices"]}["b0:c5:54:25:5b:0e"]
    assert "D-Link" in (dev["vendor"] or "")
    assert any(h.lower().startswith("dcs-935l") for h in dev["hostnames"])
    names = {n for e in ra["endpoints"] for n in e["names"]}
    assert "signal.mydlink.com" in names
    ep = {e["ip"]: e for e in ra["endpoints"]}["54.194.162.25"]
    assert ep["country"] == "IE"


def test_premises_override(tmp_path: Path) -> None:
    src = realworld("cam_dlink_dcs935l_setup_iotsentinel.pcap")
    out = tmp_path / "r.json"
    assert (
        run("analyze", "-q", str(src), "--premises", "10.10.10.0/24", "--json", str(out)).returncode
        == 0
    )
    rep = json.loads(out.read_text())
    assert rep["premises"] == ["10.10.10.0/24"]
    # 192.168.0.x is now off-site
    assert any(e["ip"].startswith("192.168.0.") for e in rep["endpoints"])


def test_demo_capture_summary(tmp_path: Path) -> None:
    demo = PCAPS / "demo_sales_office.pcapng"
    if not demo.exists():
        pytest.skip("demo capture not generated")
    out = tmp_path / "r.json"
    r = run("analyze", str(demo), "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "Devices on the premises" in r.stdout
    _validate(json.loads(out.read_text()))


def test_fail_on_gates_a_scripted_audit(tmp_path: Path) -> None:
    demo = PCAPS / "demo_sales_office.pcapng"
    if not demo.exists():
        pytest.skip("demo capture not generated")
    assert run("analyze", "-q", str(demo), "--fail-on", "confirmed").returncode == 1
    assert run("analyze", "-q", str(demo), "--fail-on", "possible").returncode == 1
    benign = realworld("cam_dahua_rtsp_digest_2ic80.pcapng")  # a camera viewed locally only
    assert run("analyze", "-q", str(benign), "--fail-on", "possible").returncode == 0


def test_no_face_image_written_unless_asked(tmp_path: Path) -> None:
    """The auditor's data stays in memory: analysing captures with faces in them writes
    nothing but the asked-for report."""
    demo = PCAPS / "demo_sales_office.pcapng"
    if not demo.exists():
        pytest.skip("demo capture not generated")
    r = subprocess.run(
        [sys.executable, "-m", "netscan", "analyze", "-q", str(demo), "--json", "r.json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**__import__("os").environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(PCAPS.parent)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["r.json"]
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["findings"] >= 3
