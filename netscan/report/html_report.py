"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external assets).

Order: the verdict first, then every finding with its evidence, a picture of the premises
(devices on the left, off-site endpoints on the right, face paths highlighted), the device
inventory, destinations by country, and the chain of custody. It is built from the JSON report
alone, so a report can be re-rendered later without the captures.
"""

from __future__ import annotations

from collections import defaultdict
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from netscan import i18n, reasons, untrusted
from netscan.analysis.finding import LEVELS, Destination, Finding, report_findings, worst_level
from netscan.i18n import N_, _, ngettext
from netscan.inventory.model import CAMERA_FAMILY
from netscan.report import case_section, legal, walk_section
from netscan.report.completeness import finding_note, missed_by_peer, report_notes

LEVEL_COLOURS = {"confirmed": "#b3261e", "likely": "#c25e00", "possible": "#8a7300"}
MAX_COLUMN = 24  # nodes per column in the picture
# element ids in the second and later languages of a bilingual report carry a suffix, so the
# first language keeps the plain ids other reports link to (fleet.html → report.html#F-…)
_ID_SUFFIX: ContextVar[str] = ContextVar("html_id_suffix", default="")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1c1b1f;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:2px solid #ddd;
padding-bottom:4px}h3{font-size:16px;margin:0 0 6px}
.meta{color:#555}
.verdict{border-radius:8px;padding:16px 20px;margin:18px 0;color:#fff}
.verdict p{margin:4px 0}.verdict .big{font-size:20px;font-weight:600}
.v-confirmed{background:#b3261e}.v-likely{background:#c25e00}.v-possible{background:#8a7300}
.v-none{background:#2e7d32}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;color:#fff;font-size:12px;
font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.finding{background:#fff;border:1px solid #ddd;border-left:6px solid #999;border-radius:6px;
padding:14px 16px;margin:14px 0}
.finding .gaps{background:#fff4e0;border-left:3px solid #c25e00;padding:4px 8px}
table{border-collapse:collapse;width:100%;margin:8px 0;background:#fff}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
td.mono{word-break:break-all}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.kv{display:grid;grid-template-columns:200px 1fr;gap:2px 12px;margin:6px 0}
.kv div:nth-child(odd){color:#555}
.path{margin:6px 0;padding:6px 8px;background:#f6f6f6;border-radius:4px}
.small{font-size:12px;color:#555}
svg text{font:11px system-ui,sans-serif}
.legend span{display:inline-block;margin-right:14px}
:lang(zh-CN) body,:lang(zh-CN){font-family:system-ui,"Noto Sans CJK SC","Source Han Sans SC",
"PingFang SC","Microsoft YaHei",sans-serif}
.provision{margin:6px 0 10px}
.quote{display:grid;grid-template-columns:1fr 1fr;gap:10px;margin:4px 0}
.quote blockquote{margin:0;padding:6px 10px;background:#f6f6f6;border-left:3px solid #bbb}
.quote .tr{border-left-color:#ddd;color:#333}
.quote .label{display:block;font-size:11px;color:#666;margin-bottom:2px}
.quote.one{grid-template-columns:1fr}
nav.langs{max-width:1180px;margin:0 auto;padding:10px 24px 0;text-align:right}
nav.langs a{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:2px 10px;
margin-left:6px;background:#fff;color:#1c1b1f;text-decoration:none}
main.lang{display:none}main.lang:first-of-type{display:block}main.lang:target{display:block}
body:has(main.lang:target) main.lang:not(:target){display:none}
.walk-yes{border-left-color:#b3261e}.walk-no{border-left-color:#2e7d32}
"""


def _case_note(obj: dict[str, Any]) -> str:
    """The analysts' overrides of a device, beside what the traffic said."""
    return case_section.html_override_note(obj)


def _status_note(f: Finding) -> str:
    """The analysts' status of a finding, beside the level the traffic said."""
    return case_section.html_override_note({"analyst_status": f.analyst_status})


def _e(v: Any) -> str:
    """Escaped for HTML text and attributes; control, bidi and invisible characters shown
    as visible escapes and line breaks never kept (the one rule of ``netscan.untrusted``)."""
    return untrusted.html(v)


def _position(e: dict[str, Any]) -> str:
    """A frame number, or for Zeek logs the log line and connection uid."""
    if e.get("line"):
        out = _("line {line}").format(line=e["line"])
        return out + (_(", uid {uid}").format(uid=e["uid"]) if e.get("uid") else "")
    return str(e.get("frame"))


def picture_dims(x: dict[str, Any]) -> str:
    """A carved picture's dimensions for the reports' tables ("—" when not decoded), saying
    when the picture was cut short (by the capture: decoded as far as it went)."""
    if not x.get("width"):
        return "—"
    if x.get("cut"):
        return _("{width}×{height}, cut short").format(width=x.get("width"), height=x.get("height"))
    return f"{x.get('width')}×{x.get('height')}"


def _bytes(n: int | float | None) -> str:
    """A byte count in decimal units, the number written as the report's locale does."""
    return i18n.size(n)


def _n(v: Any) -> str:
    """A count, grouped for the locale."""
    return i18n.number(v)


def _badge(level: str) -> str:
    colour = LEVEL_COLOURS.get(level, "#555")
    return f'<span class="badge" style="background:{colour}">{_e(i18n.term("level", level))}</span>'


def _worst(findings: list[Finding]) -> str | None:
    worst = worst_level(f.level for f in findings)
    return worst.value if worst is not None else None


def _dest_text(d: Destination) -> str:
    name = ", ".join(d.names) or d.ip or _("unknown destination")
    bits = [name]
    if d.provider:
        bits.append(_("operated by {provider}").format(provider=d.provider))
    return " — ".join(bits)


def _country_text(d: Destination) -> str:
    parts = []
    if d.ip_country:
        parts.append(_("address in {country}").format(country=d.ip_country))
    if d.operator_country:
        parts.append(_("operator in {country}").format(country=d.operator_country))
    return _(", ").join(parts) or _("country unknown")


# -- sections -----------------------------------------------------------------------------


def _verdict(report: dict[str, Any]) -> str:
    findings = report_findings(report)
    worst = _worst(findings)
    country = report.get("country")
    notes = report_notes(report)
    gaps = "".join(f"<p>{_e(note)}</p>" for note in notes)
    if worst is None:
        return (
            f'<section class="verdict v-none"><p class="big">'
            f"{_e(_('No device was seen sending face data off-site.'))}</p><p>"
            + _e(
                _(
                    "No camera, recorder, face terminal or edge server sent significant upstream "
                    "data to an off-site host in these captures."
                )
            )
            + f"</p>{gaps}</section>"
        )
    by_level: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_level[f.level].append(f)
    headline = headline_text(worst)
    lines = []
    for level in LEVELS:
        fs = by_level.get(level, [])
        if not fs:
            continue
        devices = sorted({f.device_label or f.device for f in fs})
        dests = sorted({_dest_text(f.destination) for f in fs})
        count = _("{count} {level}").format(count=_n(len(fs)), level=i18n.term("level", level))
        lines.append(
            f"<p><b>{_e(count)}</b>: {_e('; '.join(devices))} → {_e('; '.join(dests))}</p>"
        )
    faces = sum(f.face_images for f in findings)
    crossing = [f for f in findings if f.cross_border]
    extra = []
    if faces:
        extra.append(
            ngettext("{n} distinct face picture seen leaving in plaintext",
                     "{n} distinct face pictures seen leaving in plaintext", faces
                     ).format(n=_n(faces))
        )  # fmt: skip
    if country:
        extra.append(
            ngettext("{n} finding crosses the border of the premises country {country}",
                     "{n} findings cross the border of the premises country {country}",
                     len(crossing)).format(n=_n(len(crossing)), country=country)
        )  # fmt: skip
    else:
        extra.append(_("premises country not given: cross-border status not assessed"))
    return (
        f'<section class="verdict v-{_e(worst)}"><p class="big">{_e(headline)}</p>'
        + "".join(lines)
        + f"<p>{_e(_('; ').join(extra) + _('.'))}</p>{gaps}</section>"
    )


# what each kind of finding means, in a sentence (the finding's reason has the particulars)
KIND_MEANING = {
    "face-upload": N_("Face pictures or face templates are sent off-site."),
    "face-cloud-upload": N_("Picture-sized uploads go to a facial-recognition cloud."),
    "face-cloud-contact": N_("A face-capable device talks to a facial-recognition cloud."),
    "offsite-upstream": N_("A face-capable device sends significant upstream data off-site."),
    "wlan-camera-upstream": N_(
        "A camera seen only as encrypted Wi-Fi sends a steady video-shaped upstream."
    ),
    "face-library-sync": N_("A face library held off-site is pushed to this device."),
}


def kind_text(kind: Any) -> str:
    """The finding's kind in the current language, with what it means when we know it."""
    meaning = KIND_MEANING.get(str(kind))
    word = i18n.term("kind", kind)
    if not meaning:
        return word
    return _("{kind}: {meaning}").format(kind=word, meaning=_(meaning))


def reason_label(f: Finding | None = None) -> str:
    """In a language other than English, the analysis' own (English) reason is labelled so
    when it is shown as it is (the finding ``f`` has no translatable ``reason_parts``)."""
    if i18n.current() == "en" or (f is not None and reasons.is_translated(f)):
        return ""
    return _("Analysis (as netscan wrote it, in English): ")


def headline_text(worst: str | None) -> str:
    """The verdict in one sentence, in the current language."""
    if worst is None:
        return _("No device was seen sending face data off-site.")
    return {
        "confirmed": _("Face data leaves the premises (confirmed)."),
        "likely": _("Face data likely leaves the premises."),
        "possible": _("Face-capable devices send data off-site (possible face data)."),
    }.get(worst, worst)


def _kv(rows: list[tuple[str, str]]) -> str:
    return (
        '<div class="kv">'
        + "".join(f"<div>{_e(k)}</div><div>{v}</div>" for k, v in rows)
        + "</div>"
    )


def _path_text(path: list[dict[str, Any]]) -> str:
    stages: dict[int, list[str]] = defaultdict(list)
    for node in path:
        stages[int(node.get("stage", 0))].append(str(node.get("label") or node.get("key")))
    return " → ".join(" + ".join(stages[s]) for s in sorted(stages))


def _missed_note(f: Finding) -> str:
    note = finding_note(f.capture_missed)
    return f'<p class="gaps">{_e(note)}</p>' if note else ""


def _finding(f: Finding) -> str:
    level = f.level.value
    colour = LEVEL_COLOURS.get(level, "#999")
    d = f.destination
    cross_txt = i18n.yes_no(f.cross_border)
    out = [
        f'<article class="finding" id="{_e(f.id + _ID_SUFFIX.get())}" style="border-left-color:{colour}">',
        f"<h3>{_badge(level)} <code>{_e(f.id)}</code> {_e(f.device_label)}"
        f" → {_e(_dest_text(d))}</h3>",
        f"<p>{_e(reason_label(f))}{_e(reasons.reason_text(f))}</p>",
        _missed_note(f),
        _status_note(f),
        f'<div class="path"><b>{_e(_("Path:"))}</b> {_e(_path_text(f.path))}</div>',
        _kv(
            [
                (
                    _("Device"),
                    f"<code>{_e(f.device_mac or f.device)}</code> "
                    f"{_e(f.device_ip or '')} ({_e(i18n.term('role', f.device_role))})",
                ),
                (
                    _("Destination"),
                    f"<code>{_e(d.ip or _('unknown'))}</code> {_e(', '.join(d.names))}",
                ),
                (_("Provider"), _e(d.provider or _("unknown"))),
                (_("Country"), _e(_country_text(d))),
                (_("AS organisation"), _e(d.org or _("unknown"))),
                (_("Kind"), _e(kind_text(f.kind))),
                (_("Cross-border"), _e(cross_txt)),
                (
                    _("Upstream"),
                    _e(
                        _("{size} ({bursts} picture-sized bursts, shape {shape})").format(
                            size=_bytes(f.bytes_up),
                            bursts=_n(f.image_bursts),
                            shape=i18n.term("shape", f.shape),
                        )
                    ),
                ),
                (
                    _("Time"),
                    f"{_e(i18n.when(f.first_ts))} – {_e(i18n.when(f.last_ts))}",
                ),
                (
                    _("Transport"),
                    _e(", ".join(f.transport))
                    + (_e(_(" (plaintext content seen)")) if f.plaintext else ""),
                ),
            ]
        ),  # fmt: skip
    ]
    faces = f.faces
    if faces:
        heads = (_("Frames"), _("Content"), _("Size"), _("Dimensions"), _("Faces detected"),
                 _("SHA-256"))  # fmt: skip
        out.append(f"<h4>{_e(_('Pictures and templates carved from the traffic'))}</h4><table><tr>"
                   + "".join(f"<th>{_e(x)}</th>" for x in heads) + "</tr>")  # fmt: skip
        for x in faces:
            dims = picture_dims(x)
            nfaces = x.get("faces")
            nf = _("template") if x.get("format") == "template" else (
                _("detector unavailable") if nfaces is None else str(nfaces))  # fmt: skip
            out.append(
                f"<tr><td class='num'>{_e(x.get('first_frame'))}–{_e(x.get('last_frame'))}</td>"
                f"<td>{_e(x.get('what'))}</td><td class='num'>{_e(_bytes(x.get('size')))}</td>"
                f"<td>{_e(dims)}</td><td>{_e(nf)}</td>"
                f"<td class='mono'>{_e(x.get('sha256'))}</td></tr>"
            )
        out.append("</table>")
    ev = f.evidence
    if ev:
        out.append(f"<h4>{_e(_('Evidence'))}</h4><table><tr><th>{_e(_('File'))}</th>"
                   f"<th>{_e(_('Frame'))}</th><th>{_e(_('What'))}</th></tr>")  # fmt: skip
        for e in ev:
            out.append(
                f"<tr><td class='mono'>{_e(Path(str(e.get('file', ''))).name)}</td>"
                f"<td class='num'>{_e(_position(e))}</td><td>{_e(reasons.evidence_text(e))}</td></tr>"
            )
        out.append("</table>")
    provs = f.provisions
    if provs:
        out.append(f"<h4>{_e(_('Provisions this may engage'))}</h4><ul>")
        out.extend(_provision(p) for p in provs)
        out.append("</ul>")
    out.append(
        f"<p class='small'>{_e(_('Extract the packets:'))} <code>netscan evidence FILE… --finding "
        f"{_e(f.id)} --report REPORT.json -o {_e(f.id)}.pcapng</code></p>"
    )
    out.append("</article>")
    return "\n".join(out)


def _link(src: str) -> str:
    if src.startswith("https://"):
        return f' <a href="{_e(src)}" rel="noreferrer">{_e(_("source"))}</a>'
    return f" ({_e(src)})" if src else ""


def _provision(p: dict[str, Any]) -> str:
    """One provision: the instrument and article, the summary in the report's language, and
    the text quoted in its original language with the translation beside it."""
    v = legal.view(p)
    title = _("{instrument}, {article}").format(instrument=v.instrument, article=v.article)
    out = [
        f"<li class='provision'><b>{_e(title)}</b>{_e(_(': '))}{_e(v.summary)} "
        f"<span class='small'>({_e(v.why)})</span>{_link(v.source)}"
    ]
    if v.quote:
        head = _("Original text ({lang})").format(lang=i18n.native_name(v.quote_lang))
        cite = f"{v.quote_instrument} {v.quote_article}".strip()
        one = "" if v.translation else " one"
        out.append(
            f"<div class='quote{one}'><blockquote lang='{_e(v.quote_lang)}'><span class='label'>"
            f"{_e(head)} · {_e(cite)}{_link(v.quote_source)}</span>{_e(v.quote)}</blockquote>"
        )
        if v.translation:
            out.append(
                f"<blockquote class='tr' lang='{_e(i18n.current())}'><span class='label'>"
                f"{_e(_('Translation (unofficial)'))}</span>{_e(v.translation)}</blockquote>"
            )
        out.append("</div>")
    out.append("</li>")
    return "".join(out)


# -- the premises picture -------------------------------------------------------------------


def graph_svg(report: dict[str, Any]) -> str:
    """Devices (left: feeding devices, middle: devices talking off-site) and off-site
    endpoints (right, grouped by country); edges carry traffic, face paths are coloured."""
    devices = {d["key"]: d for d in report.get("devices", [])}
    endpoints = {e["ip"]: e for e in report.get("endpoints", [])}
    findings = report_findings(report)
    offsite_up: dict[tuple[str, str], int] = defaultdict(int)
    local: dict[tuple[str, str], int] = defaultdict(int)
    for fl in report.get("flows", []):
        dev = fl.get("device")
        if fl.get("peer_device"):
            up, down = int(fl.get("bytes_up", 0)), int(fl.get("bytes_down", 0))
            # draw the edge in the direction the bulk of the bytes goes
            if up >= down:
                local[(dev, fl["peer_device"])] += up
            else:
                local[(fl["peer_device"], dev)] += down
        elif fl.get("ip") in endpoints:
            offsite_up[(dev, fl["ip"])] += int(fl.get("bytes_up", 0))
    hot: dict[tuple[str, str], str] = {}  # edge -> level colour
    path_nodes: set[str] = set()
    for f in sorted(findings, key=lambda f: f.level.rank):
        for node in f.path:
            path_nodes.add(str(node.get("key")))
            for target in node.get("to") or []:
                hot[(str(node.get("key")), str(target))] = LEVEL_COLOURS.get(f.level, "#999")
    # columns
    talkers = {d for (d, _ip) in offsite_up}
    mid_keys = sorted(
        {k for k in talkers if k in devices and (
            devices[k].get("role") in CAMERA_FAMILY or k in path_nodes
            or sum(v for (d, _), v in offsite_up.items() if d == k) >= 100_000)}
        | {f.device for f in findings if f.device in devices}
    )  # fmt: skip
    left_keys = sorted(
        k for k, d in devices.items()
        if k not in mid_keys and (d.get("role") in CAMERA_FAMILY or k in path_nodes)
    )  # fmt: skip
    ep_weight: dict[str, int] = defaultdict(int)
    for (d, ip), v in offsite_up.items():
        if d in mid_keys:
            ep_weight[ip] += v
    dests = {str(f.destination.ip) for f in findings if f.destination.ip}
    right = sorted(
        set(sorted(ep_weight, key=lambda ip: -ep_weight[ip])[:MAX_COLUMN]) | dests,
        key=lambda ip: (endpoints.get(ip, {}).get("country") or "~", ip),
    )
    left_keys, mid_keys = left_keys[:MAX_COLUMN], mid_keys[:MAX_COLUMN]
    rows = max(len(left_keys), len(mid_keys), len(right), 1)
    row_h, width = 46, 1120
    height = rows * row_h + 70
    xs = (20, 420, 800)
    box_w = 280
    pos: dict[str, tuple[float, float]] = {}

    def place(keys: list[str], x: int) -> None:
        off = (rows - len(keys)) * row_h / 2
        for i, k in enumerate(keys):
            pos[k] = (x, 50 + off + i * row_h)

    place(left_keys, xs[0])
    place(mid_keys, xs[1])
    place(right, xs[2])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="premises graph">',
        f'<text x="20" y="24" font-weight="600">{_e(_("feeding devices"))}</text>',
        f'<text x="420" y="24" font-weight="600">{_e(_("devices talking off-site"))}</text>',
        f'<text x="800" y="24" font-weight="600">{_e(_("off-site endpoints (by country)"))}</text>',
    ]
    edges: list[tuple[str, str, str, float]] = []
    for (a, b), v in local.items():
        if a in pos and b in pos and a != b and v >= 50_000:
            edges.append((a, b, hot.get((a, b), "#9e9e9e"), v))
    for (a, ip), v in offsite_up.items():
        if a in pos and ip in pos:
            edges.append((a, ip, hot.get((a, ip), "#9e9e9e"), v))
    for a, b, colour, v in sorted(edges, key=lambda e: (e[2] != "#9e9e9e", e[0], e[1])):
        x1, y1 = pos[a]
        x2, y2 = pos[b]
        x1 += box_w
        y1 += 16
        y2 += 16
        stroke = 1.2 if colour == "#9e9e9e" else 3.0
        mx = (x1 + x2) / 2
        parts.append(
            f'<path d="M{x1:.0f},{y1:.0f} C{mx:.0f},{y1:.0f} {mx:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
            f'fill="none" stroke="{colour}" stroke-width="{stroke}" opacity="0.85">'
            f"<title>{_e(a)} → {_e(b)}: {_e(_bytes(v))}</title></path>"
        )
    for k, (x, y) in pos.items():
        if k in devices:
            d = devices[k]
            name = (d.get("hostnames") or [None])[0] or (d.get("ips") or [k])[0]
            label = f"{name} · {i18n.term('role', d.get('role'))}"
            sub = d.get("model") or d.get("vendor") or k
            fill = "#e8f0fe" if d.get("role") in CAMERA_FAMILY else "#f1f1f1"
        else:
            e = endpoints.get(k, {})
            label = (e.get("names") or [k])[0]
            sub = f"{e.get('country') or '??'} · {e.get('provider') or e.get('org') or k}"
            fill = {"face-cloud": "#fde7e7", "vendor-cloud": "#fff4e0"}.get(
                e.get("category") or "", "#f1f1f1"
            )
        stroke = "#b3261e" if k in path_nodes else "#888"
        parts.append(
            f'<g><rect x="{x}" y="{y:.0f}" width="{box_w}" height="34" rx="5" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{2 if k in path_nodes else 1}"/>'
            f'<text x="{x + 8}" y="{y + 14:.0f}" font-weight="600">{_e(_clip(label, 44))}</text>'
            f'<text x="{x + 8}" y="{y + 28:.0f}" fill="#555">{_e(_clip(str(sub), 48))}</text>'
            f"<title>{_e(k)}</title></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _devices(report: dict[str, Any]) -> str:
    out = [_header(_("MAC"), _("Addresses"), _("Names"), _("Vendor / model"), _("Role"),
                   _("Why"))]  # fmt: skip
    order = {r: i for i, r in enumerate(CAMERA_FAMILY)}
    for d in sorted(
        report.get("devices", []), key=lambda d: (order.get(d.get("role"), 9), d.get("key"))
    ):
        out.append(
            f"<tr><td class='mono'>{_e(d.get('mac') or d.get('key'))}</td>"
            f"<td>{_e(', '.join(d.get('ips') or []))}</td>"
            f"<td>{_e(', '.join(d.get('hostnames') or []))}</td>"
            f"<td>{_e(d.get('vendor') or '')}<br><span class='small'>{_e(d.get('model') or '')}"
            + (
                f"<br>{_e(d['manufacturer'])}"
                if d.get("manufacturer") and d.get("manufacturer") != d.get("vendor")
                else ""
            )
            + f"</span></td><td>{_e(i18n.term('role', d.get('role')))} <span class='small'>"
            f"({_e(d.get('role_confidence'))})</span></td>"
            f"<td class='small'>{_e(_('; ').join(reasons.role_reasons(d)))}{_case_note(d)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _header(*cols: str) -> str:
    return "<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"


def _countries(report: dict[str, Any]) -> str:
    up: dict[str, int] = defaultdict(int)
    talkers: dict[str, set[str]] = defaultdict(set)
    for fl in report.get("flows", []):
        if fl.get("ip") and not fl.get("peer_device"):
            up[fl["ip"]] += int(fl.get("bytes_up", 0))
            talkers[fl["ip"]].add(fl.get("device") or "")
    flagged = {f.destination.ip: f.level.value for f in report_findings(report)}
    by_country: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in report.get("endpoints", []):
        by_country[e.get("country") or ""].append(e)
    missed = missed_by_peer(report.get("flows"))  # a column when the capture missed some
    out = [_header(_("Country"), _("Endpoint"), _("Names"), _("Provider"), _("Category"),
                   _("Devices"), _("Bytes up"), *([_("Missed")] if missed else []),
                   _("Finding"))]  # fmt: skip
    for country in sorted(by_country, key=lambda c: (c == "", c)):
        eps = sorted(by_country[country], key=lambda e: -up.get(e["ip"], 0))
        for i, e in enumerate(eps):
            lvl = flagged.get(e["ip"])
            out.append(
                "<tr>"
                + (
                    f"<td rowspan='{len(eps)}'><b>{_e(country or _('unknown'))}</b></td>"
                    if i == 0
                    else ""
                )
                + f"<td class='mono'>{_e(e['ip'])}</td><td>{_e(', '.join(e.get('names') or []))}"
                f"</td><td>{_e(e.get('provider') or e.get('org') or '')}</td>"
                f"<td>{_e(i18n.term('category', e.get('category') or ''))}</td>"
                f"<td class='num'>{_n(len(talkers.get(e['ip'], ())))}</td>"
                f"<td class='num'>{_e(_bytes(up.get(e['ip'], 0)))}</td>"
                + (
                    f"<td class='num'>{_e(_bytes(missed[e['ip']]) if e['ip'] in missed else '')}"
                    "</td>"
                    if missed
                    else ""
                )
                + f"<td>{_badge(lvl) if lvl else ''}</td></tr>"
            )
    out.append("</table>")
    return "\n".join(out)


def _custody(report: dict[str, Any], analyst: str | None) -> str:
    inputs = report.get("inputs", [])
    firsts = [i["first_ts"] for i in inputs if i.get("first_ts")]
    lasts = [i["last_ts"] for i in inputs if i.get("last_ts")]
    sig = report.get("signatures") or {}
    rows = [
        (_("Analyst"), _e(analyst or _("not given"))),
        (_("Generated"), _e(i18n.when(report.get("generated_at")))),
        (_("netscan version"), _e(report.get("netscan_version"))),
        (_("Report schema"), _e(report.get("schema_version"))),
        (_("Engine"), _e(report.get("engine"))),
        (_("Signature pack"), _e(_("commit {commit}, date {date}, {count} signatures, source "
                                   "{source}").format(
            commit=sig.get("commit") or _("unknown"), date=sig.get("date") or _("unknown"),
            count=_n(sig.get("count")), source=sig.get("source") or _("bundled")))),
        (_("Premises networks"), _e(", ".join(report.get("premises") or []))),
        (_("Premises country"), _e(report.get("country") or _("not given"))),
        (_("Capture time range"), f"{_e(i18n.when(min(firsts)) if firsts else '?')} – "
         f"{_e(i18n.when(max(lasts)) if lasts else '?')}"),
    ]  # fmt: skip
    out = [_kv(rows), _header(_("Input"), _("SHA-256"), _("Size"), _("Format"), _("Packets"),
                              _("First"), _("Last"), _("Warnings"))]  # fmt: skip
    for i in inputs:
        out.append(
            f"<tr><td class='mono'>{_e(i.get('path'))}</td><td class='mono'>{_e(i.get('sha256'))}"
            f"</td><td class='num'>{_e(_n(i.get('size')))}</td><td>{_e(i.get('format'))}</td>"
            f"<td class='num'>{_e(_n(i.get('packets')))}</td><td>{_e(i18n.when(i.get('first_ts')))}</td>"
            f"<td>{_e(i18n.when(i.get('last_ts')))}</td><td>{_e('; '.join(i.get('warnings') or []))}</td></tr>"
        )
    out.append("</table>")
    if report.get("warnings"):
        out.append(
            f"<h3>{_e(_('Warnings'))}</h3><ul>"
            + "".join(f"<li>{_e(w)}</li>" for w in report["warnings"])
            + "</ul>"
        )
    inferred = report.get("premises_inference") or {}
    if inferred.get("ranges") or inferred.get("notes"):
        section = reasons.premises_inference(inferred)
        out.append(
            f"<h3>{_e(section['heading'])}</h3><p>{_e(section['summary'])}</p><ul>"
            + "".join(
                f"<li><code>{_e(rng)}</code> ({_e(sources)}): {_e(_('; ').join(why))}</li>"
                for rng, sources, why in section["ranges"]
            )
            + "".join(f"<li>{_e(note)}</li>" for note in section["notes"])
            + "</ul>"
        )
    if report.get("limits"):  # what the source (e.g. Zeek logs) cannot show
        out.append(
            f"<h3>{_e(_('What this source cannot show'))}</h3><ul>"
            + "".join(f"<li>{_e(w)}</li>" for w in report["limits"])
            + "</ul>"
        )
    return "\n".join(out)


def _body(report: dict[str, Any], analyst: str | None) -> list[str]:
    """The report's sections in the current language."""
    findings = report_findings(report)
    summary = report.get("summary", {})
    meta = _("netscan {version} · generated {generated} · analyst {analyst} · {devices} devices, "
             "{endpoints} off-site endpoints, {packets} packets").format(
        version=report.get("netscan_version"), generated=i18n.when(report.get("generated_at")),
        analyst=analyst or _("not given"), devices=_n(summary.get("devices", 0)),
        endpoints=_n(summary.get("endpoints", 0)), packets=_n(summary.get("packets", 0)))  # fmt: skip
    body = [
        f"<h1>{_e(_('Face data on the premises network'))}</h1>",
        f"<p class='meta'>{_e(meta)}</p>",
        _verdict(report),
        case_section.html_changes(report),
        f"<h2>{_e(_('Findings ({n})').format(n=_n(len(findings))))}</h2>",
    ]
    if not findings:
        body.append(f"<p>{_e(_('None.'))}</p>")
    body.extend(_finding(f) for f in findings)
    body += [
        walk_section.html(report),
        f"<h2>{_e(_('Premises picture'))}</h2>",
        f"<p class='legend small'><span>{_e(_('grey: traffic'))}</span>"
        + "".join(
            f"<span style='color:{c}'>■ "
            f"{_e(_('{level} face path').format(level=i18n.term('level', lvl)))}</span>"
            for lvl, c in LEVEL_COLOURS.items()
        )
        + f"<span>{_e(_('red box: device or endpoint on a finding’s path'))}</span></p>",
        graph_svg(report),
        f"<h2>{_e(_('Device inventory'))}</h2>",
        _devices(report),
        f"<h2>{_e(_('Destinations by country'))}</h2>",
        _countries(report),
        f"<h2>{_e(_('Chain of custody'))}</h2>",
        _custody(report, analyst),
        case_section.html_overrides(report),
    ]
    return body


def render(
    report: dict[str, Any], analyst: str | None = None, lang: str | list[str] | None = None
) -> str:
    """The HTML report in ``lang`` (default: the current language). Several languages
    (``["zh-CN", "en"]`` or ``"zh-CN,en"``) make a bilingual report: each a complete report,
    the first shown, the others a click away (links and CSS ``:target``, no script;
    ``report.html#lang-en`` opens in English)."""
    langs = i18n.parse_langs(lang) if lang else [i18n.current()]
    first = langs[0]
    with i18n.use(first):
        title = _("netscan report: face data on the premises network")
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(first)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
    ]
    if len(langs) == 1:
        with i18n.use(first):
            body = _body(report, analyst)
        page = [*head, f"<style>{CSS}</style></head><body><main>", *body, "</main></body></html>"]
        return "\n".join(page) + "\n"
    # the language shown is the one the address names (report.html#lang-en), else the first;
    # links switch between them: CSS only, so the report stays one self-contained file
    on = "{background:#1c1b1f;color:#fff}"
    switch_css = f"body:not(:has(main.lang:target)) nav a[href='#lang-{first}']{on}" + "".join(
        f"body:has(#lang-{x}:target) nav a[href='#lang-{x}']{on}" for x in langs
    )
    page = [*head, f"<style>{CSS}{switch_css}</style></head><body>"]
    page.append(
        "<nav class='langs'>"
        + "".join(f"<a href='#lang-{x}' lang='{x}'>{_e(i18n.native_name(x))}</a>"
                  for x in langs)
        + "</nav>"
    )  # fmt: skip
    for i, x in enumerate(langs):
        token = _ID_SUFFIX.set("" if i == 0 else f"-{x}")
        try:
            with i18n.use(x):
                body = _body(report, analyst)
        finally:
            _ID_SUFFIX.reset(token)
        page += [f"<main class='lang' id='lang-{x}' lang='{x}'>", *body, "</main>"]
    page.append("</body></html>")
    return "\n".join(page) + "\n"


def write(
    report: dict[str, Any],
    path: str | Path,
    analyst: str | None = None,
    lang: str | list[str] | None = None,
) -> None:
    """Write the report to ``path``: a new file only the user can read (0600)."""
    from netscan.safefile import write_private

    write_private(path, render(report, analyst, lang))
