"""--keep-evidence writes carved images safely: new files only, never through a link, 0600 in
0700 directories, and an existing directory is used as it is or refused, never re-moded."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netscan.analyze import Result
from netscan.safefile import UnsafePathError
from tests.analysis.scenarios import build as sc

ROOT = Path(__file__).resolve().parents[2]


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def image_name() -> str:
    return hashlib.sha256(sc.face_jpeg()).hexdigest() + ".jpg"


def kept(res: Result) -> str | None:
    return res.findings[0].faces[0]["kept_as"]


def netscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netscan", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip


def test_new_directories_are_0700_and_images_0600(
    analyse: Callable[..., Result], tmp_path: Path
) -> None:
    keep = tmp_path / "a" / "b" / "evidence"
    res = analyse("viid_confirmed", keep_evidence=str(keep))
    path = Path(kept(res) or "")
    assert path == keep / image_name()
    assert [mode(d) for d in (tmp_path / "a", tmp_path / "a" / "b", keep)] == [0o700] * 3
    assert mode(path) == 0o600 and path.read_bytes() == sc.face_jpeg()
    # a second run into the same directory finds its own image there: reused, no warning
    again = analyse("viid_confirmed", keep_evidence=str(keep))
    assert kept(again) == str(path)
    assert sorted(os.listdir(keep)) == [image_name()]
    assert not [w for w in again.warnings if str(keep) in w]


def test_planted_symlink_is_never_followed(analyse: Callable[..., Result], tmp_path: Path) -> None:
    keep = tmp_path / "evidence"
    keep.mkdir(mode=0o750)
    os.chmod(keep, 0o750)  # group may list it: used as it is, with a warning
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    (keep / image_name()).symlink_to(victim)
    res = analyse("viid_confirmed", keep_evidence=str(keep))
    # the victim is untouched, content and mode; the link is still a link
    assert victim.read_text() == "precious\n" and mode(victim) == 0o644
    assert (keep / image_name()).is_symlink()
    # the image went to another name beside it, private, with a warning saying so
    diverted = Path(kept(res) or "")
    assert diverted.parent == keep and diverted.name == image_name()[:-4] + "-1.jpg"
    assert diverted.read_bytes() == sc.face_jpeg() and mode(diverted) == 0o600
    assert not diverted.is_symlink()
    warned = [w for w in res.warnings if image_name() in w]
    assert len(warned) == 1 and "left untouched" in warned[0] and "\n" not in warned[0]
    assert any("readable by group or others" in w for w in res.warnings)
    # the existing directory keeps its own mode
    assert mode(keep) == 0o750


def test_every_name_taken_keeps_nothing_and_says_so(
    analyse: Callable[..., Result], tmp_path: Path
) -> None:
    keep = tmp_path / "evidence"
    keep.mkdir(mode=0o700)
    stem = image_name()[:-4]
    for name in [image_name()] + [f"{stem}-{i}.jpg" for i in range(1, 10)]:
        os.mkfifo(keep / name)  # a FIFO would block a careless open()
    res = analyse("viid_confirmed", keep_evidence=str(keep))
    assert kept(res) is None
    assert any("was not kept" in w for w in res.warnings)
    assert all(stat.S_ISFIFO(os.lstat(keep / n).st_mode) for n in os.listdir(keep))


def test_open_directory_is_refused_before_any_work(
    analyse: Callable[..., Result], scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    keep = tmp_path / "shared"
    keep.mkdir()
    os.chmod(keep, 0o777)
    with pytest.raises(UnsafePathError, match="writable by group or others"):
        analyse("viid_confirmed", keep_evidence=str(keep))
    proc = netscan("analyze", str(scenario("viid_confirmed")), "-q", "--keep-evidence", str(keep),
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "writable by group or others" in err[0] and str(keep) in err[0]
    assert "Traceback" not in proc.stderr
    assert mode(keep) == 0o777 and os.listdir(keep) == []


def test_directory_of_another_user_is_refused(
    scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    if os.geteuid() == 0:
        keep = tmp_path / "theirs"
        keep.mkdir(mode=0o700)
        os.chown(keep, 65534, 65534)
    else:
        keep = Path("/")  # root's, and only root may write into it
    before = mode(keep)
    proc = netscan("analyze", str(scenario("viid_confirmed")), "-q", "--keep-evidence", str(keep),
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "belongs to another user" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert mode(keep) == before


def test_reports_are_private_and_replace_planted_links(
    scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.json").symlink_to(victim)
    (out / "r.md").write_text("an older report\n")
    os.chmod(out / "r.md", 0o644)
    proc = netscan("analyze", str(scenario("viid_confirmed")), "-q", "--country", "CN",
                   "--json", "out/r.json", "--report", "out/r.html", "--markdown", "out/r.md",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious\n" and mode(victim) == 0o644
    for name in ("r.json", "r.html", "r.md"):
        p = out / name
        assert not p.is_symlink() and p.stat().st_size > 500
        assert mode(p) == 0o600, name
    assert sorted(os.listdir(out)) == ["r.html", "r.json", "r.md"]  # no temporary left
    # a terminal-like stream named by the user is written in place
    proc = netscan("analyze", str(scenario("viid_confirmed")), "-q", "--json", "/dev/stdout",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.lstrip().startswith("{")
    assert Path("/dev/stdout").is_symlink()  # written through, never replaced
