"""``netscan evidence``: the frames behind one finding, as a pcapng file.

The finding comes from a JSON report (``--report``) or from analysing the captures again. The
output keeps every packet of the finding's flows (both directions, so Wireshark can reassemble
them) plus the frames its evidence table names (DNS answers, discovery messages, ...). Each
packet carries a comment naming its source file and frame number, so an auditor can check it
against the original capture.

The pcapng file (``netscan.sources.pcapng``): one Section Header Block, one Interface
Description Block per link type, Enhanced Packet Blocks with microsecond timestamps.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import struct
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from netscan import __version__, _core
from netscan.analysis.finding import Finding, report_findings
from netscan.safefile import private_output
from netscan.sources.pcapfile import CaptureError, CaptureFile, Record
from netscan.sources.pcapng import PcapngWriter
from netscan.util import parse_iso, sha256_file

# -- packet selection -----------------------------------------------------------------------


WLAN_PROTECTED: int = _core.WLAN_PROTECTED  # pseudo EtherType: an encrypted 802.11 frame


class _Link(NamedTuple):
    ethertype: int
    offset: int
    src: bytes | None
    dst: bytes | None


def decode_link(linktype: int, data: bytes, mirrors: bool = False) -> _Link | None:
    """The frame's link layer as the packet core decodes it (None: not decodable); with
    ``mirrors``, the frame's inside a remote mirror's encapsulation, if it is one."""
    hit = _core.decode_link(linktype, data, mirrors)
    return None if hit is None else _Link(*hit)


def decode_links(linktype: int, data: bytes) -> list[_Link]:
    """The link layers a finding's frame may be matched by: the frame's inside a remote
    mirror's encapsulation, and the frame's own (the analysis opened an encapsulation only
    between addresses of the premises: one to or from elsewhere is a conversation)."""
    inner, outer = decode_link(linktype, data, True), decode_link(linktype, data)
    return [link for link in (inner, outer) if link is not None][: 1 if inner == outer else 2]


def mac_str(b: bytes | None) -> str | None:
    return None if b is None else b.hex(":")


def _l3(data: bytes, ethertype: int, off: int) -> tuple[str, str, int, int, int] | None:
    """(src ip, dst ip, proto, sport, dport) of an IPv4/IPv6 packet; ports 0 if absent."""
    if ethertype == 0x0800 and len(data) >= off + 20:
        ihl = (data[off] & 0x0F) * 4
        proto = data[off + 9]
        src = str(ipaddress.IPv4Address(data[off + 12 : off + 16]))
        dst = str(ipaddress.IPv4Address(data[off + 16 : off + 20]))
        frag = struct.unpack_from(">H", data, off + 6)[0] & 0x1FFF
        l4 = off + ihl
    elif ethertype == 0x86DD and len(data) >= off + 40:
        proto = data[off + 6]
        src = str(ipaddress.IPv6Address(data[off + 8 : off + 24]))
        dst = str(ipaddress.IPv6Address(data[off + 24 : off + 40]))
        frag = 0
        l4 = off + 40
        while proto in (0, 43, 60, 44) and len(data) >= l4 + 8:
            nxt = data[l4]
            if proto == 44:
                frag = struct.unpack_from(">H", data, l4 + 2)[0] >> 3
                l4 += 8
            else:
                l4 += (data[l4 + 1] + 1) * 8
            proto = nxt
    else:
        return None
    sport = dport = 0
    if not frag and proto in (6, 17) and len(data) >= l4 + 4:
        sport, dport = struct.unpack_from(">HH", data, l4)
    return src, dst, proto, sport, dport


_PROTO = {"tcp": 6, "udp": 17}


class Selector:
    """Matches records against a finding's flow selectors."""

    def __init__(self, flows: Iterable[dict[str, Any]]) -> None:
        self.ip_rules: list[tuple[int, frozenset[str], str, int]] = []
        self.wlan_rules: list[tuple[str, str]] = []
        for f in flows:
            if f.get("transport") == "wlan":
                self.wlan_rules.append((str(f.get("mac") or ""), str(f.get("peer_mac") or "")))
            elif f.get("transport") in _PROTO and f.get("peer_ip"):
                self.ip_rules.append(
                    (
                        _PROTO[f["transport"]],
                        frozenset(f.get("ips") or []),
                        str(f["peer_ip"]),
                        int(f.get("port") or 0),
                    )
                )

    def match(self, rec: Record) -> bool:
        data = bytes(rec.data)
        return any(self._match(data, link) for link in decode_links(rec.linktype, data))

    def _match(self, data: bytes, link: _Link) -> bool:
        if link.ethertype == WLAN_PROTECTED:
            a, b = mac_str(link.src), mac_str(link.dst)
            return any({a, b} == {m, p} for m, p in self.wlan_rules)
        hit = _l3(data, link.ethertype, link.offset)
        if hit is None:
            return False
        src, dst, proto, sport, dport = hit
        for rproto, ips, peer, port in self.ip_rules:
            if proto != rproto:
                continue
            if src == peer and (not ips or dst in ips):
                if not port or sport == port or (sport == 0 and dport == 0):
                    return True
            elif dst == peer and (not ips or src in ips):
                if not port or dport == port or (sport == 0 and dport == 0):
                    return True
        return False


def feeding_pairs(finding: Finding) -> set[frozenset[str]]:
    """The local streams a finding's path names: (feeding device, the device it feeds)
    address pairs on the premises, e.g. camera → recorder or camera → edge server."""
    path = finding.path
    by_key = {str(p.get("key")): p for p in path}
    device = finding.device
    pairs: set[frozenset[str]] = set()
    for p in path:
        if p.get("kind") != "device" or p.get("key") == device or not p.get("ip"):
            continue
        for to in p.get("to") or []:
            q = by_key.get(str(to))
            if q is not None and q.get("kind") == "device" and q.get("ip"):
                pairs.add(frozenset((str(p["ip"]), str(q["ip"]))))
    return pairs


CONTEXT_PER_STREAM = 16  # packets kept of each feeding stream (a camera streams all day)
CONTEXT_MARGIN = 5.0  # seconds around the finding's first and last upload


class ContextSelector:
    """Matches packets of the local streams that feed a finding's device: a bounded sample
    (the first ``CONTEXT_PER_STREAM`` packets of each stream while the finding's uploads
    were under way), enough to show in Wireshark what fed the device."""

    def __init__(self, pairs: set[frozenset[str]], first: float | None = None,
                 last: float | None = None) -> None:  # fmt: skip
        self.pairs = pairs
        self.lo = None if first is None else first - CONTEXT_MARGIN
        self.hi = None if last is None else last + CONTEXT_MARGIN
        self.kept: dict[frozenset[str], int] = {}

    def match(self, rec: Record) -> bool:
        if not self.pairs:
            return False
        if (self.lo is not None and rec.ts < self.lo) or (self.hi is not None and rec.ts > self.hi):
            return False
        data = bytes(rec.data)
        pairs = [frozenset((hit[0], hit[1])) for link in decode_links(rec.linktype, data)
                 if link.ethertype != WLAN_PROTECTED
                 and (hit := _l3(data, link.ethertype, link.offset)) is not None]  # fmt: skip
        pair = next((p for p in pairs if p in self.pairs), None)
        if pair is None:
            return False
        if self.kept.get(pair, 0) >= CONTEXT_PER_STREAM:
            return False
        self.kept[pair] = self.kept.get(pair, 0) + 1
        return True


class EvidenceError(LookupError):
    """The evidence cannot be written as asked; the message is one line."""


def map_inputs(report: dict[str, Any], files: list[str]) -> dict[str, str]:
    """Report input path → local file, by content hash (the sha256 the report recorded).

    Every file given must be one of the report's inputs, unchanged: a capture with other
    content would give other frames under the same numbers, so it is refused."""
    local: dict[str, str] = {}
    for f in files:
        try:
            digest = sha256_file(Path(f))
        except OSError as exc:
            raise EvidenceError(f"{f}: cannot read ({exc.strerror or exc})") from None
        local.setdefault(digest, f)
    recorded = {str(inp.get("sha256") or "") for inp in report.get("inputs", [])}
    for digest, f in local.items():
        if digest not in recorded:
            raise EvidenceError(
                f"{f} is not one of the captures the report was made from (its sha256 "
                f"{digest[:12]}… is not among the report's inputs)"
            )
    out: dict[str, str] = {}
    for inp in report.get("inputs", []):
        hit = local.get(str(inp.get("sha256") or ""))
        if hit is not None:
            out[str(inp.get("path", ""))] = hit
    return out


def _input_sha(report: dict[str, Any], path: str) -> str:
    for inp in report.get("inputs", []):
        if inp.get("path") == path:
            return str(inp.get("sha256") or "")[:12]
    return ""


def extract(
    report: dict[str, Any], finding_id: str, files: list[str], output: str | Path
) -> tuple[int, list[str]]:
    """Write the finding's frames to ``output``; (packets written, warnings).

    ``EvidenceError`` (nothing written) when a file given is not one the report was made
    from, when a capture holding the finding's frames is missing, or when no frame of the
    finding was found: an empty pcapng is never left behind."""
    findings = report_findings(report)
    finding = next((f for f in findings if f.id == finding_id), None)
    if finding is None:
        known = ", ".join(f.id for f in findings) or "none"
        raise EvidenceError(f"no finding {finding_id!r} in the report (findings: {known})")
    mapping = map_inputs(report, files)
    warnings: list[str] = []
    wanted: dict[str, set[int]] = {}
    for ev in finding.evidence:
        wanted.setdefault(ev.get("file", ""), set()).add(int(ev.get("frame", 0)))
    for face in finding.faces:
        inputs = report.get("inputs", [])
        idx = int(face.get("file_index", 0))
        if idx < len(inputs):
            first, last = int(face.get("first_frame", 0)), int(face.get("last_frame", 0))
            wanted.setdefault(inputs[idx]["path"], set()).update(range(first, last + 1))
    by_file: dict[str, list[dict[str, Any]]] = {}
    for fl in finding.flows:
        by_file.setdefault(fl.get("file", ""), []).append(fl)
    paths = sorted(p for p in set(wanted) | set(by_file) if p)
    missing = [p for p in paths if p not in mapping]
    if missing:
        sha = _input_sha(report, missing[0])
        raise EvidenceError(
            f"the finding's frames are in {missing[0]}"
            + (f" (sha256 {sha}…)" if sha else "")
            + ", which was not given"
            + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    context = ContextSelector(feeding_pairs(finding), parse_iso(finding.first_ts),
                              parse_iso(finding.last_ts))  # fmt: skip
    if context.pairs:  # the feeding streams are in the same files as the finding's flows
        for inp in report.get("inputs", []):
            if inp.get("path") in mapping:
                by_file.setdefault(inp["path"], [])
        paths = sorted(p for p in set(wanted) | set(by_file) if p)
    # 0600, never through a link; on an error the temporary file goes and nothing is left
    with private_output(output, "wb") as fh:
        writer = PcapngWriter(
            fh,
            f"netscan {__version__}",
            comment=f"netscan evidence for finding {finding_id} ({finding.level.value})",
        )

        def keep(rec: Record, comment: str) -> None:
            writer.write(rec.ts, rec.linktype, bytes(rec.data), rec.wirelen, comment)

        for rpath in paths:
            selector = Selector(by_file.get(rpath, []))
            frames = wanted.get(rpath, set())
            cap = CaptureFile(mapping[rpath])
            try:
                for rec in cap:
                    if rec.frame in frames or selector.match(rec):
                        keep(rec, f"{Path(rpath).name} frame {rec.frame}")
                    elif context.match(rec):
                        keep(rec, f"{Path(rpath).name} frame {rec.frame} "
                             "(context: a local stream feeding the finding's device)")  # fmt: skip
            finally:
                warnings.extend(f"{mapping[rpath]}: {w}" for w in cap.warnings)
                cap.close()
        count = writer.count
        if count == 0:
            raise EvidenceError(
                f"no frame of finding {finding_id} was found in the captures given; nothing written"
            )
    return count, warnings


# -- command line -----------------------------------------------------------------------------


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from netscan.cliargs import cidr as _cidr
    from netscan.cliargs import country as _country

    p = subparsers.add_parser(
        "evidence",
        help="write the frames behind one finding to a pcapng file",
        description="Write the packets behind one finding (its flows and evidence frames) "
        "to a pcapng file, each packet annotated with its source file and frame number.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="the capture files analysed")
    p.add_argument("--finding", required=True, metavar="ID", help="finding id, e.g. F-1a2b3c…")
    p.add_argument("--report", metavar="REPORT.json",
                   help="take the finding from this JSON report instead of analysing again")  # fmt: skip
    p.add_argument("-o", "--output", required=True, metavar="OUT.pcapng", help="output file")
    p.add_argument("--premises", action="append", metavar="CIDR", type=_cidr,
                   help="premises network when analysing again (repeatable)")  # fmt: skip
    p.add_argument("--country", metavar="CC", type=_country,
                   help="premises country (ISO 3166-1 alpha-2) when analysing again")  # fmt: skip
    p.add_argument("--signatures", metavar="DIR", help="signature pack when analysing again")
    p.set_defaults(handler=run)
    return p


def _report_problem(report: Any) -> str | None:
    """Why ``report`` is not a JSON report this netscan can use (its schema), or None."""
    import jsonschema

    from netscan.report.json_report import schema

    if not isinstance(report, dict):
        return "not a JSON object"
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema()).iter_errors(report)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "top level"
    return f"{where}: {error.message[:200]}"


def run(args: argparse.Namespace) -> int:
    from netscan.cliargs import UsageError

    if args.report:
        try:
            report = json.loads(Path(args.report).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read report {args.report}: {exc}") from None
        problem = _report_problem(report)
        if problem:
            raise UsageError(f"{args.report} is not a netscan JSON report ({problem})")
    else:
        from netscan.analyze import Analyzer, Options
        from netscan.report import json_report

        opts = Options(
            premises=args.premises,
            signatures=args.signatures,
            country=args.country,
        )
        report = json_report.build(Analyzer(opts).run(list(args.files)))
    try:
        count, warnings = extract(report, args.finding, list(args.files), args.output)
    except LookupError as exc:
        raise UsageError(str(exc.args[0])) from None
    except CaptureError as exc:  # unreadable capture: one line, exit 2, nothing written
        raise UsageError(str(exc)) from None
    for w in warnings:
        print(f"netscan: warning: {w}", file=sys.stderr)
    print(f"wrote {count} packets for finding {args.finding} to {args.output}", file=sys.stderr)
    return 0
