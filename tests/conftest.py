"""Shared test fixtures: where the public captures live, and tshark availability."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = Path(os.environ.get("NETSCAN_REALWORLD", ROOT.parent / "shared" / "realworld"))
PCAPS = ROOT / "pcaps"


def realworld(name: str) -> Path:
    """Path of a public capture from the shared set; skips the test when the set is absent."""
    path = REALWORLD / name
    if not path.exists():
        pytest.skip(f"public capture {name} not available at {REALWORLD}")
    return path


def realworld_files() -> list[Path]:
    if not REALWORLD.is_dir():
        return []
    return sorted(p for p in REALWORLD.iterdir() if p.suffix in (".pcap", ".pcapng"))


requires_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
