"""``netscan signatures`` subcommands: via run() with parsed args, and via a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netscan.signatures import cli
from tests.signatures.helpers import BUNDLED, make_pack, sig_yaml

ROOT = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="netscan")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    return parser.parse_args(argv)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli.run(_parse(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(autouse=True)
def _bundled_pack(monkeypatch):
    monkeypatch.setenv("NETSCAN_SIGNATURES", str(BUNDLED))


def test_list_json_has_every_signature(capsys):
    rc, out, err = _run(["signatures", "list", "--json"], capsys)
    assert rc == 0 and err == ""
    rows = json.loads(out)
    assert len(rows) >= 100
    assert set(rows[0]) == {"id", "category", "name", "vendor"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["category"] for r in rows} == {"device", "face-cloud", "vendor-cloud", "protocol"}


def test_list_table_and_category_filter(capsys):
    rc, out, _ = _run(["signatures", "list", "--category", "protocol"], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines and all(" protocol " in line for line in lines)
    assert any(line.startswith("protocol.gat1400-viid-face") for line in lines)


def test_show_text_and_json(capsys):
    rc, out, _ = _run(["signatures", "show", "face-cloud.megvii-faceplusplus-cn"], capsys)
    assert rc == 0
    assert "api-cn.faceplusplus.com" in out and "sources:" in out and "jurisdiction: CN" in out
    rc, out, _ = _run(["signatures", "show", "vendor-cloud.cs2-pppp", "--json"], capsys)
    data = json.loads(out)
    assert data["id"] == "vendor-cloud.cs2-pppp"
    assert {"field": "port", "mode": "port", "value": "udp/32100"} in data["match"]


def test_show_unknown_id_is_one_line_error(capsys):
    rc, out, err = _run(["signatures", "show", "device.nope"], capsys)
    assert rc == 2 and out == ""  # bad usage
    assert err.strip().count("\n") == 0 and "device.nope" in err


def test_validate_and_test_default_and_explicit(capsys, tmp_path):
    assert _run(["signatures", "validate"], capsys)[0] == 0
    rc, out, _ = _run(["signatures", "test"], capsys)
    assert rc == 0 and "near-misses passed" in out
    bad = make_pack(
        tmp_path,
        {"device/a.yaml": "signatures:\n" + sig_yaml("device.xx", "dns_name: [a..b]", role="iot")},
    )
    rc, out, err = _run(["signatures", "validate", str(bad)], capsys)
    assert rc == 1
    assert f"{bad / 'device/a.yaml'}:" in err and "1 problem(s)" in err


def test_test_reports_failing_examples(capsys, tmp_path):
    pack = make_pack(
        tmp_path,
        {
            "device/a.yaml": "signatures:\n"
            + sig_yaml(
                "device.xx",
                "dhcp_hostname: [cam-]",
                role="camera",
                examples="[{dhcp_hostname: plug-1}]",
            )
        },
    )
    rc, _, err = _run(["signatures", "test", str(pack)], capsys)
    assert rc == 1 and "example does not match" in err and "1 of 1 example checks failed" in err


def test_info_reports_origin_and_counts(capsys, monkeypatch):
    rc, out, _ = _run(["signatures", "info", "--json"], capsys)
    info = json.loads(out)
    assert rc == 0 and info["origin"] == "env"
    assert Path(info["source_dir"]) == BUNDLED.resolve()
    assert set(info["counts"]) == {"device", "face-cloud", "vendor-cloud", "protocol"}
    assert info["total"] == sum(info["counts"].values())
    rc, out, _ = _run(["signatures", "--signatures", str(BUNDLED), "info"], capsys)
    assert rc == 0 and "--signatures option" in out and "counts:" in out


def test_missing_pack_dir_is_one_line_error(capsys, tmp_path):
    rc, out, err = _run(["signatures", "--signatures", str(tmp_path / "x"), "list"], capsys)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_subcommand(capsys):
    rc, _, err = _run(["signatures"], capsys)
    assert rc == 2 and "missing subcommand" in err


def test_python_dash_m_netscan_signatures_list_json():
    env = dict(os.environ, NETSCAN_SIGNATURES=str(BUNDLED), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "netscan", "signatures", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    if proc.returncode != 0 and "invalid choice: 'signatures'" in proc.stderr:
        pytest.skip("main CLI does not register the signatures command")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert any(r["id"] == "face-cloud.aws-rekognition" for r in rows)


def test_subprocess_error_has_no_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NETSCAN_SIGNATURES", None)
    proc = subprocess.run(
        [sys.executable, "-m", "netscan", "signatures", "validate", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    if "invalid choice: 'signatures'" in proc.stderr:
        pytest.skip("main CLI does not register the signatures command")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "not found" in proc.stderr


# -- through the real command line: documented exit codes, one line, no traceback ----------


def _netscan(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NETSCAN_", "XDG_"))}
    full.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"),
                XDG_DATA_HOME=str(tmp_path / "data"), GIT_CONFIG_NOSYSTEM="1",
                GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"), **env)  # fmt: skip
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=full, timeout=300)  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "device.nope"], "no signature with id 'device.nope'"),
        (["show", "device.nope", "--json"], "no signature with id"),
        (["validate", "{tmp}/none"], "not found"),
        (["test", "{tmp}/none"], "not found"),
        (["--signatures", "{tmp}/none", "info"], "not found"),
        (["--signatures", "{tmp}/none", "list"], "not found"),
        (["update", "--from", "{tmp}/none"], "does not exist"),
        (["update", "--from", "ext::sh -c touch% /tmp/x"], "unsupported"),
        (["update", "--trusted-key", "{tmp}/none.pub"], "neither a file nor a full fingerprint"),
        (["update"], "no update source configured"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], words: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    line = _one_line(_netscan(tmp_path, "signatures", *argv), 2)
    assert line.startswith("netscan signatures") and "error:" in line and words in line
    assert not (tmp_path / "data" / "netscan" / "signatures").exists()


def test_failed_checks_exit_1(tmp_path: Path) -> None:
    bad = make_pack(
        tmp_path,
        {"device/a.yaml": "signatures:\n" + sig_yaml("device.xx", "dns_name: [a..b]", role="iot")},
    )
    proc = _netscan(tmp_path, "signatures", "validate", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "1 problem(s)" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_failed_first_update_leaves_the_bundled_pack_in_charge(tmp_path: Path) -> None:
    """The first update makes the user's copy from the bundled pack; if that update then
    fails (here: the source is not a git repository), no copy may be left behind to pin
    the bundled pack of this version for ever."""
    (tmp_path / "gitconfig").write_text("")
    not_git = tmp_path / "not-a-repo"
    not_git.mkdir()
    (not_git / "README").write_text("nothing here\n")
    line = _one_line(_netscan(tmp_path, "signatures", "update", "--from", str(not_git)), 1)
    assert line.startswith("netscan signatures update: error:")
    store = tmp_path / "data" / "netscan"
    assert not (store / "signatures").exists() and not (store / "signatures").is_symlink()
    assert not (store / "signatures.d" / "repo.git").exists()
    assert not any((store / "signatures.d" / "trees").glob("*"))
    proc = _netscan(tmp_path, "signatures", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["origin"] in ("bundled", "source")
    # and a later good update still works from scratch
    src = tmp_path / "src"
    shutil.copytree(BUNDLED, src)
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"],
                ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "pack"]):  # fmt: skip
        subprocess.run(["git", *cmd], cwd=src, check=True, capture_output=True)
    proc = _netscan(tmp_path, "signatures", "update", "--from", str(src))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(_netscan(tmp_path, "signatures", "info", "--json").stdout)
    assert info["origin"] == "user"


def test_list_and_show_print_pack_strings_as_safe_lines(tmp_path, monkeypatch, capsys):
    # a pack fetched from a remote repository is outside text: a name that carries a
    # terminal escape or a line break is printed escaped, on its own line
    sig = sig_yaml("device.hostile", "dns_name: [a.invalid]", role="camera",
                   examples="[{dns_name: a.invalid}]")  # fmt: skip
    sig = sig.replace("name: Test device.hostile", 'name: "Cam\\e]2;pwned\\a\\nFAKE: ok"')
    sig = sig.replace("sources: [https://example.org/doc]",
                      'sources: ["https://example.org/\\e[2J"]')  # fmt: skip
    pack = make_pack(tmp_path, {"device/hostile.yaml": "signatures:\n" + sig})
    monkeypatch.setenv("NETSCAN_SIGNATURES", str(pack))
    for argv in (["signatures", "list"], ["signatures", "show", "device.hostile"]):
        rc, out, _ = _run(argv, capsys)
        assert rc == 0
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b]2;pwned" in out
        assert not any(line.startswith("FAKE") for line in out.splitlines())
