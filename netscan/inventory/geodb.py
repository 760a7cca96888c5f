"""Country and AS organisation of an address, from the database geoip2fast ships, offline.

geoip2fast keeps its tables as lists of Python integers (about 76 MB once unpickled, and
a third of a second to unpickle each run). The same tables are kept here as flat sorted
arrays in a compact index (``netscan.datacache``: built once from the data
file, tied to its size, modification time and SHA-256, and mapped by later runs, so only
the pages a look-up touches are read). ``GeoTable.lookup`` answers exactly as
``GeoIP2Fast.lookup`` does with the same data file (country code and AS name, with the
same private, not-found and invalid-address answers), by the same two binary searches
over the same ranges.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

INDEX_VERSION = 1
V4_END = 1 << 32  # starts below this are kept in 32 bits, the others as two 64-bit halves
MASK64 = (1 << 64) - 1
PRIVATE_IDS = 16  # geoip2fast: country ids below this are special or private networks
# geoip2fast's data files, by what they cover
FILE_V4 = "geoip2fast-asn.dat.gz"
FILE_V6 = "geoip2fast-asn-ipv6.dat.gz"


def data_file(ipv6: bool) -> Path | None:
    """The geoip2fast data file with AS names (IPv4 and IPv6, or IPv4 only), located
    without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("geoip2fast")
    if spec is None or not spec.submodule_search_locations:
        return None
    names = [FILE_V6] if ipv6 else []
    names.append(FILE_V4)
    for loc in spec.submodule_search_locations:
        for n in names:
            p = Path(loc) / n
            if p.exists():
                return p
    return None


def _span(netlen: int, bits: int) -> int:
    """geoip2fast's ``numIPsv4``/``numIPsv6`` table: addresses in a /netlen."""
    if 0 <= netlen <= bits:
        return 1 << (bits - netlen)
    if netlen == bits + 1:
        return 0
    raise IndexError(netlen)


def _starts(values: list[int]) -> dict[str, bytes]:
    """Sorted range starts: those below 2**32 as 32-bit, the rest as high/low halves."""
    n4 = bisect_left(values, V4_END)
    return {
        "v4": array("I", values[:n4]).tobytes(),
        "hi": array("Q", [v >> 64 for v in values[n4:]]).tobytes(),
        "lo": array("Q", [v & MASK64 for v in values[n4:]]).tobytes(),
    }


def _strings(items: list[str]) -> dict[str, bytes]:
    blob = bytearray()
    offsets = array("Q", [0])
    for s in items:
        blob += s.encode("utf-8", "surrogatepass")
        offsets.append(len(blob))
    return {"offsets": offsets.tobytes(), "blob": bytes(blob)}


def build_parts(path: Path) -> dict[str, bytes]:
    """The index sections of a geoip2fast data file (a gzip-compressed pickle)."""
    import gzip
    import pickle

    with gzip.open(path, "rb") as fh:
        version, source_info, _total, db = pickle.load(fh)  # noqa: S301 - the package's data
    if version not in (120, 121) or not (source_info.get("country") and source_info.get("asn")):
        raise ValueError(f"{path}: not a geoip2fast country and AS data file")
    (index, index_asn, names_country, names_asn, first_ip, first_ip_asn, country_ids,
     asn_ids, netlens, netlens_asn) = db  # fmt: skip
    flat = [v for chunk in first_ip for v in chunk]
    flat_asn = [v for chunk in first_ip_asn for v in chunk]
    # the two-level search geoip2fast does equals one search over the flattened ranges
    # when each chunk starts at its index entry and the chunks follow one another
    for idx, chunks, values in ((index, first_ip, flat), (index_asn, first_ip_asn, flat_asn)):
        if (
            [c[0] for c in chunks] != list(idx)
            or not values
            or values[0] != 0
            or values != sorted(values)  # (timsort: one pass over sorted input)
            or len(set(values)) != len(values)
        ):
            raise ValueError(f"{path}: ranges not in the order geoip2fast searches them")
    # a country id's answer: its code, "--" for the special and private networks, None
    # where geoip2fast's own look-up fails (a name that is not "code:name")
    codes: list[str | None] = []
    for i, item in enumerate(names_country):
        parts = item.split(":")
        codes.append(None if len(parts) != 2 else ("--" if i < PRIVATE_IDS else parts[0]))
    meta = {"ipv6": index[-1] > V4_END, "codes": codes}
    out: dict[str, bytes] = {"meta": json.dumps(meta).encode()}
    for k, v in _starts(flat).items():
        out["c_" + k] = v
    out["c_len"] = array("B", [n for c in netlens for n in c]).tobytes()
    out["c_id"] = array("I", [n for c in country_ids for n in c]).tobytes()
    for k, v in _starts(flat_asn).items():
        out["a_" + k] = v
    out["a_len"] = array("B", [n for c in netlens_asn for n in c]).tobytes()
    out["a_id"] = array("I", [n for c in asn_ids for n in c]).tobytes()
    for k, v in _strings(list(names_asn)).items():
        out["asn_" + k] = v
    counts = {len(flat), len(out["c_len"]), len(out["c_id"]) // 4}
    counts_asn = {len(flat_asn), len(out["a_len"]), len(out["a_id"]) // 4}
    if len(counts) != 1 or len(counts_asn) != 1:
        raise ValueError(f"{path}: tables of different lengths")
    return out


class _Ranges:
    """Sorted range starts with their prefix lengths and ids."""

    def __init__(self, parts: Mapping[str, memoryview], p: str) -> None:
        self.v4 = parts[p + "v4"].cast("I")
        self.hi = parts[p + "hi"].cast("Q")
        self.lo = parts[p + "lo"].cast("Q")
        self.netlen = parts[p + "len"].cast("B")
        self.ids = parts[p + "id"].cast("I")
        self.n4 = len(self.v4)
        if not (len(self.hi) == len(self.lo) and self.n4 + len(self.hi) == len(self.ids)
                == len(self.netlen) and self.n4):  # fmt: skip
            raise ValueError("index sections disagree")

    def start(self, i: int) -> int:
        if i < self.n4:
            return int(self.v4[i])
        j = i - self.n4
        return (int(self.hi[j]) << 64) | int(self.lo[j])

    def find(self, x: int) -> int:
        """Index of the last range starting at or below ``x`` (``bisect_right - 1``)."""
        if x < V4_END:
            return bisect_right(self.v4, x) - 1
        h, lo = x >> 64, x & MASK64
        a = bisect_left(self.hi, h)
        b = bisect_right(self.hi, h, a)
        return self.n4 + bisect_right(self.lo, lo, a, b) - 1


class GeoTable:
    """Look-ups over one geoip2fast data file's index."""

    def __init__(self, parts: Mapping[str, memoryview], source: str) -> None:
        meta = json.loads(bytes(parts["meta"]))
        self.source = source
        self.ipv6 = bool(meta["ipv6"])
        self.codes: list[str | None] = meta["codes"]
        self.country = _Ranges(parts, "c_")
        self.asn = _Ranges(parts, "a_")
        self._asn_offsets = parts["asn_offsets"].cast("Q")
        self._asn_blob = parts["asn_blob"]

    def _asn_name(self, i: int) -> str:
        a, b = self._asn_offsets[i], self._asn_offsets[i + 1]
        return bytes(self._asn_blob[a:b]).decode("utf-8", "surrogatepass")

    @staticmethod
    def _ip2int(ip: str) -> int:
        try:
            return int(struct.unpack(">L", socket.inet_aton(ip))[0])
        except Exception:  # noqa: BLE001 - geoip2fast tries IPv6 on any failure
            return int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), byteorder="big")

    def _asn_lookup(self, x: int) -> str:
        try:
            r = self.asn
            i = r.find(x)
            first = r.start(i)
            name_id = r.ids[i]
            span = _span(r.netlen[i], 128 if self.ipv6 else 32)
            if x > first + span - 1:
                return ""
            return self._asn_name(name_id)
        except Exception:  # noqa: BLE001 - geoip2fast answers "" on any failure
            return ""

    def lookup(self, ip: str) -> tuple[str, str]:
        """(country code, AS name) as ``GeoIP2Fast.lookup`` gives them: "--" for special
        and private networks and for addresses in no range, "" for an invalid address."""
        try:
            x = self._ip2int(ip)
        except Exception:  # noqa: BLE001
            return "", ""
        try:
            r = self.country
            i = r.find(x)
            first = r.start(i)
            netlen = r.netlen[i]
            last = first + _span(netlen, 32 if x <= V4_END else 128) - 1
            if x > last:
                return "--", ""
            asn = self._asn_lookup(x)
            code = self.codes[r.ids[i]]
            if code is None:
                return "", ""
            return code, asn
        except Exception:  # noqa: BLE001 - geoip2fast's "internal error" answer
            return "", ""


class _Library:
    """geoip2fast itself, for a data file this module cannot index (a later format)."""

    def __init__(self, path: Path) -> None:
        from geoip2fast import GeoIP2Fast

        self.source = os.fspath(path)
        self._db = GeoIP2Fast(geoip2fast_data_file=self.source, verbose=False)

    def lookup(self, ip: str) -> tuple[str, str]:
        r = self._db.lookup(ip)
        return r.country_code or "", getattr(r, "asn_name", "") or ""


@lru_cache(maxsize=2)
def table(ipv6: bool) -> GeoTable | _Library | None:
    """The index of the data file for IPv4 only or IPv4 and IPv6 (None: no data file)."""
    path = data_file(ipv6)
    if path is None:
        return None
    from netscan import datacache

    try:
        parts = datacache.load("geoip2fast", INDEX_VERSION, path, lambda: build_parts(path))
        return GeoTable(parts, os.fspath(path))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return _Library(path)  # tables laid out otherwise: the library answers


def info(ip: str, ipv6: bool) -> dict[str, Any]:
    """What ``lookup`` answers, by name (for tests and diagnostics)."""
    t = table(ipv6)
    code, asn = t.lookup(ip) if t is not None else ("", "")
    return {"country_code": code, "asn_name": asn}
