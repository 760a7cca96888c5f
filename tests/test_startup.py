"""Fixed costs stay out of runs that do not need them: ``netscan --version`` imports no
subcommand, OpenCV (with numpy) loads only for a capture that carries pictures, networkx
only when the inventory's graph is asked for."""

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
        "print('cv2' in sys.modules, 'numpy' in sys.modules, 'networkx' in sys.modules)\n"
    )
    return lines[-1].split()


def test_opencv_only_for_pictures(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert _analyse(realworld("mdns_zeek.pcap"), out) == ["False", "False", "False"]
    assert _analyse(PCAPS / "demo_sales_office.pcapng", out) == ["True", "True", "False"]
    rep = json.loads(out.read_text())
    assert "opencv" in json.dumps(rep["findings"])  # the detector is named where it ran


def test_inventory_graph_on_demand() -> None:
    from netscan.analyze import Analyzer, Options

    result = Analyzer(Options(infer_premises=False)).run([str(PCAPS / "demo_sales_office.pcapng")])
    inv = result.inventory
    assert inv._graph is None  # not built by the analysis
    g = inv.graph
    assert set(inv.devices) <= set(g.nodes) and g.number_of_edges() > 0
    kinds = {d.get("kind") for _n, d in g.nodes(data=True)}
    assert kinds == {"device", "endpoint"}
    assert inv.graph is g  # built once


def test_analyze_imports_no_other_subcommand(tmp_path: Path) -> None:
    """An analysis builds only its own subcommand's parser: the TUI, fleet, live capture,
    case store, evidence and pack-update modules stay out of its start-up."""
    out = tmp_path / "r.json"
    lines = _python(
        "import sys\n"
        "from netscan.cli import main\n"
        f"sys.argv = ['netscan', 'analyze', {str(realworld('mdns_zeek.pcap'))!r}, "
        f"'--json', {str(out)!r}, '-q']\n"
        "assert main() == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('netscan.tui', 'netscan.fleet', "
        "'netscan.live_cli', 'netscan.case.cli', 'netscan.report.evidence_cli', "
        "'netscan.signatures.cli', 'netscan.signatures.update', 'textual'))))\n"
    )
    assert lines[-1] == "[]"
    assert json.loads(out.read_text())["devices"]  # the analysis ran


def test_compiled_pack_needs_no_yaml(tmp_path: Path) -> None:
    """Once the signature pack is compiled in the cache directory, a run loads it without
    PyYAML (or jsonschema): the first run parses and checks the pack, the next ones not."""
    code = (
        "import os, sys\n"
        f"os.environ['NETSCAN_CACHE_DIR'] = {str(tmp_path / 'cache')!r}\n"
        "from netscan.analyze import load_signatures\n"
        "matcher, info = load_signatures(None)\n"
        "print(info['count'], 'yaml' in sys.modules, 'jsonschema' in sys.modules)\n"
    )
    first = _python(code)[-1].split()
    second = _python(code)[-1].split()
    assert int(first[0]) > 100 and first[0] == second[0]
    assert first[1] == "True" and second[1:] == ["False", "False"]
