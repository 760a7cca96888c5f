"""The fleet report: every site's result side by side, as JSON (``fleet.schema.json``) and as
one self-contained HTML page (inline CSS and SVG, no scripts, no external assets).

It is built from the sites' own JSON reports on disk (so sites skipped as unchanged count
too) and their states. Every number links to the site report it comes from, to the finding
where there is one. All site- and network-provided text is escaped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from netscan import __version__, i18n, untrusted
from netscan.analysis.finding import LEVEL_NAMES as LEVELS  # strongest first
from netscan.analysis.finding import Finding, level_rank, report_findings
from netscan.engine import loss
from netscan.fleet.sites import Site
from netscan.i18n import _
from netscan.inventory.model import CAMERA_FAMILY
from netscan.report.completeness import share_text
from netscan.untrusted import NAME_LIMIT, display
from netscan.util import now_iso

FLEET_SCHEMA_VERSION = "1.0"
COLOURS = {"confirmed": "#b3261e", "likely": "#c25e00", "possible": "#8a7300", "none": "#2e7d32",
           "failed": "#555555"}  # fmt: skip
MODEL_MIN_SITES = 3  # the same model at this many sites is a fleet finding
MAX_LINKS = 50  # links kept per aggregate row


def _href(site_id: str, anchor: str | None = None) -> str:
    base = f"sites/{quote(site_id, safe='')}/report.html"
    return base + (f"#{quote(anchor, safe='')}" if anchor else "")


def _load(out: Path, sid: str) -> dict[str, Any] | None:
    try:
        data = json.loads((out / "sites" / sid / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def build(out: Path, sites: list[Site], states: dict[str, dict[str, Any]],
          run: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    providers: dict[str, dict[str, Any]] = {}
    countries: dict[str, dict[str, Any]] = {}
    operators: dict[str, dict[str, Any]] = {}
    models: dict[tuple[str, str, str], dict[str, Any]] = {}
    cross = {"findings": 0, "sites": [], "bytes_up": 0, "by_country": {}}
    signatures: dict[str, Any] | None = None

    def agg(table: dict[str, dict[str, Any]], key: str, sid: str, f: Finding) -> None:
        e = table.setdefault(key, {"name": key, "sites": [], "findings": 0, "bytes_up": 0,
                                   "levels": {lv: 0 for lv in LEVELS}, "links": []})  # fmt: skip
        if sid not in e["sites"]:
            e["sites"].append(sid)
        e["findings"] += 1
        e["bytes_up"] += f.bytes_up
        e["levels"][f.level.value] = e["levels"].get(f.level.value, 0) + 1
        if len(e["links"]) < MAX_LINKS:
            e["links"].append({"site": sid, "finding": f.id, "href": _href(sid, f.id or None)})

    for s in sites:
        st = states.get(s.id) or {}
        rep = _load(out, s.id) if st.get("status") == "done" else None
        row: dict[str, Any] = {
            "id": s.id, "name": s.name, "address": s.address, "country": s.country,
            "analyst": s.analyst, "status": st.get("status_this_run") or st.get("status") or "missing",
            "reason": st.get("reason"), "report": None, "json": None, "markdown": None,
            "worst": None, "levels": {lv: 0 for lv in LEVELS}, "level_links": {},
            "findings": 0, "devices": 0, "endpoints": 0, "packets": 0, "cross_border": 0,
            "bytes_up": 0, "inputs": len(s.captures) + (1 if s.zeek else 0), "capture_loss": {},
            "host_dropped": None,
        }  # fmt: skip
        if rep is not None:
            signatures = signatures or rep.get("signatures")
            row.update({"report": _href(s.id), "json": f"sites/{quote(s.id, safe='')}/report.json",
                        "markdown": f"sites/{quote(s.id, safe='')}/report.md",
                        "devices": len(rep.get("devices", [])),
                        "endpoints": len(rep.get("endpoints", [])),
                        "packets": sum(int(i.get("packets") or 0) for i in rep.get("inputs", [])),
                        "capture_loss": _capture_loss(rep),
                        "host_dropped": _host_dropped(rep),
                        "engine": rep.get("engine")})  # fmt: skip
            for f in report_findings(rep):
                lv = f.level.value
                row["levels"][lv] += 1
                row["level_links"].setdefault(lv, _href(s.id, f.id or None))
                row["findings"] += 1
                row["bytes_up"] += f.bytes_up
                if f.level.rank > level_rank(row["worst"]):
                    row["worst"] = lv
                d = f.destination
                agg(providers, str(d.provider or d.org or "unknown provider"), s.id, f)
                for cc in sorted({c for c in (d.ip_country, d.operator_country) if c}):
                    agg(countries, str(cc), s.id, f)
                if not d.ip_country and not d.operator_country:
                    agg(countries, "unknown", s.id, f)
                op = d.org or (f"AS{d.asn}" if d.asn else "unknown operator")
                agg(operators, str(op), s.id, f)
                if f.cross_border:
                    row["cross_border"] += 1
                    cross["findings"] += 1
                    cross["bytes_up"] += f.bytes_up
                    if s.id not in cross["sites"]:
                        cross["sites"].append(s.id)
                    cc = str(d.ip_country or d.operator_country or "unknown")
                    c = cross["by_country"].setdefault(
                        cc, {"findings": 0, "bytes_up": 0, "sites": []}
                    )
                    c["findings"] += 1
                    c["bytes_up"] += f.bytes_up
                    if s.id not in c["sites"]:
                        c["sites"].append(s.id)
            for dev in rep.get("devices", []):
                if dev.get("role") not in CAMERA_FAMILY:
                    continue
                key = (str(dev.get("vendor") or "unknown vendor"),
                       str(dev.get("model") or "unknown model"), str(dev.get("role")))  # fmt: skip
                m = models.setdefault(key, {"vendor": key[0], "model": key[1], "role": key[2],
                                            "sites": [], "devices": 0, "links": []})  # fmt: skip
                m["devices"] += 1
                if s.id not in m["sites"]:
                    m["sites"].append(s.id)
                    if len(m["links"]) < MAX_LINKS:
                        m["links"].append({"site": s.id, "href": _href(s.id)})
        rows.append(row)

    status_rank = {"failed": 1, "missing": 2}  # sites without a result go last
    rows.sort(key=lambda r: (-level_rank(r["worst"]), -r["levels"]["confirmed"], -r["levels"]["likely"],
                             -r["findings"], -r["bytes_up"], status_rank.get(r["status"], 0),
                             r["id"]))  # fmt: skip
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    model_list = sorted(models.values(), key=lambda m: (-len(m["sites"]), -m["devices"], m["vendor"],
                                                       m["model"]))  # fmt: skip
    fleet_findings = []
    for m in model_list:
        known = m["model"] != "unknown model" or m["vendor"] != "unknown vendor"
        if known and len(m["sites"]) >= MODEL_MIN_SITES:
            fleet_findings.append({
                "kind": "same-model-many-sites", "vendor": m["vendor"], "model": m["model"],
                "role": m["role"], "sites": len(m["sites"]), "devices": m["devices"],
                "text": f"the same {m['role']} ({m['vendor']}, {m['model']}) at {len(m['sites'])} "
                        f"sites ({m['devices']} devices): one procurement, one decision to review",
            })  # fmt: skip

    def ranked(t: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(t.values(), key=lambda e: (-len(e["sites"]), -e["findings"], e["name"]))

    by = defaultdict(int)
    for r in rows:
        by[r["worst"] or ("failed" if r["status"] == "failed" else "none")] += 1
    return {
        "fleet_schema_version": FLEET_SCHEMA_VERSION,
        "netscan_version": __version__,
        "generated_at": now_iso(),
        "run": dict(run or {}),
        "signatures": signatures,
        "totals": {
            "sites": len(rows),
            "analysed": sum(1 for r in rows if r["status"] == "done"),
            "unchanged": sum(1 for r in rows if r["status"] == "unchanged"),
            "failed": sum(1 for r in rows if r["status"] == "failed"),
            "findings": sum(r["findings"] for r in rows),
            "levels": {lv: sum(r["levels"][lv] for r in rows) for lv in LEVELS},
            "sites_by_worst": {k: by.get(k, 0) for k in (*LEVELS, "none", "failed")},
            "packets": sum(r["packets"] for r in rows),
        },
        "sites": rows,
        "destinations": {
            "providers": ranked(providers),
            "countries": ranked(countries),
            "operators": ranked(operators),
        },  # fmt: skip
        "device_models": model_list,
        "cross_border": cross,
        "fleet_findings": fleet_findings,
    }


def schema() -> dict[str, Any]:
    text = resources.files("netscan.fleet").joinpath("fleet.schema.json").read_text("utf-8")
    return json.loads(text)


# -- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1c1b1f;
background:#fafafa}main{max-width:1280px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:30px 0 10px;border-bottom:2px solid #ddd;
padding-bottom:4px}.meta{color:#555}
table{border-collapse:collapse;width:100%;margin:8px 0;background:#fff}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.id{white-space:nowrap}td.reason{overflow-wrap:anywhere;max-width:320px}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;color:#fff;font-size:12px;
font-weight:600;text-transform:uppercase}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:130px}
.card .n{font-size:24px;font-weight:600}.small{font-size:12px;color:#555}
.fleetf{background:#fff;border-left:6px solid #6a1b9a;padding:8px 12px;margin:8px 0}
td.heat{text-align:center;font-weight:600}
svg text{font:12px system-ui,sans-serif}
"""


def _e(v: Any) -> str:
    """Escaped for HTML text and attributes by the one rule of ``netscan.untrusted``:
    control, bidi and invisible characters shown as visible escapes, never obeyed (the
    spaces a locale's dates and numbers hold kept as they are)."""
    return untrusted.html("" if v is None else v)


def _bytes(n: int | float) -> str:
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def _badge(level: str | None, status: str = "") -> str:
    label = level or ("failed" if status == "failed" else "none")
    shown = i18n.term("level", label) if label in LEVELS else _word(label)
    return f'<span class="badge" style="background:{COLOURS[label]}">{_e(shown)}</span>'


def _word(value: Any) -> str:
    """A site's status or a badge word in the current language (others as they are)."""
    words = {"none": _("none"), "failed": i18n.term("state", "failed"),
             "analysed": _("analysed"), "unchanged": _("unchanged")}  # fmt: skip
    return words.get(str(value), str(value))


def _n(n: Any) -> str:
    return i18n.number(n)


LOSS_KEYS = ("tcp_missed_bytes", "tcp_gaps", "tcp_connections", "tcp_payload_bytes")


def _capture_loss(rep: dict[str, Any]) -> dict[str, int]:
    """What a site's capture missed of the TCP traffic (its report's summary), counts only."""
    summary = rep.get("summary")
    got = summary.get("capture_loss") if isinstance(summary, dict) else None
    if not isinstance(got, dict):
        return {}
    # the keys a report gives (Zeek's has no tcp_gaps), each a count (0 for anything else)
    return {k: loss.count_of(got, k) for k in LOSS_KEYS if k in got}


def _host_dropped(rep: dict[str, Any]) -> int | None:
    """The packets the site's capture files record the capturing host dropped (their
    interface statistics); None when no input carries any (pcap files, Zeek logs)."""
    total: int | None = None
    for i in rep.get("inputs") or []:
        st = i.get("interface_statistics") if isinstance(i, dict) else None
        if isinstance(st, dict):
            total = (total or 0) + loss.dropped(st)
    return total


def _missed(loss: dict[str, int]) -> str:
    """The share of a site's TCP bytes its capture missed, for the sites table ("–": not
    measured, as for Zeek logs)."""
    if "tcp_missed_bytes" not in loss:
        return "–"
    missed, payload = loss["tcp_missed_bytes"], loss.get("tcp_payload_bytes", 0)
    return share_text(missed, payload) if missed else "0"


def _a(href: str | None, text: Any) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else _e(text)


def _bar_chart(items: list[tuple[str, int, str]], title: str, width: int = 560) -> str:
    """Horizontal bars: (label, value, colour)."""
    if not items:
        return ""
    top = max(v for _, v, _ in items) or 1
    h = 26 * len(items) + 30
    out = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="0" y="14" font-weight="600">{_e(title)}</text>']  # fmt: skip
    for i, (label, v, colour) in enumerate(items):
        y = 26 + 26 * i
        w = int((width - 230) * v / top)
        out.append(f'<text x="0" y="{y + 14}">{_e(label[:28])}</text>'
                   f'<rect x="170" y="{y}" width="{max(w, 1)}" height="18" fill="{_e(colour)}"/>'
                   f'<text x="{176 + w}" y="{y + 14}">{v:,}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _fleet_finding(ff: dict[str, Any]) -> str:
    """A fleet finding in the current language, from its facts (its English ``text`` for a
    kind this netscan does not know)."""
    if ff.get("kind") != "same-model-many-sites" or i18n.current() == "en":
        return str(ff.get("text") or "")
    return _("the same {role} ({vendor}, {model}) at {sites} sites ({devices} devices): one "
             "procurement, one decision to review").format(
        role=i18n.term("role", ff.get("role")), vendor=display(ff.get("vendor"), NAME_LIMIT),
        model=display(ff.get("model"), NAME_LIMIT), sites=_n(ff.get("sites")),
        devices=_n(ff.get("devices")))  # fmt: skip


def render(fleet: dict[str, Any], title: str | None = None, lang: str | None = None) -> str:
    """The fleet page in ``lang`` (default: the current language)."""
    with i18n.use(lang):
        return _render(fleet, title or _("Fleet audit"))


def _render(fleet: dict[str, Any], title: str) -> str:
    t = fleet["totals"]
    sites = fleet["sites"]
    meta = _("netscan {version}, generated {generated}; signature pack {commit}").format(
        version=fleet["netscan_version"], generated=i18n.when(fleet["generated_at"]),
        commit=(fleet.get("signatures") or {}).get("commit") or _("unknown"))  # fmt: skip
    out = [
        f"<!doctype html><html lang='{_e(i18n.current())}'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>{_e(meta)}</p>",
        "<div class='cards'>",
    ]
    for label, n in ((_("sites"), t["sites"]), (_("analysed"), t["analysed"]),
                     (_("unchanged"), t["unchanged"]), (i18n.term("state", "failed"), t["failed"]),
                     (_("findings"), t["findings"]), (_("cross-border findings"),
                     fleet["cross_border"]["findings"])):  # fmt: skip
        out.append(f"<div class='card'><div class='n'>{_e(_n(n))}</div><div class='small'>"
                   f"{_e(label)}</div></div>")  # fmt: skip
    out.append("</div>")
    if fleet["fleet_findings"]:
        out.append(f"<h2>{_e(_('Across the fleet'))}</h2>")
        for ff in fleet["fleet_findings"]:
            out.append(f"<div class='fleetf'>{_e(_fleet_finding(ff))}</div>")
    sbw = t["sites_by_worst"]
    out.append(f"<h2>{_e(_('Overview'))}</h2><div class='cards'>")
    out.append(_bar_chart([(i18n.term("level", k) if k in LEVELS else _word(k), sbw[k], COLOURS[k])
                           for k in (*LEVELS, "none", "failed")],
                          _("Sites by worst finding")))  # fmt: skip
    ctry = fleet["destinations"]["countries"][:10]
    out.append(_bar_chart([(c["name"], len(c["sites"]), "#1565c0") for c in ctry],
                          _("Sites sending to each destination country")))  # fmt: skip
    out.append("</div>")

    heads = [_("#"), _("Site"), _("Name"), _("Address"), _("Country"), _("Worst"), _("Findings"),
             _("Cross-border"), _("Upstream"), _("Devices"), _("Packets"), _("TCP missed"),
             _("Host drops"), _("Status")]  # fmt: skip
    out.append(f"<h2>{_e(_('Sites ranked by worst finding'))}</h2><table id='sites'><thead><tr>"
               + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead><tbody>")  # fmt: skip
    for r in sites:
        rep = r["report"]
        status = _e(_word(r["status"])) + (f": {_e(r['reason'])}" if r.get("reason") else "")
        out.append(
            f"<tr><td class='num'>{r['rank']}</td><td class='id'>{_a(rep, r['id'])}</td>"
            f"<td>{_e(r['name'])}</td><td>{_e(r['address'])}</td><td>{_e(r['country'])}</td>"
            f"<td>{_badge(r['worst'], r['status'])}</td>"
            f"<td class='num'>{_a(rep, _n(r['findings']))}</td>"
            f"<td class='num'>{_a(rep, _n(r['cross_border']))}</td>"
            f"<td class='num'>{_a(rep, _bytes(r['bytes_up']))}</td>"
            f"<td class='num'>{_a(rep, _n(r['devices']))}</td>"
            f"<td class='num'>{_a(rep, _n(r['packets']))}</td>"
            f"<td class='num'>{_e(_missed(r['capture_loss']))}</td>"
            f"<td class='num'>{_e('–' if r['host_dropped'] is None else _n(r['host_dropped']))}</td>"
            f"<td class='reason'>{status}</td></tr>"
        )
    out.append("</tbody></table>")

    out.append(f"<h2>{_e(_('Sites × levels'))}</h2><table id='levels'><thead><tr>"
               f"<th>{_e(_('Site'))}</th>"
               + "".join(f"<th>{_e(i18n.term('level', lv))}</th>" for lv in LEVELS)
               + "</tr></thead><tbody>")  # fmt: skip
    for r in sites:
        cells = []
        for lv in LEVELS:
            n = r["levels"][lv]
            style = f" style='background:{COLOURS[lv]};color:#fff'" if n else ""
            cells.append(
                f"<td class='heat'{style}>{_a(r['level_links'].get(lv), n) if n else 0}</td>"
            )
        out.append(f"<tr><td class='id'>{_a(r['report'], r['id'])}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")

    for key, heading, column in (
        ("providers", _("Destinations receiving face data: providers"), _("Provider")),
        ("countries", _("Destinations receiving face data: countries"), _("Country")),
        ("operators", _("Destinations receiving face data: network operators"), _("Operator")),
    ):
        rows = fleet["destinations"][key]
        out.append(f"<h2>{_e(heading)}</h2>")
        if not rows:
            out.append(f"<p>{_e(_('None.'))}</p>")
            continue
        heads = [column, _("Sites"), _("Findings"), _("confirmed / likely / possible"),
                 _("Upstream"), _("Findings at")]  # fmt: skip
        out.append(f"<table id='dest-{_e(key)}'><thead><tr>"
                   + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead><tbody>")  # fmt: skip
        for d in rows:
            links = ", ".join(_a(x["href"], x["site"]) for x in d["links"][:12])
            first = d["links"][0]["href"] if d["links"] else None
            lv = " / ".join(_n(d["levels"].get(x, 0)) for x in LEVELS)
            out.append(f"<tr><td>{_e(d['name'])}</td><td class='num'>{_a(first, _n(len(d['sites'])))}</td>"
                       f"<td class='num'>{_a(first, _n(d['findings']))}</td><td>{_e(lv)}</td>"
                       f"<td class='num'>{_e(_bytes(d['bytes_up']))}</td><td>{links}</td></tr>")  # fmt: skip
        out.append("</tbody></table>")

    out.append(f"<h2>{_e(_('Camera, recorder and face-terminal models across sites'))}</h2>")
    if fleet["device_models"]:
        heads = [_("Vendor"), _("Model"), _("Role"), _("Sites"), _("Devices"), _("At")]
        out.append("<table id='models'><thead><tr>"
                   + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead><tbody>")  # fmt: skip
        for m in fleet["device_models"]:
            links = ", ".join(_a(x["href"], x["site"]) for x in m["links"][:12])
            first = m["links"][0]["href"] if m["links"] else None
            out.append(f"<tr><td>{_e(m['vendor'])}</td><td>{_e(m['model'])}</td>"
                       f"<td>{_e(i18n.term('role', m['role']))}</td>"
                       f"<td class='num'>{_a(first, _n(len(m['sites'])))}</td>"
                       f"<td class='num'>{_a(first, _n(m['devices']))}</td><td>{links}</td></tr>")  # fmt: skip
        out.append("</tbody></table>")
    else:
        out.append(f"<p>{_e(_('None.'))}</p>")

    cb = fleet["cross_border"]
    line = _("{findings} finding(s) at {sites} site(s), {size} upstream.").format(
        findings=_n(cb["findings"]), sites=_n(len(cb["sites"])), size=_bytes(cb["bytes_up"])
    )
    out.append(f"<h2>{_e(_('Cross-border'))}</h2><p>{_e(line)}</p>")
    if cb["by_country"]:
        heads = [_("Country"), _("Findings"), _("Sites"), _("Upstream")]
        out.append("<table id='cross'><thead><tr>"
                   + "".join(f"<th>{_e(h)}</th>" for h in heads) + "</tr></thead><tbody>")  # fmt: skip
        for cc, c in sorted(cb["by_country"].items(), key=lambda x: -x[1]["findings"]):
            first = _href(c["sites"][0]) if c["sites"] else None
            out.append(f"<tr><td>{_e(cc)}</td><td class='num'>{_a(first, _n(c['findings']))}</td>"
                       f"<td class='num'>{_a(first, _n(len(c['sites'])))}</td>"
                       f"<td class='num'>{_e(_bytes(c['bytes_up']))}</td></tr>")  # fmt: skip
        out.append("</tbody></table>")
    run = fleet.get("run") or {}
    if run:
        line = _("Run: {seconds} s on {cluster}; {packets} packets analysed in this run.").format(
            seconds=run.get("seconds"), cluster=run.get("cluster"), packets=run.get("packets")
        )
        out.append(f"<p class='small'>{_e(line)}</p>")
    out.append("</main></body></html>\n")
    return "".join(out)


def write(out: Path, fleet: dict[str, Any], lang: str | None = None) -> tuple[Path, Path]:
    """fleet.json and fleet.html (in ``lang``, default: the current language)."""
    j, h = out / "fleet.json", out / "fleet.html"
    from netscan.safefile import write_private

    for path, text in ((j, json.dumps(fleet, indent=2) + "\n"), (h, render(fleet, lang=lang))):
        write_private(path, text)
    return j, h
