"""The terminal summary of ``netscan analyze`` as a user receives it, byte for byte: written to
a pipe and to a real pseudo-terminal (colours, several widths), for the demo, a scenario
capture and public captures. ``tests/output/test_summary_reference.py`` compares a fresh run
with the files in ``summary_reference/``.

python -m tests.output.summary_reference            # check: name every case that differs
python -m tests.output.summary_reference --update   # rewrite the references (a deliberate change)

The signature pack's commit and entry count in the first line are replaced by ``#``: a new
signature changes them, not the summary. (One that changes what is found changes the
summary, as it changes the baselines: rewrite both.)
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
from dataclasses import dataclass
from pathlib import Path

from tests.baselines import capture_path as baseline_capture
from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent / "summary_reference"


@dataclass(frozen=True)
class Case:
    name: str
    capture: str  # "demo", "scenario:NAME" or "realworld:FILE"
    columns: int | None = None  # None: standard output is a pipe
    lang: str = "en"

    @property
    def path(self) -> Path:
        return HERE / f"{self.name}.txt"


CASES = (
    Case("demo_pipe", "demo"),
    Case("demo_pipe_zh", "demo", lang="zh-CN"),
    Case("demo_tty250", "demo", columns=250),
    Case("demo_tty120", "demo", columns=120),  # the tables are folded to fit
    Case("demo_tty70_zh", "demo", columns=70, lang="zh-CN"),
    Case("multihop_edge_pipe", "scenario:multihop_edge"),
    Case("multihop_edge_tty200", "scenario:multihop_edge", columns=200),
    Case("big_mixed_pipe", "realworld:big_mixed_1kxun_ndpi.pcap"),
    Case("big_mixed_tty250", "realworld:big_mixed_1kxun_ndpi.pcap", columns=250),
    Case("tls_sni_pipe", "realworld:tls_sni_many_sites_22if_ndpi.pcapng"),
    Case("tls_sni_tty180", "realworld:tls_sni_many_sites_22if_ndpi.pcapng", columns=180),
)


def capture_path(capture: str, workdir: Path) -> Path:
    kind, _, name = capture.partition(":")
    if kind == "demo":
        return baseline_capture("pcaps", "demo_sales_office.pcapng", workdir)
    return baseline_capture(kind, name, workdir)


def _env(home: Path) -> dict[str, str]:
    drop = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "COLORTERM", "TTY_COMPATIBLE",
            "TTY_INTERACTIVE", "TERM", "JUPYTER_COLUMNS", "JUPYTER_LINES")  # fmt: skip
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith(("NETSCAN_", "XDG_"))}  # fmt: skip
    env.update({"PYTHONPATH": str(ROOT), "HOME": str(home), "TERM": "xterm-256color"})
    return env


def pty_run(argv: list[str], cwd: Path, columns: int, env: dict[str, str]) -> tuple[int, bytes]:
    """Runs ``argv`` with standard input and output on a pseudo-terminal of ``columns``
    (standard error in ``cwd/stderr.txt``); returns (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    err = (cwd / "stderr.txt").open("wb")
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=err, cwd=cwd, env=env,
                            close_fds=True)  # fmt: skip
    os.close(slave)
    err.close()
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 600)
        if not ready:
            proc.kill()
            raise AssertionError("the CLI did not finish")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks)


def _on_terminal(args: list[str], cwd: Path, columns: int) -> bytes:
    code, out = pty_run(args, cwd, columns, _env(cwd))
    if code != 0:
        raise AssertionError((cwd / "stderr.txt").read_text())
    return out


def render(case: Case, workdir: Path) -> bytes:
    """What standard output received from ``netscan analyze`` of the case's capture."""
    pcap = capture_path(case.capture, workdir)
    run = workdir / case.name
    run.mkdir()
    args = [sys.executable, "-m", "netscan", "analyze", str(pcap), "--lang", case.lang,
            "--json", "r.json"]  # fmt: skip
    if case.columns is not None:
        out = _on_terminal(args, run, case.columns)
    else:
        r = subprocess.run(args, capture_output=True, cwd=run, env=_env(run), timeout=600)
        if r.returncode != 0:
            raise AssertionError(r.stderr.decode())
        out = r.stdout
    # the capture's directory differs from run to run: only its file name is kept
    out = out.replace(str(pcap.parent).encode() + b"/", b"")
    return neutral(out, json.loads((run / "r.json").read_text("utf-8"))["signatures"])


def neutral(out: bytes, pack: dict[str, object]) -> bytes:
    """``out`` with the signature pack's commit and entry count as ``#`` (same widths)."""
    commit = str(pack.get("commit") or "")
    if len(commit) >= 7:
        out = out.replace(commit.encode(), b"#" * len(commit), 1)  # the first line's
    count = f"{pack.get('count', 0):,}".encode()
    entries = re.compile(rb"(\(|\xef\xbc\x88)" + re.escape(count) + rb"( entries\)| \xe6\x9d\xa1)")
    return entries.sub(lambda m: m.group(1) + b"#" * len(count) + m.group(2), out, count=1)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.output.summary_reference")
    ap.add_argument("--update", action="store_true", help="rewrite the references")
    ap.add_argument("names", nargs="*", help="only these cases")
    args = ap.parse_args(argv)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if args.names and case.name not in args.names:
                continue
            out = render(case, Path(tmp))
            if args.update:
                HERE.mkdir(exist_ok=True)
                case.path.write_bytes(out)
                print(f"wrote {case.path.name} ({len(out)} bytes)")
            elif case.path.read_bytes() != out:
                failed += 1
                print(f"differs: {case.name}")
            else:
                print(f"ok {case.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
