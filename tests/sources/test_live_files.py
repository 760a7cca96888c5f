"""The live evidence directory holds full packets: 0600 files in a 0700 directory whatever the
backend, an existing directory never re-moded, and nothing written through a planted name.

The scapy ring writer is exercised at the writer level here (no socket needed); the
namespace tests in ``test_live.py`` check the same modes on real captures, both backends.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from netscan.safefile import PrivateDir
from netscan.sources.live import MANIFEST, LiveCapture, LiveCaptureError, _ScapyRingWriter
from netscan.sources.pcapfile import CaptureFile


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_scapy_ring_files_are_private(tmp_path: Path) -> None:
    evidence = tmp_path / "new" / "evidence"
    cap = LiveCapture("lo", evidence_dir=evidence, backend="scapy")
    old = os.umask(0o022)  # the usual umask: files would be 0644 and directories 0755
    try:
        cap._dir = PrivateDir.open(evidence)
        writer = _ScapyRingWriter(cap)
        writer._new_file()
        assert writer.fh is not None
        writer._close_file()
        writer._new_file()
        writer._close_file()
    finally:
        os.umask(old)
        cap._dir.close()
    assert mode(tmp_path / "new") == 0o700 and mode(evidence) == 0o700
    names = sorted(os.listdir(evidence))
    assert len(names) == 2 and all(n.startswith("capture_0000") for n in names)
    for name in names:
        assert mode(evidence / name) == 0o600
        cf = CaptureFile(evidence / name)
        assert list(cf) == [] and cf.warnings == []
        cf.close()


def test_open_evidence_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    os.chmod(evidence, 0o733)
    cap = LiveCapture("lo", evidence_dir=evidence, backend="scapy")
    with pytest.raises(LiveCaptureError, match="writable by group or others") as err:
        cap.start()
    assert "\n" not in str(err.value)
    assert mode(evidence) == 0o733 and os.listdir(evidence) == []
    cap.close()


def test_planted_manifest_link_is_refused(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (evidence / MANIFEST).symlink_to(victim)
    cap = LiveCapture("lo", evidence_dir=evidence, backend="scapy")
    with pytest.raises(LiveCaptureError, match="symbolic link"):
        cap.start()
    cap.close()
    assert victim.read_text() == "precious\n"
    assert (evidence / MANIFEST).is_symlink()


def test_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    os.chmod(evidence, 0o755)
    (evidence / MANIFEST).write_text('{"event": "earlier"}\n')
    os.chmod(evidence / MANIFEST, 0o600)
    d = PrivateDir.open(evidence)
    with d.open_append(MANIFEST) as fh:
        fh.write('{"event": "later"}\n')
    d.close()
    assert mode(evidence) == 0o755
    assert any("readable by group or others" in w for w in d.warnings)
    assert (evidence / MANIFEST).read_text().splitlines()[-1] == '{"event": "later"}'


def test_capture_command_refuses_an_open_directory_in_one_line(tmp_path: Path) -> None:
    evidence = tmp_path / "shared"
    evidence.mkdir()
    os.chmod(evidence, 0o1777)
    proc = subprocess.run(
        [sys.executable, "-m", "netscan", "capture", "-i", "lo", "--evidence", str(evidence),
         "--backend", "scapy", "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "writable by group or others" in lines[0], proc.stderr
    assert mode(evidence) == 0o1777 and os.listdir(evidence) == []
