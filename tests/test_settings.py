"""Premises settings give defaults for --country, --premises, --analyst and --signatures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netscan.settings import SettingsError, load_settings
from tests.conftest import PCAPS, ROOT


def test_load_and_check(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('country = "cn"\npremises = ["192.168.1.0/24"]\nanalyst = "A. Auditor"\n')
    s = load_settings(f)
    assert s["country"] == "CN" and s["premises"] == ["192.168.1.0/24"]
    f.write_text('colour = "blue"\n')
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(f)
    f.write_text('premises = ["not-a-network"]\n')
    with pytest.raises(SettingsError, match="premises"):
        load_settings(f)
    f.write_text("country = [\n")
    with pytest.raises(SettingsError, match="TOML"):
        load_settings(f)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=600)  # fmt: skip


def test_settings_file_in_the_working_directory(tmp_path: Path) -> None:
    demo = PCAPS / "demo_sales_office.pcapng"
    if not demo.exists():
        pytest.skip("demo capture not generated")
    (tmp_path / "netscan.toml").write_text('country = "DE"\npremises = ["192.168.1.0/24"]\n')
    r = _run(tmp_path, "analyze", "-q", str(demo), "--json", "r.json")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["country"] == "DE" and rep["premises"] == ["192.168.1.0/24"]
    assert any(f["cross_border"] for f in rep["findings"])
    # the command line wins over the file
    r = _run(tmp_path, "analyze", "-q", str(demo), "--country", "CN", "--json", "r2.json")
    assert json.loads((tmp_path / "r2.json").read_text())["country"] == "CN"


def test_bad_settings_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "netscan.toml").write_text("premises = 5\n")
    r = _run(tmp_path, "analyze", str(PCAPS / "demo_sales_office.pcapng"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("netscan: error:") and "premises" in r.stderr
