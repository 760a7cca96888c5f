"""Reports and evidence extracts are user-private files (0600), written through a temporary
file renamed over the name given: a link planted at that name is replaced, never followed,
and a write that fails leaves the old file as it was."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("cv2", reason="opencv-python-headless is needed for face detection")

from netscan.analyze import Analyzer, Options  # noqa: E402
from netscan.cli import main  # noqa: E402
from netscan.report import json_report  # noqa: E402
from netscan.safefile import private_output  # noqa: E402
from tests.analysis.scenarios import build as sc  # noqa: E402


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sc.multihop_edge(tmp_path_factory.mktemp("report-files"))


def test_evidence_extract_is_private_and_never_follows_a_link(
    capture: Path, tmp_path: Path
) -> None:
    report = json_report.build(Analyzer(Options(country="CN")).run([str(capture)]))
    rpath = tmp_path / "r.json"
    json_report.write(report, rpath)
    assert mode(rpath) == 0o600
    assert json.loads(rpath.read_text())["findings"] == json.loads(json.dumps(report))["findings"]
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"precious")
    os.chmod(victim, 0o644)
    out = tmp_path / "ev.pcapng"
    out.symlink_to(victim)
    fid = report["findings"][0]["id"]
    rc = main(["evidence", str(capture), "--finding", fid, "--report", str(rpath), "-o", str(out)])
    assert rc == 0
    assert victim.read_bytes() == b"precious" and mode(victim) == 0o644
    assert not out.is_symlink() and mode(out) == 0o600
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert sorted(os.listdir(tmp_path)) == ["ev.pcapng", "r.json", "victim.bin"]


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    old = tmp_path / "report.json"
    old.write_text("the previous report\n")
    with pytest.raises(RuntimeError), private_output(old) as fh:
        fh.write("half of a new one")
        raise RuntimeError("disk full, say")
    assert old.read_text() == "the previous report\n"
    assert os.listdir(tmp_path) == ["report.json"]  # no temporary file left behind


def test_a_directory_or_a_device_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError), private_output(tmp_path) as fh:
        fh.write("x")
    if os.geteuid() == 0:
        dev = tmp_path / "disk"
        os.mknod(dev, 0o600 | stat.S_IFBLK, os.makedev(7, 0))  # a loop device node
        with pytest.raises(OSError, match="is a device"), private_output(dev) as fh:
            fh.write("x")
    with private_output("/dev/null") as fh:  # a stream named by the user: written in place
        fh.write("nothing")
