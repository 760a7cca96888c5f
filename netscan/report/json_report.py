"""The JSON report: a stable contract (see ``report.schema.json`` beside this module).

Keys are only ever added; renaming or dropping one needs a ``schema_version`` bump.
The same input gives the same JSON apart from ``generated_at``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from netscan import __version__
from netscan import limits as _limits
from netscan.analyze import Result, relaxed_gc
from netscan.engine import loss
from netscan.inventory.model import Conversation, Device, Endpoint, Evidence, FlowTotals
from netscan.safefile import private_output
from netscan.util import iso_utc, now_iso, packed_ip

SCHEMA_VERSION = "1.0"


_iso = iso_utc


def _evidence(ev: Evidence, files: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "frame": ev.frame,
        "file": files[ev.file] if ev.file < len(files) else "",
        "what": ev.what,
    }
    if ev.sig_id:
        out["signature"] = ev.sig_id
    if ev.part:
        out["what_part"] = ev.part
    return out


def device_json(dev: Device, files: list[str]) -> dict[str, Any]:
    return {
        "mac": dev.mac,
        "key": dev.key,
        "ips": sorted(dev.ips, key=lambda ip: (":" in ip, ip)),
        "vendor": dev.vendor,
        "manufacturer": dev.manufacturer,
        "manufacturer_source": dev.manufacturer_source,
        "hostnames": sorted(dev.hostnames),
        "model": dev.model,
        "role": dev.role,
        "role_confidence": dev.role_confidence,
        "role_reasons": list(dev.role_reasons),
        "role_reason_parts": list(dev.role_reason_parts),
        "first_ts": _iso(dev.first_ts),
        "last_ts": _iso(dev.last_ts),
        "services": {k: _jsonable(v) for k, v in sorted(dev.services.items())},
        "announcements": [_jsonable(a) for a in dev.announcements],
        "dhcp": _jsonable(dev.dhcp),
        "user_agents": sorted(dev.user_agents),
        "signatures": sorted(dev.matches),
        "evidence": [_evidence(e, files) for e in dev.evidence],
    }


def endpoint_json(ep: Endpoint, files: list[str]) -> dict[str, Any]:
    names, matches, certs, evidence = ep.names, ep.matches, ep.cert_subjects, ep.evidence
    return {
        "ip": ep.ip,
        "names": sorted(names) if names else [],
        "country": ep.country,
        "asn": ep.asn,
        "org": ep.org,
        "provider": ep.provider,
        "category": ep.category,
        "signatures": sorted(matches) if matches else [],
        "certificates": sorted(certs) if certs else [],
        "evidence": [_evidence(e, files) for e in evidence] if evidence else [],
    }


def flow_json(c: Conversation, devices: dict[str, Device], files: list[str]) -> dict[str, Any]:
    dev = devices.get(c.device)
    return _flows([c], {c.device: dev.mac} if dev else {}, files, _Iso())[0]


def _flows(
    convs: list[Conversation],
    macs: dict[str, str | None],
    files: list[str],
    iso: _Iso,
    missed: bool = True,
) -> list[dict[str, Any]]:
    """The report's rows of ``convs`` (``macs``: each device key's MAC; ``missed``: whether
    the engine measured what the capture missed, so each row says it). One loop, no call
    per row but the timestamps': the stress mix lists 20,000."""
    n_files = len(files)
    get_mac = macs.get
    out = []
    append = out.append
    for c in convs:
        file, frame = c.first_frame
        protocols = c.protocols
        row = {
            "mac": get_mac(c.device),
            "device": c.device,
            "ip": c.peer_ip or None,
            "peer_mac": c.peer_mac,
            "peer_device": c.peer_device,
            "transport": c.transport,
            "port": c.port,
            "device_is_client": c.device_is_client,
            "bytes_up": c.bytes_up,
            "bytes_down": c.bytes_down,
            "packets_up": c.packets_up,
            "packets_down": c.packets_down,
            "first_ts": iso(c.first_ts),
            "last_ts": iso(c.last_ts),
            "first_frame": frame,
            "file": files[file] if file < n_files else "",
            "protocols": sorted(protocols) if len(protocols) > 1 else list(protocols),
            "flows": c.flows,
        }  # fmt: skip
        if missed:
            row["missed_bytes_up"] = c.missed_up
            row["missed_bytes_down"] = c.missed_down
        append(row)
    return out


class _Iso:
    """``iso_utc`` of many timestamps: the date and time of each whole second made once,
    the microseconds rounded as ``datetime.fromtimestamp`` rounds them (half to even)."""

    def __init__(self) -> None:
        self.seconds: dict[int, str] = {}

    def __call__(self, ts: Any) -> str | None:
        if type(ts) is not float or not (0.0 <= ts < _YEAR_10000):
            return _iso(ts)
        frac, whole = math.modf(ts)
        us = round(frac * 1e6)
        second = int(whole)
        if us >= 1_000_000:
            us -= 1_000_000
            second += 1
        prefix = self.seconds.get(second)
        if prefix is None:
            made = _iso(float(second))
            if made is None or not made.endswith("Z") or "." in made:
                return _iso(ts)
            prefix = self.seconds[second] = made[:-1]
        return f"{prefix}.{us:06d}Z" if us else prefix + "Z"


_YEAR_10000 = 253402300800.0  # 10000-01-01T00:00:00Z, beyond what iso_utc can write


def listed_flows(
    convs: list[Conversation], limit: int
) -> tuple[list[Conversation], list[Conversation]]:
    """The conversations the report lists (at most ``limit``, the largest by bytes, ties by
    key) and the ones it leaves to the aggregated totals."""
    if len(convs) <= limit:
        return convs, []
    ranked = sorted(
        convs,
        key=lambda c: (-(c.bytes_up + c.bytes_down), c.device, c.peer_ip, c.transport, c.port),
    )
    return ranked[:limit], ranked[limit:]


def totals_json(
    t: FlowTotals, why: str, devices: dict[str, Device], missed: bool = True
) -> dict[str, Any]:
    dev = devices.get(t.device)
    out = {
        "mac": dev.mac if dev else None,
        "device": t.device,
        "transport": t.transport,
        "why": why,
        "conversations": t.conversations,
        "flows": t.flows,
        "bytes_up": t.bytes_up,
        "bytes_down": t.bytes_down,
        "packets_up": t.packets_up,
        "packets_down": t.packets_down,
        "first_ts": _iso(t.first_ts),
        "last_ts": _iso(t.last_ts),
    }
    if missed:
        out["missed_bytes_up"] = t.missed_up
        out["missed_bytes_down"] = t.missed_down
    return out


def _aggregated(
    folded: dict[tuple[str, str], FlowTotals],
    omitted: list[Conversation],
    devices: dict[str, Device],
    missed: bool = True,
) -> list[dict[str, Any]]:
    """Per device and transport: conversations folded in memory, and conversations the
    report does not list, as totals (so every byte stays accounted for)."""
    out = [totals_json(t, "folded", devices, missed) for _k, t in sorted(folded.items())]
    left: dict[tuple[str, str], FlowTotals] = {}
    for c in omitted:
        key = (c.device, c.transport)
        t = left.get(key)
        if t is None:
            t = left[key] = FlowTotals(c.device, c.transport)
        t.add(c)
    out.extend(totals_json(t, "not listed", devices, missed) for _k, t in sorted(left.items()))
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        items = [_jsonable(x) for x in v]
        return sorted(items, key=str) if isinstance(v, set) else items
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float) and v != v:
        return None
    return v


def build(result: Result) -> dict[str, Any]:
    """The report of one run as a JSON-ready dict. Built with cyclic garbage collection held
    back: the report makes a few objects per conversation while the inventory still holds
    hundreds of thousands, and every full collection would walk them all again (half the
    time of building the stress mix's report)."""
    # the report is built with collection held back; the analysis left its inventory in
    # the young generations, so nothing is collected before the freeze
    with relaxed_gc(collect_first=False):
        return _build(result)


def _build(result: Result) -> dict[str, Any]:
    inv = result.inventory
    files = [i.path for i in result.inputs]
    devices = sorted(inv.devices.values(), key=lambda d: d.key)
    endpoints = sorted(inv.endpoints.values(), key=lambda e: _ip_key(e.ip))
    limits = _limits.resolve(getattr(result.options, "limits", None))
    listed, omitted = listed_flows(result.conversations, limits.report_flows)
    convs = sorted(listed, key=lambda c: (c.device, c.peer_ip, c.transport, c.port))
    folded = getattr(inv, "folded", {})
    # what the capture missed of each conversation each way, when the engine kept it
    measured = loss.per_direction(result.capture_loss)
    out = {
        "schema_version": SCHEMA_VERSION,
        "netscan_version": __version__,
        "generated_at": now_iso(),
        "engine": result.engine,
        "premises": list(inv.premises.cidrs),
        "country": result.options.country,
        "analyst": getattr(result.options, "analyst", None),
        "signatures": result.pack,
        "inputs": [
            {
                "path": i.path,
                "sha256": i.sha256,
                "size": i.size,
                "format": i.format,
                "linktypes": i.linktypes,
                "packets": i.packets,
                "first_ts": _iso(i.first_ts),
                "last_ts": _iso(i.last_ts),
                "warnings": i.warnings,
                **({"interface_statistics": i.statistics} if i.statistics else {}),
            }
            for i in result.inputs
        ],
        "summary": {
            "packets": sum(i.packets for i in result.inputs),
            "devices": len(devices),
            "endpoints": len(endpoints),
            "flows": len(result.conversations),
            "flows_listed": len(convs),
            "flows_not_listed": len(omitted),
            "flows_folded": sum(t.conversations for t in folded.values()),
            "flows_retired": getattr(inv, "flows_ended", 0),
            "engine_counts": dict(result.repeats),
            "capture_loss": dict(result.capture_loss),
            "tunnels": dict(result.tunnels),
            "mirror_sessions": result.mirrors.report(),
            **(
                {"mirror_frames_unlisted": result.mirrors.unlisted}
                if result.mirrors.unlisted
                else {}
            ),
            "findings": len(result.findings),
            "by_role": _count(d.role for d in devices),
            "by_level": _count(f.level.value for f in result.findings),
        },
        "devices": [device_json(d, files) for d in devices],
        "endpoints": [endpoint_json(e, files) for e in endpoints],
        "flows": _flows(
            convs, {k: d.mac for k, d in inv.devices.items()}, files, _Iso(), measured
        ),  # fmt: skip
        "flows_aggregated": _aggregated(folded, omitted, inv.devices, measured),
        "findings": [_jsonable(f.to_json()) for f in result.findings],
        "warnings": list(result.warnings),
    }
    inference = getattr(inv.premises, "inference", None)
    if inference is not None and (inference.ranges or inference.notes):
        out["premises_inference"] = premises_inference_json(inference, files)
    if result.limits:
        out["limits"] = list(result.limits)
    if result.record_refs is not None:  # Zeek logs: log lines and connection uids
        result.record_refs.annotate(out)
    return out


def premises_inference_json(inference: Any, files: list[str]) -> dict[str, Any]:
    """The premises ranges the link showed, why, and whether the analysis used them."""
    out = inference.as_json()
    for r in out["ranges"]:
        r["frames"] = [
            {"file": files[f["file"]] if f["file"] < len(files) else "", "frame": f["frame"]}
            for f in r["frames"]
        ]
    return out


def _ip_key(ip: str) -> tuple[int, int]:
    """(version, number) of an address, as ``ipaddress`` gives them; ValueError for none."""
    raw = packed_ip(ip)
    if raw is None:
        raise ValueError(f"not an address: {ip!r}")
    return (4 if len(raw) == 4 else 6, int.from_bytes(raw, "big"))


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def schema() -> dict[str, Any]:
    text = resources.files("netscan.report").joinpath("report.schema.json").read_text("utf-8")
    return json.loads(text)


def _fallback(v: Any) -> Any:
    """What orjson cannot serialise natively, as the report has always shown it."""
    if isinstance(v, (set, frozenset)):
        return sorted(v, key=str)
    if isinstance(v, bytes):
        return v.hex()
    raise TypeError(f"not serialisable in a report: {type(v).__name__}")


_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


_NOT_PRINTABLE_ASCII = re.compile(r"[^\x00-\x7e]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if c > 0xFFFF:
        c -= 0x10000
        return f"\\u{0xD800 | (c >> 10):04x}\\u{0xDC00 | (c & 0x3FF):04x}"
    return f"\\u{c:04x}"


def _dumps(value: Any, indent: int) -> bytes:
    """``value`` as indented JSON, nested ``indent`` levels deep, in ASCII only: DEL and
    everything beyond ASCII escaped as the standard library does (a report read in a
    terminal or pager cannot carry bidirectional overrides or escape sequences)."""
    try:
        out = orjson.dumps(value, default=_fallback, option=_OPTS)
    except orjson.JSONEncodeError:
        # strings orjson refuses (lone surrogates from undecodable bytes): the slow path
        out = json.dumps(value, indent=2, default=_fallback).encode("ascii")
    if not out.isascii() or b"\x7f" in out:
        # outside strings orjson writes ASCII only, so every such byte is inside a string
        out = _NOT_PRINTABLE_ASCII.sub(_escape, out.decode("utf-8")).encode("ascii")
    return out.replace(b"\n", b"\n" + b"  " * indent) if indent else out


def stream(report: dict[str, Any], write: Any) -> None:
    """Writes the report through ``write(bytes)`` piece by piece: one list item at a time,
    so even a report with a million flows never exists as one string."""
    write(b"{\n")
    items = list(report.items())
    for i, (key, value) in enumerate(items):
        write(b"  " + orjson.dumps(str(key)) + b": ")
        if isinstance(value, list) and value:
            write(b"[\n")
            last = len(value) - 1
            for j, item in enumerate(_items(value)):
                write(b"    " + item + (b",\n" if j < last else b"\n"))
            write(b"  ]")
        else:
            write(_dumps(value, 1))
        write(b",\n" if i < len(items) - 1 else b"\n")
    write(b"}\n")


_BATCH = 256  # list items serialised by one call: a few hundred kilobytes at most
# between two items of an indented list: items start two spaces in, their own lines further
# (a line break inside a string is always escaped, so this cannot match within one)
_NEXT_ITEM = re.compile(rb",\n  (?=[^ ])")


def _items(values: list[Any]) -> Iterator[bytes]:
    """Each item of a report list as ``_dumps(item, 2)`` writes it, serialised in batches
    (one orjson call per item cost a third of writing the stress mix's report)."""
    for start in range(0, len(values), _BATCH):
        batch = values[start : start + _BATCH]
        try:
            raw = orjson.dumps(batch, default=_fallback, option=_OPTS)
        except orjson.JSONEncodeError:  # the standard library's path, item by item
            yield from (_dumps(item, 2) for item in batch)
            continue
        if not raw.isascii() or b"\x7f" in raw:
            raw = _NOT_PRINTABLE_ASCII.sub(_escape, raw.decode("utf-8")).encode("ascii")
        # b"[\n  item,\n  item\n]": each item indented one level, as written two levels in
        parts = _NEXT_ITEM.split(raw[4:-2])
        if not raw.startswith(b"[\n  ") or len(parts) != len(batch):  # not expected
            yield from (_dumps(item, 2) for item in batch)
            continue
        for part in parts:
            yield part.replace(b"\n", b"\n  ")


def write(report: dict[str, Any], path: str | Path) -> None:
    """Write the report to ``path``: a new file only the user can read (0600)."""
    with private_output(path, "wb") as fh:  # streamed: no giant string in memory
        stream(report, fh.write)


def emit(report: dict[str, Any], dest: str) -> None:
    """Write the report to a file, or to standard output for ``-``."""
    if dest == "-":
        sys.stdout.flush()
        raw = getattr(sys.stdout, "buffer", None)
        stream(report, raw.write if raw is not None else (lambda b: sys.stdout.write(b.decode())))
        sys.stdout.flush()
    else:
        write(report, dest)
