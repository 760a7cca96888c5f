"""The Markdown report: the same sections as the HTML report, for tickets and wikis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from netscan.report import case_section
from netscan.report.html_report import (
    LEVEL_RANK,
    _bytes,
    _country_text,
    _dest_text,
    _path_text,
    _position,
)
from netscan.untrusted import TEXT_LIMIT, display, filename, join
from netscan.untrusted import markdown as m


class _Md(str):
    """Markdown we wrote ourselves (code spans of our own hashes and ids): not escaped."""


def _code(v: Any) -> _Md:
    """A code span for values netscan formats itself (hashes, ids, addresses); anything
    that could break out of the span is refused in favour of escaped plain text."""
    s = display(v, 200)
    if not s or "`" in s or "|" in s:
        return _Md(m(s))
    return _Md(f"`{s}`")


def _cell(v: Any) -> str:
    if isinstance(v, _Md):
        return str(v)
    return m("" if v is None else v)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _names(values: Any) -> str:
    return join(values, most=50)


def evidence_command(finding_id: Any) -> str:
    fid = display(finding_id, 64)
    return f"netscan evidence FILE… --finding {fid} --report REPORT.json -o {filename(fid)}.pcapng"


def render(report: dict[str, Any], analyst: str | None = None) -> str:
    """The Markdown report. Every value from the capture (names, banners, reasons, paths)
    goes through ``untrusted.markdown``: it renders as its own characters, never as
    Markdown or HTML, and never spans lines."""
    findings = report.get("findings", [])
    lines = [
        "# Face data on the premises network",
        "",
        f"netscan {m(report.get('netscan_version'))} · generated "
        f"{m(report.get('generated_at'))} · analyst {m(analyst or 'not given')}",
        "",
        "## Verdict",
        "",
    ]
    if not findings:
        lines.append("**No device was seen sending face data off-site.**")
    else:
        worst = max(findings, key=lambda f: LEVEL_RANK.get(f.get("level", ""), 0))["level"]
        lines.append(
            {
                "confirmed": "**Face data leaves the premises (confirmed).**",
                "likely": "**Face data likely leaves the premises.**",
                "possible": "**Face-capable devices send data off-site (possible face data).**",
            }.get(worst, f"**{m(worst)}**")
        )
        lines.append("")
        for f in findings:
            lines.append(
                f"- **{m(f.get('level'))}** {_code(f.get('id'))}: {m(f.get('device_label'))} → "
                f"{m(_dest_text(f.get('destination') or {}))}"
            )
    lines += ["", f"## Findings ({len(findings)})", ""]
    for f in findings:
        d = f.get("destination") or {}
        cross = f.get("cross_border")
        lines += [
            f"### {m(str(f.get('level', '')).upper())} {_code(f.get('id'))} — "
            f"{m(f.get('device_label'))}",
            "",
            m(f.get("reason", "")),
            "",
            f"- Path: {m(_path_text(f.get('path', [])))}",
            f"- Destination: {_code(d.get('ip') or 'unknown')} {m(_names(d.get('names')))} "
            f"(provider {m(d.get('provider') or 'unknown')}; {m(_country_text(d))}; "
            f"AS org {m(d.get('org') or 'unknown')})",
            f"- Cross-border: {'unknown' if cross is None else ('yes' if cross else 'no')}",
            f"- Upstream: {m(_bytes(f.get('bytes_up')))}, {m(f.get('image_bursts', 0))} "
            f"picture-sized bursts, shape {m(f.get('shape'))}",
            f"- Time: {m(f.get('first_ts'))} – {m(f.get('last_ts'))}",
            "",
        ]
        if f.get("faces"):
            lines += _table(
                ["Frames", "Content", "Size", "Dimensions", "Faces", "SHA-256"],
                [
                    [
                        f"{x.get('first_frame')}–{x.get('last_frame')}",
                        x.get("what"),
                        _bytes(x.get("size")),
                        f"{x.get('width')}×{x.get('height')}" if x.get("width") else "—",
                        "template" if x.get("format") == "template" else x.get("faces"),
                        _code(x.get("sha256")),
                    ]
                    for x in f["faces"]
                ],
            )
            lines.append("")
        if f.get("evidence"):
            lines += _table(
                ["File", "Frame", "What"],
                [[Path(str(e.get("file"))).name, _position(e), e.get("what")]
                 for e in f["evidence"]],
            )  # fmt: skip
            lines.append("")
        for p in f.get("provisions") or []:
            lines.append(
                f"- *{m(p.get('instrument'))}, {m(p.get('article'))}*: {m(p.get('summary'))} "
                f"({m(p.get('why'))}; source: {m(p.get('source'))})"
            )
        lines += [
            "",
            f"Packets: {_code(evidence_command(f.get('id')))}",
            "",
        ]
    lines += ["## Device inventory", ""]
    lines += _table(
        ["MAC", "Addresses", "Names", "Vendor", "Model", "Role", "Why"],
        [
            [
                d.get("mac") or d.get("key"),
                _names(d.get("ips")),
                _names(d.get("hostnames")),
                d.get("vendor") or "",
                d.get("model") or "",
                f"{d.get('role')} ({d.get('role_confidence')})",
                "; ".join(display(r, TEXT_LIMIT) for r in d.get("role_reasons") or []),
            ]
            for d in sorted(report.get("devices", []), key=lambda d: d.get("key"))
        ],
    )
    up: dict[str, int] = defaultdict(int)
    for fl in report.get("flows", []):
        if fl.get("ip") and not fl.get("peer_device"):
            up[fl["ip"]] += int(fl.get("bytes_up", 0))
    lines += ["", "## Destinations by country", ""]
    lines += _table(
        ["Country", "Endpoint", "Names", "Provider", "Category", "Bytes up"],
        [
            [
                e.get("country") or "unknown",
                e["ip"],
                _names(e.get("names")),
                e.get("provider") or e.get("org") or "",
                e.get("category") or "",
                _bytes(up.get(e["ip"], 0)),
            ]
            for e in sorted(
                report.get("endpoints", []),
                key=lambda e: (e.get("country") or "~", -up.get(e["ip"], 0), str(e["ip"])),
            )
        ],
    )
    lines += case_section.markdown_changes(report)
    sig = report.get("signatures") or {}
    inputs = report.get("inputs", [])
    firsts = [i["first_ts"] for i in inputs if i.get("first_ts")]
    lasts = [i["last_ts"] for i in inputs if i.get("last_ts")]
    lines += [
        "",
        "## Chain of custody",
        "",
        f"- Analyst: {m(analyst or 'not given')}",
        f"- Generated: {m(report.get('generated_at'))}",
        f"- netscan version: {m(report.get('netscan_version'))} (report schema "
        f"{m(report.get('schema_version'))}, engine {m(report.get('engine'))})",
        f"- Signature pack: commit {m(sig.get('commit') or 'unknown')}, date "
        f"{m(sig.get('date') or 'unknown')}, {m(sig.get('count'))} signatures",
        f"- Premises networks: {m(_names(report.get('premises')))}",
        f"- Premises country: {m(report.get('country') or 'not given')}",
        f"- Capture time range: {m(min(firsts) if firsts else '?')} – "
        f"{m(max(lasts) if lasts else '?')}",
        "",
    ]
    lines += _table(
        ["Input", "SHA-256", "Size", "Packets", "First", "Last"],
        [
            [
                i["path"],
                _code(i.get("sha256")),
                i.get("size"),
                i.get("packets"),
                i.get("first_ts"),
                i.get("last_ts"),
            ]
            for i in inputs
        ],  # fmt: skip
    )
    lines += case_section.markdown_overrides(report)
    inferred = report.get("premises_inference") or {}
    if inferred.get("ranges") or inferred.get("notes"):
        used = (
            "used in this analysis"
            if inferred.get("applied")
            else "not needed: nothing seen in them was off-site"
        )
        lines += ["", "## Premises inferred from the link", "",
                  f"Origin {_cell(inferred.get('origin'))}; {used}; gateways "
                  f"{_cell(', '.join(inferred.get('gateways') or []) or 'none identified')}.", ""]  # fmt: skip
        for r in inferred.get("ranges") or []:
            lines.append(f"- {_cell(r.get('range'))} ({_cell(', '.join(r.get('sources') or []))}): "
                         + "; ".join(_cell(x) for x in r.get("reasons") or []))  # fmt: skip
        lines += [f"- note: {_cell(x)}" for x in inferred.get("notes") or []]
    if report.get("limits"):  # what the source (e.g. Zeek logs) cannot show
        lines += ["", "## What this source cannot show", ""]
        lines += [f"- {_cell(x)}" for x in report["limits"]]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], path: str | Path, analyst: str | None = None) -> None:
    """Write the report to ``path``: a new file only the user can read (0600)."""
    from netscan.safefile import write_private

    write_private(path, render(report, analyst))
