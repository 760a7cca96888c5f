"""The Markdown report: the same sections as the HTML report, for tickets and wikis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from netscan.report import case_section
from netscan.report.html_report import LEVEL_RANK, _bytes, _country_text, _dest_text, _path_text


def _cell(v: Any) -> str:
    return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def render(report: dict[str, Any], analyst: str | None = None) -> str:
    findings = report.get("findings", [])
    lines = [
        "# Face data on the premises network",
        "",
        f"netscan {report.get('netscan_version')} · generated {report.get('generated_at')} · "
        f"analyst {analyst or 'not given'}",
        "",
        "## Verdict",
        "",
    ]
    if not findings:
        lines.append("**No device was seen sending face data off-site.**")
    else:
        worst = max(findings, key=lambda f: LEVEL_RANK.get(f["level"], 0))["level"]
        lines.append(
            {
                "confirmed": "**Face data leaves the premises (confirmed).**",
                "likely": "**Face data likely leaves the premises.**",
                "possible": "**Face-capable devices send data off-site (possible face data).**",
            }[worst]
        )
        lines.append("")
        for f in findings:
            lines.append(
                f"- **{f['level']}** `{f['id']}`: {f.get('device_label')} → "
                f"{_dest_text(f['destination'])}"
            )
    lines += ["", f"## Findings ({len(findings)})", ""]
    for f in findings:
        d = f["destination"]
        cross = f.get("cross_border")
        lines += [
            f"### {f['level'].upper()} `{f['id']}` — {f.get('device_label')}",
            "",
            f.get("reason", ""),
            "",
            f"- Path: {_path_text(f.get('path', []))}",
            f"- Destination: `{d.get('ip') or 'unknown'}` {', '.join(d.get('names') or [])} "
            f"(provider {d.get('provider') or 'unknown'}; {_country_text(d)}; "
            f"AS org {d.get('org') or 'unknown'})",
            f"- Cross-border: {'unknown' if cross is None else ('yes' if cross else 'no')}",
            f"- Upstream: {_bytes(f.get('bytes_up'))}, {f.get('image_bursts', 0)} picture-sized "
            f"bursts, shape {f.get('shape')}",
            f"- Time: {f.get('first_ts')} – {f.get('last_ts')}",
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
                        f"`{x.get('sha256')}`",
                    ]
                    for x in f["faces"]
                ],
            )
            lines.append("")
        if f.get("evidence"):
            lines += _table(
                ["File", "Frame", "What"],
                [[Path(str(e["file"])).name, e["frame"], e["what"]] for e in f["evidence"]],
            )
            lines.append("")
        for p in f.get("provisions") or []:
            lines.append(
                f"- *{p['instrument']}, {p['article']}*: {p['summary']} ({p['why']}; "
                f"source: {p['source']})"
            )
        lines += [
            "",
            f"Packets: `netscan evidence FILE… --finding {f['id']} --report REPORT.json "
            f"-o {f['id']}.pcapng`",
            "",
        ]
    lines += ["## Device inventory", ""]
    lines += _table(
        ["MAC", "Addresses", "Names", "Vendor", "Model", "Role", "Why"],
        [
            [
                d.get("mac") or d.get("key"),
                ", ".join(d.get("ips") or []),
                ", ".join(d.get("hostnames") or []),
                d.get("vendor") or "",
                d.get("model") or "",
                f"{d.get('role')} ({d.get('role_confidence')})",
                "; ".join(d.get("role_reasons") or []),
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
                ", ".join(e.get("names") or []),
                e.get("provider") or e.get("org") or "",
                e.get("category") or "",
                _bytes(up.get(e["ip"], 0)),
            ]
            for e in sorted(
                report.get("endpoints", []),
                key=lambda e: (e.get("country") or "~", -up.get(e["ip"], 0), e["ip"]),
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
        f"- Analyst: {analyst or 'not given'}",
        f"- Generated: {report.get('generated_at')}",
        f"- netscan version: {report.get('netscan_version')} (report schema "
        f"{report.get('schema_version')}, engine {report.get('engine')})",
        f"- Signature pack: commit {sig.get('commit') or 'unknown'}, date "
        f"{sig.get('date') or 'unknown'}, {sig.get('count')} signatures",
        f"- Premises networks: {', '.join(report.get('premises') or [])}",
        f"- Premises country: {report.get('country') or 'not given'}",
        f"- Capture time range: {min(firsts) if firsts else '?'} – {max(lasts) if lasts else '?'}",
        "",
    ]
    lines += _table(
        ["Input", "SHA-256", "Size", "Packets", "First", "Last"],
        [
            [
                i["path"],
                f"`{i['sha256']}`",
                i.get("size"),
                i.get("packets"),
                i.get("first_ts"),
                i.get("last_ts"),
            ]
            for i in inputs
        ],  # fmt: skip
    )
    lines += case_section.markdown_overrides(report)
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], path: str | Path, analyst: str | None = None) -> None:
    """Write the report to ``path``: a new file only the user can read (0600)."""
    from netscan.safefile import write_private

    write_private(path, render(report, analyst))
