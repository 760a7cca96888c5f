"""The terminal summary of ``netscan analyze`` over a capture full of hostile names, run as a
user runs it: the installed CLI on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import hostile
from tests.output.summary_reference import pty_run

SGR = re.compile(r"\x1b\[[0-9;]*m")  # Rich's own styling: the only escape allowed


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    shots = d / "shots"
    shots.mkdir()
    return hostile.build(d, shots), shots


def run_in_terminal(args: list[str], cwd: Path, columns: int = 250) -> tuple[int, str, str]:
    """Run the CLI with standard output on a pseudo-terminal (standard error in a file, so
    that the progress bar stays out of the way); returns (exit code, what the terminal
    received, standard error)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    code, out = pty_run([sys.executable, "-m", "netscan", *args], cwd, columns, env)
    return code, out.decode("utf-8", "replace"), (cwd / "stderr.txt").read_text()


def test_hostile_names_in_a_real_terminal(capture: tuple[Path, Path], tmp_path: Path) -> None:
    pcap, shots = capture
    code, out, err = run_in_terminal(["analyze", str(pcap), "--json", "r.json", "--report",
                                      "r.html", "--markdown", "r.md"], tmp_path)  # fmt: skip
    assert code == 0, err
    assert "Traceback" not in err and "MarkupError" not in err
    for name in ("r.json", "r.html", "r.md"):
        assert (tmp_path / name).stat().st_size > 1000
    assert "\x1b[" in out  # it really was a terminal: Rich styled its output
    bare = SGR.sub("", out)
    assert "\x1b" not in bare  # no OSC (title, hyperlink), no cursor movement, no clear
    assert "\x1b]8;" not in out
    for ch in hostile.FORBIDDEN:
        assert ch not in out, repr(ch)
    # the terminal turns each \n into \r\n; any other CR came from a name
    assert "\r" not in bare.replace("\r\n", "\n")
    lines = bare.splitlines()
    assert not any(ln.lstrip("│┃ ").startswith(("FORGED", "# FORGED")) for ln in lines)
    # markup is shown as the characters it is made of; escapes are visible
    for shown in ("cam[/oops]", "[link=file:///etc/passwd]x[/link]", "[@click=app.quit]quit[/]",
                  "[bold red on white]LOUD[/]", "crlf\\r\\nFORGED LINE", "bidi\\u202egpj.exe",
                  "title\\x1b]0;PWNED-TITLE\\x07end", ":warning: emoji", "bad\ufffd\ufffdutf8",
                  "# head\\n# FORGED HEADING"):  # fmt: skip
        assert shown in bare, shown
    assert "⚠" not in bare  # no emoji code was replaced
    assert "L" * 200 not in bare and "L" * 30 + "…" in bare  # the long name is bounded
    assert not list(shots.iterdir())
    # the JSON report keeps the raw strings, with control characters escaped by JSON itself
    raw = (tmp_path / "r.json").read_text("utf-8")
    assert not re.search(r"[\x00-\x1f\x7f]", raw.replace("\n", ""))
    assert raw.isascii()
    report = json.loads(raw)
    names = {h for d in report["devices"] for h in d.get("hostnames") or []}
    assert {hostile.MARKUP, hostile.CRLF, hostile.OSC_TITLE, hostile.RLO} <= names


def test_reports_are_written_before_the_terminal_is_used(
    capture: tuple[Path, Path], tmp_path: Path
) -> None:
    """The reader of standard output goes away: the reports are there all the same."""
    pcap, _ = capture
    proc = subprocess.Popen([sys.executable, "-m", "netscan", "analyze", str(pcap), "--json",
                             "r.json", "--markdown", "r.md", "--report", "r.html"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 0, err
    assert "Traceback" not in err
    for name in ("r.json", "r.html", "r.md"):
        assert (tmp_path / name).stat().st_size > 1000


def test_a_terminal_that_cannot_encode_the_names(
    capture: tuple[Path, Path], tmp_path: Path
) -> None:
    pcap, _ = capture
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = subprocess.run([sys.executable, "-m", "netscan", "analyze", str(pcap), "--json", "r.json"],
                       capture_output=True, cwd=tmp_path, env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr
    assert r.stdout.isascii() and b"cam[/oops]" in r.stdout
    assert (tmp_path / "r.json").exists()
