"""Fixed costs stay out of runs that do not need them: ``netscan --version`` imports no
subcommand, and OpenCV (with numpy) loads only for a capture that carries pictures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PCAPS, realworld

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_version_imports_no_subcommand() -> None:
    out = _python(
        "import sys\n"
        "from netscan.cli import main\n"
        "sys.argv = ['netscan', '--version']\n"
        "assert main() == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jsonschema', 'yaml', 'networkx', 'cv2', 'numpy') or m.startswith('netscan.signatures')))\n"
    )
    assert out[0].startswith("netscan ") and out[-1] == "[]"


def _analyse(path: Path, out: Path) -> list[str]:
    lines = _python(
        "import sys\n"
        "from netscan.cli import main\n"
        f"sys.argv = ['netscan', 'analyze', {str(path)!r}, '--json', {str(out)!r}, '-q']\n"
        "assert main() == 0\n"
        "print('cv2' in sys.modules, 'numpy' in sys.modules)\n"
    )
    return lines[-1].split()


def test_opencv_only_for_pictures(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert _analyse(realworld("mdns_zeek.pcap"), out) == ["False", "False"]
    assert _analyse(PCAPS / "demo_sales_office.pcapng", out) == ["True", "True"]
    rep = json.loads(out.read_text())
    assert "opencv" in json.dumps(rep["findings"])  # the detector is named where it ran
