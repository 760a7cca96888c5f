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
    cache = [w for w in written if w.startswith("home/.cache/netscan/")]
    assert [w for w in written if w not in cache] == ["r.json"]
    # besides, only netscan's indexes of its offline registries (no captured content)
    kinds = {Path(w).name.split("-")[0] for w in cache}
    assert kinds <= {"manuf", "geoip2fast", "psl", "pack"}, cache
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["findings"] >= 3


# -- the new user's mistakes: one line on stderr, exit 2, never a traceback --------------


def run_env(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m netscan`` with a clean HOME/XDG (no user pack, no settings) and ``env``."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_", "XDG_"))}
    root = Path(__file__).resolve().parents[1]
    full = {**base, "PYTHONPATH": str(root), **env}
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd or root, env=full)  # fmt: skip


def one_line_error(r: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "error" in lines[0]
    return lines[0]


DEMO = PCAPS / "demo_sales_office.pcapng"


def test_tshark_missing_is_one_line_exit_2(tmp_path: Path) -> None:
    """--engine tshark with no tshark on the PATH: a clear line, not pyshark's traceback."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    home = tmp_path / "home"
    out = tmp_path / "r.json"
    r = run_env("analyze", "-q", str(DEMO), "--engine", "tshark", "--json", str(out),
                PATH=str(bindir), HOME=str(home))  # fmt: skip
    line = one_line_error(r)
    assert "tshark is not installed" in line
    assert not out.exists()
    # the TUI refuses on the terminal too, before any screen is drawn
    r = run_env("tui", str(DEMO), "--engine", "tshark", PATH=str(bindir), HOME=str(home))
    assert "tshark is not installed" in one_line_error(r)


@pytest.mark.parametrize("value", ["china", "CHN", "zz", "C", "CN-44", "c\x1bn", "cn\n"])
def test_country_must_be_iso_alpha2(tmp_path: Path, value: str) -> None:
    r = run_env("analyze", "-q", str(DEMO), "--country", value, HOME=str(tmp_path))
    line = one_line_error(r)
    assert "ISO 3166-1 alpha-2" in line and "\x1b" not in line
    if value in ("china", "CHN"):
        assert "did you mean CN (China)?" in line


def test_country_lower_case_and_analyst_in_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run_env("analyze", "-q", str(DEMO), "--country", "cn", "--analyst", "A. Auditor",
                "--json", str(out), HOME=str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    _validate(rep)
    assert rep["country"] == "CN" and rep["analyst"] == "A. Auditor"
    assert any(f["provisions"] for f in rep["findings"])
    r = run_env("analyze", "-q", str(DEMO), "--json", str(out), HOME=str(tmp_path))
    rep = json.loads(out.read_text())
    _validate(rep)
    assert rep["analyst"] is None


def test_country_is_validated_for_every_subcommand(tmp_path: Path) -> None:
    for args in (
        ["tui", str(DEMO), "--country", "china"],
        ["capture", "-i", "lo", "--country", "china", "--duration", "1"],
        ["fleet", str(tmp_path), "--out", str(tmp_path / "fleet"), "--country", "zz"],
        [
            "evidence",
            str(DEMO),
            "--finding",
            "F-0",
            "-o",
            str(tmp_path / "x"),
            "--country",
            "china",
        ],
    ):
        assert "ISO 3166-1" in one_line_error(run_env(*args, HOME=str(tmp_path)))
    assert not (tmp_path / "x").exists() and not (tmp_path / "fleet").exists()


def test_premises_matching_nothing_warns(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run_env("analyze", "-q", str(DEMO), "--premises", "10.99.0.0/16", "--json", str(out),
                HOME=str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "the premises ranges (10.99.0.0/16) match no device or address seen" in r.stderr
    rep = json.loads(out.read_text())
    assert any("match no device" in w for w in rep["warnings"])
    # one range that matches and one that does not: the unmatched one is named
    r = run_env("analyze", "-q", str(DEMO), "--premises", "10.99.0.0/16", "--premises",
                "192.168.0.0/16", "--premises", "10.0.0.0/8", "--json", str(out),
                HOME=str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr
    warned = [w for w in json.loads(out.read_text())["warnings"] if "match no device" in w]
    assert len(warned) == 1 and "10.99.0.0/16" in warned[0]
    # the default premises, or ranges that match, give no such warning
    r = run_env("analyze", "-q", str(DEMO), "--json", str(out), HOME=str(tmp_path))
    assert r.returncode == 0 and "match no device" not in r.stderr


def _flow_bytes(rep: dict) -> int:
    return sum(f["bytes_up"] + f["bytes_down"] for f in rep["flows"])


def test_same_capture_twice_is_counted_once(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy.pcapng"
    shutil.copyfile(DEMO, copy)
    once, twice = tmp_path / "once.json", tmp_path / "twice.json"
    assert run_env("analyze", "-q", str(DEMO), "--json", str(once)).returncode == 0
    r = run_env("analyze", "-q", str(DEMO), str(copy), str(DEMO), "--json", str(twice))
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stderr.splitlines() if "same content" in ln]
    assert len(warned) == 2 and all(ln.startswith("netscan: warning:") for ln in warned)
    a, b = json.loads(once.read_text()), json.loads(twice.read_text())
    assert [i["path"] for i in b["inputs"]] == [str(DEMO)]
    assert b["summary"] == a["summary"] and _flow_bytes(b) == _flow_bytes(a) > 0
    assert sum("same content" in w for w in b["warnings"]) == 2


def test_overlapping_captures_of_one_link_warn(tmp_path: Path) -> None:
    """Two different files covering the same time on the same link type: most likely two
    captures of one link, whose packets would be counted twice; the user is told."""
    src = realworld("mdns_zeek.pcap")
    data = bytearray(src.read_bytes())
    data[24 + 16 + 20] ^= 0xFF  # one byte of the first packet's IP header: another file
    other = tmp_path / "other.pcap"
    other.write_bytes(bytes(data))
    out = tmp_path / "r.json"
    r = run_env("analyze", "-q", str(src), str(other), "--json", str(out))
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stderr.splitlines() if "overlap in time" in ln]
    assert len(warned) == 1 and "counted twice" in warned[0]
    assert str(src) in warned[0] and str(other) in warned[0]
    # captures of different times do not warn
    r = run_env("analyze", "-q", str(src), str(realworld("dhcp_wireshark_arkime.pcap")))
    assert r.returncode == 0 and "overlap in time" not in r.stderr


BAD_USAGE = [
    [],
    ["bogus"],
    ["analyze"],
    ["analyze", str(DEMO), "--jobs", "0"],
    ["analyze", str(DEMO), "--jobs", "x"],
    ["analyze", str(DEMO), "--fail-on", "maybe"],
    ["analyze", str(DEMO), "--premises", "10.0.0.0/99"],
    ["analyze", str(DEMO), "--engine", "wireshark"],
    ["analyze", str(DEMO), "--signatures", "/nonexistent-pack"],
    ["analyze", "/nonexistent.pcap"],
    ["analyze", str(DEMO), "-q", "--json", "/nonexistent-dir/r.json"],
    ["evidence", str(DEMO)],
    ["evidence", str(DEMO), "--finding", "F-0", "-o", "x.pcapng", "--report", "/nope.json"],
    ["evidence", str(DEMO), "--finding", "F-0", "-o", "x.pcapng", "--premises", "nope"],
    ["tui"],
    ["tui", str(DEMO), "-i", "lo"],
    ["tui", "/nonexistent.pcap"],
    ["tui", str(DEMO), "--mark-window", "0"],
    ["capture"],
    ["capture", "-i", "lo", "--duration", "-1"],
    ["capture", "-i", "lo", "--ring-files", "1"],
    ["interfaces", "--bogus"],
    ["signatures"],
    ["signatures", "bogus"],
    ["signatures", "show"],
    ["signatures", "show", "device.no-such-signature"],
    ["signatures", "validate", "/nonexistent-pack"],
    ["signatures", "test", "/nonexistent-pack"],
    ["signatures", "--signatures", "/nonexistent-pack", "info"],
    ["signatures", "update", "--from", "ext::sh -c id"],
    ["signatures", "update", "--from", "/nonexistent-source"],
    ["signatures", "update", "--trusted-keys", "/nonexistent-keys"],
    ["signatures", "update"],
]


@pytest.mark.parametrize("args", BAD_USAGE, ids=lambda a: " ".join(a)[:60] or "none")
def test_bad_usage_everywhere_is_one_line_exit_2(tmp_path: Path, args: list[str]) -> None:
    r = run_env(*args, cwd=tmp_path, HOME=str(tmp_path / "home"),
                XDG_DATA_HOME=str(tmp_path / "data"))  # fmt: skip
    one_line_error(r)
    assert r.stdout == ""
    # nothing was written in the working directory, no user pack was made
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["home"], ["data"], ["data", "home"])
    assert not (tmp_path / "data" / "netscan" / "signatures").exists()


def test_standard_input_is_refused_in_one_line() -> None:
    """``netscan analyze -`` (a capture piped in) says in one line what to give instead."""
    r = run("analyze", "-")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "standard input" in lines[0]
    assert "netscan capture" in lines[0] and "Traceback" not in r.stderr
