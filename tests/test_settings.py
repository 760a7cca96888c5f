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


@pytest.mark.parametrize("value", ["china", "CHN", "zz", "cn "])
def test_settings_country_must_be_iso_alpha2(tmp_path: Path, value: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(f"country = {json.dumps(value)}\n")
    with pytest.raises(SettingsError, match="ISO 3166-1 alpha-2"):
        load_settings(f)
    (tmp_path / "netscan.toml").write_text(f.read_text())
    r = _run(tmp_path, "analyze", "-q", str(PCAPS / "demo_sales_office.pcapng"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netscan: error:")
    assert "netscan.toml: country:" in lines[0] and "ISO 3166-1 alpha-2" in lines[0]


def test_settings_analyst_reaches_the_json_report(tmp_path: Path) -> None:
    (tmp_path / "netscan.toml").write_text('analyst = "B. Auditor"\ncountry = "de"\n')
    r = _run(tmp_path, "analyze", "-q", str(PCAPS / "demo_sales_office.pcapng"), "--json", "r.json")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["analyst"] == "B. Auditor" and rep["country"] == "DE"


def _small_pack(where: Path) -> Path:
    """A copy of the bundled pack under another name, to tell it apart."""
    import shutil

    import yaml

    pack = where / "mypack"
    shutil.copytree(ROOT / "signatures", pack)
    meta = yaml.safe_load((pack / "PACK.yaml").read_text())
    meta["name"] = "settings-test-pack"
    (pack / "PACK.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return pack


def test_signatures_setting_applies_to_every_subcommand(tmp_path: Path) -> None:
    """One settings resolution: ``signatures =`` in netscan.toml is the pack of
    ``signatures info`` as of ``analyze``; a relative path is relative to the file."""
    conf = tmp_path / "conf"
    conf.mkdir()
    pack = _small_pack(conf)
    (conf / "settings.toml").write_text('signatures = "mypack"\n')
    env = {"NETSCAN_SETTINGS": str(conf / "settings.toml")}
    r = _run_env(tmp_path, env, "signatures", "info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["name"] == "settings-test-pack" and Path(info["source_dir"]) == pack.resolve()
    assert info["settings_file"] == str(conf / "settings.toml")
    r = _run_env(tmp_path, env, "signatures", "info")
    assert r.returncode == 0 and "settings-test-pack" in r.stdout and "settings.toml" in r.stdout
    r = _run_env(tmp_path, env, "analyze", "-q", str(PCAPS / "demo_sales_office.pcapng"),
                 "--json", "r.json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["signatures"]["name"] == "settings-test-pack"
    # the command line still wins
    r = _run_env(tmp_path, env, "signatures", "--signatures", str(ROOT / "signatures"), "info",
                 "--json")  # fmt: skip
    assert json.loads(r.stdout)["name"] != "settings-test-pack"
    # a settings file naming a pack that is not there: one line, exit 2, for every subcommand
    (conf / "settings.toml").write_text('signatures = "gone"\n')
    for args in (["signatures", "info"], ["signatures", "list"], ["analyze", "-q", str(PCAPS / "demo_sales_office.pcapng")]):  # fmt: skip
        r = _run_env(tmp_path, env, *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "gone" in r.stderr


def _run_env(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_", "XDG_"))}
    full.update({"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=full, timeout=600)  # fmt: skip
