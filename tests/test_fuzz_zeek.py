"""The Zeek log mutation fuzz (``scripts/fuzz_zeek.py``), kept small for CI."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from netscan.analyze import Analyzer, Options
from tests.conftest import load_script

fz = load_script("fuzz_zeek")


def test_mutated_zeek_logs_give_reports_or_one_line(tmp_path: Path) -> None:
    """200 damaged log directories: each ends in the three reports or a one-line refusal."""
    assert fz.main(["--iterations", "200", "--seed", "20261", "--out", str(tmp_path)]) == 0
    assert not tmp_path.exists() or not list(tmp_path.iterdir())  # no reproducer written


def test_mutants_are_deterministic_and_reach_the_analysis(tmp_path: Path) -> None:
    dirs = fz.seed_dirs()
    assert len(dirs) >= 10
    a, b = fz.make_mutant(dirs, 5, 7), fz.make_mutant(dirs, 5, 7)
    assert a.files == b.files and a.notes == b.notes
    assert fz.make_mutant(dirs, 5, 8).files != a.files
    # the masked baseline times are given back, so records get past their time
    assert not any(b"XXXXXXXXXX.XXXXXX" in d for d in a.files.values())
    from netscan.sources.zeek import analyze_zeek

    records = 0
    for i in range(20):
        m = fz.make_mutant(dirs, 5, i)
        d = tmp_path / f"m{i}"
        d.mkdir()
        for name, data in m.files.items():
            (d / name).write_bytes(data)
        with contextlib.suppress(FileNotFoundError):  # no log left that netscan reads
            records += analyze_zeek(Analyzer(Options()), d).zeek_records
    assert records >= 100


def test_a_crash_is_kept_as_a_reproducer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: an analysis that raises is a crash, its directory kept."""

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("netscan.sources.zeek.analyze_zeek", boom)
    assert fz.main(["--iterations", "1", "--seed", "1", "--out", str(tmp_path)]) == 1
    (txt,) = tmp_path.glob("zeek-crash-1-0.txt")
    assert "RuntimeError: boom" in txt.read_text() and (tmp_path / "zeek-crash-1-0").is_dir()
