"""Shared test fixtures: where the public captures live, and tshark availability."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

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


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` imported as the module ``netscan_NAME`` (the fuzz harnesses)."""
    spec = importlib.util.spec_from_file_location(
        f"netscan_{name}", ROOT / "scripts" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


requires_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
