"""Zeek log files, read exactly as Zeek writes them: ASCII TSV, ``zeek-cut -m`` output, JSON.

* TSV: the ``#separator`` (written as ``\\x09``), ``#set_separator``, ``#empty_field``,
  ``#unset_field``, ``#path``, ``#fields`` and ``#types`` header; ``-`` is unset, ``(empty)`` an
  empty container; sets and vectors split on the set separator; bytes Zeek could not print are
  ``\\xNN`` escapes. A file may hold several headers (concatenated logs); each applies to the
  lines after it. ``#close`` and other ``#`` lines are skipped.
* ``zeek-cut -m``: one line of column names, no types (types follow the column names).
* JSON (``LogAscii::use_json``): one object per line, types as JSON gives them.

Everything here is hostile input: lines longer than ``MAX_LINE`` bytes, fields longer than
``MAX_FIELD`` characters and containers beyond ``MAX_ITEMS`` elements are dropped or cut and
counted in ``LogStats``; memory follows the longest accepted line, never the file.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

MAX_LINE = 256 * 1024  # bytes per log line
MAX_FIELD = 16 * 1024  # characters per field value (and per container element)
MAX_ITEMS = 512  # elements per set or vector
MAX_FIELDS = 512  # columns per header
BTEST_MARK = b"### BTest"
KNOWN_KINDS = frozenset({
    "conn", "dns", "ssl", "x509", "http", "dhcp", "files", "software", "known_hosts",
    "known_services", "known_certs", "ntp", "quic", "ssh", "notice", "weird", "tunnel",
})  # fmt: skip

_ESC = re.compile(rb"\\x([0-9a-fA-F]{2})|\\\\")

# Column types for logs without a #types line (zeek-cut output): Zeek's own types for the
# default columns of the logs netscan reads.
TYPES_BY_NAME: dict[str, str] = {
    "ts": "time", "id.orig_p": "port", "id.resp_p": "port", "duration": "interval",
    "orig_bytes": "count", "resp_bytes": "count", "missed_bytes": "count", "orig_pkts": "count",
    "orig_ip_bytes": "count", "resp_pkts": "count", "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]", "local_orig": "bool", "local_resp": "bool",
    "ip_proto": "count", "answers": "vector[string]", "TTLs": "vector[interval]",
    "qtype": "count", "rcode": "count", "trans_id": "count", "opcode": "count",
    "orig_fuids": "vector[string]", "orig_filenames": "vector[string]",
    "orig_mime_types": "vector[string]", "resp_fuids": "vector[string]",
    "resp_filenames": "vector[string]", "resp_mime_types": "vector[string]",
    "tags": "set[enum]", "proxied": "set[string]", "trans_depth": "count",
    "request_body_len": "count", "response_body_len": "count", "status_code": "count",
    "info_code": "count", "cert_chain_fps": "vector[string]",
    "client_cert_chain_fps": "vector[string]", "cert_chain_fuids": "vector[string]",
    "san.dns": "vector[string]", "san.uri": "vector[string]", "san.email": "vector[string]",
    "san.ip": "vector[addr]", "uids": "set[string]", "msg_types": "vector[string]",
    "lease_time": "interval", "conn_uids": "set[string]", "tx_hosts": "set[addr]",
    "rx_hosts": "set[addr]", "analyzers": "set[string]", "depth": "count",
    "seen_bytes": "count", "total_bytes": "count", "missing_bytes": "count",
    "overflow_bytes": "count", "is_orig": "bool", "timedout": "bool", "host_p": "port",
    "port_num": "port", "version": "string", "stratum": "count", "mode": "count",
    "resumed": "bool", "established": "bool", "extracted_size": "count",
    "version.major": "count", "version.minor": "count", "version.minor2": "count",
    "version.minor3": "count",
}  # fmt: skip
# conn.log's service is a string ("quic,ssl"); known_services' is a set: both split on ","


@dataclass
class LogStats:
    """What one log file gave and what was dropped from it."""

    path: str
    kind: str = ""
    format: str = ""
    records: int = 0
    long_lines: int = 0  # lines beyond MAX_LINE, skipped
    bad_lines: int = 0  # lines that do not parse (wrong column count, broken JSON)
    cut_fields: int = 0  # values cut to MAX_FIELD / MAX_ITEMS
    bad_values: int = 0  # values that do not parse as their type (e.g. canonified times)
    headers: int = 0
    notes: list[str] = field(default_factory=list)

    def dropped(self) -> int:
        return self.long_lines + self.bad_lines


def log_kind(path: Path) -> str:
    """The Zeek log type a file holds, from its name (``conn.log``, ``conn.09:00:00-10:00:00.log.gz``,
    ``knownhosts-all.log``, ``conn1.log``, ``http.log.cut``)."""
    name = path.name.lower()
    for suffix in (".gz", ".cut", ".json", ".log"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = name.split(".", 1)[0]  # rotated logs: conn.2024-01-01-00-00-00
    name = name.split("-", 1)[0]  # variants: knownhosts-all
    alias = {"knownhosts": "known_hosts", "knownservices": "known_services",
             "knowncerts": "known_certs"}  # fmt: skip
    name = alias.get(name, name)
    if name not in KNOWN_KINDS:
        bare = name.rstrip("0123456789")  # conn1, conn2 (but x509 stays x509)
        name = alias.get(bare, bare) if alias.get(bare, bare) in KNOWN_KINDS else name
    return name


def unescape(raw: bytes) -> str:
    """A Zeek ASCII value: ``\\xNN`` escapes back to bytes, then UTF-8 (invalid bytes become
    U+FFFD; callers render the result as plain text)."""
    if b"\\" in raw:
        raw = _ESC.sub(lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\", raw)
    return raw.decode("utf-8", "replace")


def _time(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        pass
    try:  # JSON logs with ISO 8601 times
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _scalar(v: str, typ: str, stats: LogStats) -> Any:
    if typ in ("count", "int", "port"):
        try:
            return int(v)
        except ValueError:
            stats.bad_values += 1
            return None
    if typ in ("double", "interval"):
        try:
            return float(v)
        except ValueError:
            stats.bad_values += 1
            return None
    if typ == "time":
        t = _time(v)
        if t is None:
            stats.bad_values += 1
        return t
    if typ == "bool":
        return v == "T"
    if len(v) > MAX_FIELD:
        stats.cut_fields += 1
        return v[:MAX_FIELD]
    return v


class _Header:
    def __init__(self) -> None:
        self.sep = b"\t"
        self.set_sep = b","
        self.empty = b"(empty)"
        self.unset = b"-"
        self.path = ""
        self.fields: list[str] = []
        self.types: list[str] = []


def _open(path: Path) -> IO[bytes]:
    fh = path.open("rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh)  # type: ignore[return-value]
    fh.seek(0)
    return fh


def _lines(fh: IO[bytes], stats: LogStats) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its newline); overlong lines are skipped and counted."""
    n = 0
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            stats.long_lines += 1
            while True:  # skip the rest of the line, in bounded pieces
                rest = fh.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            continue
        yield n, line.rstrip(b"\r\n")


def read_log(
    path: Path, stats: LogStats | None = None, wanted: frozenset[str] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of one log file as (line number, {column: value}); ``stats`` counts drops.
    With ``wanted``, only those columns are converted (the others are not in the record)."""
    stats = stats if stats is not None else LogStats(str(path))
    stats.kind = stats.kind or log_kind(path)
    hdr: _Header | None = None
    cut_cols: list[str] | None = None
    columns: tuple[list[str], list[tuple[int, str, str, str | None]]] | None = None
    with _open(path) as fh:
        for n, line in _lines(fh, stats):
            if not line or line.startswith(BTEST_MARK):
                continue
            if line.startswith(b"#"):
                hdr = _header_line(line, hdr, stats)
                continue
            if line.startswith(b"{"):
                stats.format = stats.format or "json"
                rec = _json_record(line, stats)
                if rec is not None:
                    stats.records += 1
                    yield n, rec
                continue
            if hdr is None or not hdr.fields:
                if cut_cols is None:  # zeek-cut -m: the first line names the columns
                    cut_cols = [unescape(c) for c in line.split(b"\t")][:MAX_FIELDS]
                    stats.format = stats.format or "cut"
                    continue
                fields, types, sep, hd = cut_cols, [], b"\t", _Header()
            else:
                fields, types, sep, hd = hdr.fields, hdr.types, hdr.sep, hdr
            values = line.split(sep)
            if len(values) != len(fields):
                stats.bad_lines += 1
                continue
            if columns is None or columns[0] is not fields:
                columns = (fields, _columns(fields, types, wanted))
            rec = {name: _convert(values[i], typ, inner, hd, stats)
                   for i, name, typ, inner in columns[1]}  # fmt: skip
            stats.records += 1
            yield n, rec


def _columns(
    fields: list[str], types: list[str], wanted: frozenset[str] | None
) -> list[tuple[int, str, str, str | None]]:
    """(index, name, type, container element type) of the columns to convert."""
    out = []
    for i, name in enumerate(fields):
        if wanted is not None and name not in wanted:
            continue
        typ = types[i] if i < len(types) else TYPES_BY_NAME.get(name, "string")
        inner = (
            typ[typ.index("[") + 1 : -1] if typ.startswith(("set[", "vector[", "table[")) else None
        )
        out.append((i, name, typ, inner))
    return out


def _header_line(line: bytes, hdr: _Header | None, stats: LogStats) -> _Header | None:
    if line.startswith(b"#separator"):
        hdr = _Header()
        stats.headers += 1
        stats.format = stats.format or "tsv"
        val = line[len(b"#separator") :].strip()
        sep = unescape(val).encode("latin-1", "replace") if val else b"\t"
        hdr.sep = sep or b"\t"
        return hdr
    if hdr is None:
        return None
    key, _, val = line[1:].partition(hdr.sep)
    if key == b"set_separator":
        hdr.set_sep = unescape(val).encode("latin-1", "replace") or b","
    elif key == b"empty_field":
        hdr.empty = val
    elif key == b"unset_field":
        hdr.unset = val
    elif key == b"path":
        hdr.path = unescape(val)[:64]
        if hdr.path:
            stats.kind = _kind_of_path(hdr.path)
    elif key == b"fields":
        hdr.fields = [unescape(f) for f in val.split(hdr.sep)][:MAX_FIELDS]
        hdr.types = []
    elif key == b"types":
        hdr.types = [unescape(t) for t in val.split(hdr.sep)][:MAX_FIELDS]
    return hdr


def _kind_of_path(p: str) -> str:
    return log_kind(Path(p + ".log"))


def _value(raw: bytes, typ: str, hdr: _Header, stats: LogStats) -> Any:
    inner = typ[typ.index("[") + 1 : -1] if typ.startswith(("set[", "vector[", "table[")) else None
    return _convert(raw, typ, inner, hdr, stats)


def _convert(raw: bytes, typ: str, inner: str | None, hdr: _Header, stats: LogStats) -> Any:
    """One field: ``inner`` is the element type of a container column, else None."""
    if raw == hdr.unset:
        return None
    if raw == hdr.empty:
        return [] if inner is not None else ""
    if inner is not None:
        parts = raw.split(hdr.set_sep)
        if len(parts) > MAX_ITEMS:
            stats.cut_fields += 1
            parts = parts[:MAX_ITEMS]
        return [None if p == hdr.unset else _scalar(unescape(p), inner, stats) for p in parts]
    if b"\\" not in raw:  # the common case: no escapes
        text = raw.decode("utf-8", "replace")
        if typ == "string" or typ == "addr" or typ == "enum":
            if len(text) > MAX_FIELD:
                stats.cut_fields += 1
                return text[:MAX_FIELD]
            return text
        return _scalar(text, typ, stats)
    return _scalar(unescape(raw), typ, stats)


def _json_record(line: bytes, stats: LogStats) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        stats.bad_lines += 1
        return None
    if not isinstance(obj, dict):
        stats.bad_lines += 1
        return None
    out: dict[str, Any] = {}
    for k, v in list(obj.items())[:MAX_FIELDS]:
        key = str(k)[:128]
        if key == "_path" and isinstance(v, str):
            stats.kind = _kind_of_path(v[:64])
            continue
        out[key] = _json_value(key, v, stats)
    return out


def _json_value(key: str, v: Any, stats: LogStats) -> Any:
    if isinstance(v, list):
        if len(v) > MAX_ITEMS:
            stats.cut_fields += 1
            v = v[:MAX_ITEMS]
        return [_json_value(key, x, stats) for x in v if not isinstance(x, (list, dict))]
    if isinstance(v, dict):
        stats.bad_values += 1
        return None
    if isinstance(v, str):
        if TYPES_BY_NAME.get(key) == "time" or key == "ts":
            t = _time(v)
            if t is None:
                stats.bad_values += 1
            return t
        if len(v) > MAX_FIELD:
            stats.cut_fields += 1
            return v[:MAX_FIELD]
    return v
