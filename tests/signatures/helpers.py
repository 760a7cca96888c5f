"""Build small signature packs in temporary directories."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

BUNDLED = Path(__file__).resolve().parents[2] / "signatures"


def make_pack(root: Path, files: dict[str, str]) -> Path:
    """A pack in ``root/pack`` with the bundled schema and PACK.yaml plus ``files``.

    Keys are paths inside the pack (``device/a.yaml``); values are YAML text, dedented.
    """
    pack = root / "pack"
    pack.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUNDLED / "schema.json", pack / "schema.json")
    shutil.copy(BUNDLED / "PACK.yaml", pack / "PACK.yaml")
    for rel, text in files.items():
        path = pack / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return pack


def sig_yaml(
    sid: str,
    match: str,
    *,
    category: str | None = None,
    role: str | None = None,
    examples: str = "[]",
    near_misses: str = "[]",
    extra: str = "",
) -> str:
    """YAML text (list item, 2-space indent) for one signature with an indented match block."""
    cat = category or sid.split(".", 1)[0]
    role_line = f"    role: {role}\n" if role else ""
    match_block = textwrap.indent(textwrap.dedent(match).strip("\n"), "      ")
    ex = examples if examples != "[]" else "[{dns_name: placeholder.invalid}]"
    return (
        f"  - id: {sid}\n"
        f"    name: Test {sid}\n"
        f"    category: {cat}\n"
        f"    vendor: Test Vendor\n"
        f"    jurisdiction: ZZ\n"
        f"{role_line}"
        f"    confidence: 0.8\n"
        f"    sources: [https://example.org/doc]\n"
        f"    match:\n{match_block}\n"
        f"    examples: {ex}\n"
        f"    near_misses: {near_misses}\n"
        f"{extra}"
    )
