"""Engine baselines: the normalised JSON report of every public capture and scenario capture.

``python -m tests.baselines.make`` writes them (``--update`` after a deliberate change);
``tests/engine/test_baselines.py`` recomputes each with the default engine and diffs.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from netscan.analyze import Analyzer, Options
from netscan.sources.pcapfile import CaptureError
from tests.conftest import PCAPS, REALWORLD, realworld_files

HERE = Path(__file__).resolve().parent
COUNTRY = "CN"  # cross-border facts are part of what the baselines pin down

# keys whose values vary between runs, machines or checkouts, not with the capture
VOLATILE = ("generated_at", "netscan_version", "signatures", "engine")


def cases() -> list[tuple[str, str]]:
    """(group, name) of every baseline: public captures, scenario captures, the demo."""
    from tests.analysis.scenarios.build import SCENARIOS

    out = [("realworld", p.name) for p in realworld_files()]
    out += [("scenarios", name) for name in SCENARIOS]
    out.append(("pcaps", "demo_sales_office.pcapng"))
    return out


def baseline_path(group: str, name: str) -> Path:
    return HERE / group / f"{name}.json"


def capture_path(group: str, name: str, scenario_dir: Path) -> Path:
    if group == "realworld":
        return REALWORLD / name
    if group == "pcaps":
        return PCAPS / name
    from tests.analysis.scenarios.build import SCENARIOS

    made = scenario_dir / f"{name}.pcap"
    if not made.exists():
        path = SCENARIOS[name](scenario_dir)
        if path != made:
            path.rename(made)
    return made


def _rename(value: Any, path: str, name: str) -> Any:
    """The capture's path replaced by its file name, everywhere (reports name files)."""
    if isinstance(value, str):
        return value.replace(path, name)
    if isinstance(value, list):
        return [_rename(v, path, name) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, path, name) for k, v in value.items()}
    return value


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _sort_lists(value: Any, parent: str = "") -> Any:
    """Sort lists whose order says nothing (evidence, announcements, findings' lists) so
    that an engine emitting the same facts in another order still matches."""
    if isinstance(value, dict):
        return {k: _sort_lists(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sort_lists(v, parent) for v in value]
        if parent in ("evidence", "announcements", "warnings", "findings", "flows", "paths",
                      "hops", "reasons", "frames", "bursts"):  # fmt: skip
            items.sort(key=_key)
        return items
    return value


def normalise(report: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k not in VOLATILE}
    out = _rename(out, path, name)
    return _sort_lists(out)


def compute(group: str, name: str, scenario_dir: Path, engine: str | None = None) -> dict[str, Any]:
    """The normalised report of one case (or ``{"error": ...}`` for an unreadable capture)."""
    from netscan.report import json_report

    path = capture_path(group, name, scenario_dir)
    opts = Options(country=COUNTRY) if engine is None else Options(country=COUNTRY, engine=engine)
    an = Analyzer(opts)
    try:
        result = an.run([str(path)])
    except CaptureError as exc:
        return {"error": str(exc).replace(str(path), name)}
    out = normalise(json_report.build(result), str(path), name)
    if group == "scenarios":
        # generated captures: their bytes follow the image encoder's version, not the engine
        for info in out.get("inputs", []):
            info.pop("sha256", None)
            info.pop("size", None)
    return out


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def diff(expected: str, actual: str, label: str, limit: int = 120) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            f"baseline/{label}",
            f"now/{label}",
            n=2,
            lineterm="",
        )
    )
    if len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more diff lines"]
    return "\n".join(lines)
