"""The case sections of every report (HTML, Markdown, terminal): what changed since the
previous visit of the site, with evidence on both sides, and the analysts' overrides and
notes (shown beside what the traffic said), for the chain of custody.

Everything shown comes from the JSON report's ``case`` section; names in it came from the
network or from analysts, so every value goes through ``netscan.untrusted``.
"""

from __future__ import annotations

from typing import Any

from netscan import i18n, reasons
from netscan.analysis.finding import report_findings
from netscan.i18n import N_, _
from netscan.untrusted import TEXT_LIMIT, display
from netscan.untrusted import html as h
from netscan.untrusted import markdown as m

CHANGE_KINDS = (
    ("devices_appeared", N_("Devices that appeared")),
    ("devices_left", N_("Devices no longer seen")),
    ("roles_changed", N_("Roles that changed")),
    ("destinations_appeared", N_("Destinations that appeared")),
    ("destinations_stopped", N_("Destinations no longer used")),
    ("countries_appeared", N_("Countries that appeared")),
    ("countries_stopped", N_("Countries no longer sent to")),
    ("findings_new", N_("New findings")),
    ("findings_resolved", N_("Findings no longer seen")),
    ("findings_changed", N_("Findings whose level changed")),
)


def _what(kind: str, item: dict[str, Any]) -> str:
    if kind.startswith("devices"):
        return f"{item.get('label')} ({i18n.term('role', item.get('role'))})"
    if kind == "roles_changed":
        return (f"{item.get('label')}: {i18n.term('role', item.get('from'))} → "
                f"{i18n.term('role', item.get('to'))}")  # fmt: skip
    if kind.startswith("destinations"):
        return (f"{item.get('device_label')} → {item.get('destination')} ({item.get('ip')}, "
                f"{item.get('country') or '?'}, {item.get('org') or ''})")  # fmt: skip
    if kind.startswith("countries"):
        return (f"{item.get('device_label')} → {item.get('country')} "
                f"({', '.join(item.get('orgs') or item.get('destinations') or [])})")  # fmt: skip
    level = i18n.term("level", item.get("level"))
    if kind == "findings_changed":
        level = f"{i18n.term('level', item.get('from'))} → {i18n.term('level', item.get('to'))}"
    return (f"{item.get('finding')} ({level}): {item.get('device_label')} → "
            f"{item.get('destination')} ({item.get('country') or '?'})")  # fmt: skip


def evidence_text(ev: dict[str, Any] | None) -> str:
    """One side of a change: a frame where it was seen, or the captures where it was not."""
    if not ev:
        return "—"
    if "absent_in" in ev:
        caps = ", ".join(f"{c.get('path')} (sha256 {str(c.get('sha256'))[:12]}…)"
                         for c in ev.get("captures") or [])  # fmt: skip
        return _("not seen in {visit}: {captures}").format(visit=ev["absent_in"], captures=caps)
    if ev.get("frame") is None:
        return "—"
    what = f": {reasons.evidence_text(ev)}" if ev.get("what") else ""
    return _("{file} frame {frame}").format(file=ev.get("file"), frame=ev.get("frame")) + what


def _sides(kind: str, item: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if kind.startswith("countries"):
        ev = item.get("evidence")
        return (None, ev) if kind == "countries_appeared" else (ev, None)
    return item.get("before"), item.get("after")


def rows(case: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(change, what, evidence before, evidence after) for every change."""
    ch = case.get("changes") or {}
    out = []
    for kind, title in CHANGE_KINDS:
        for item in ch.get(kind) or []:
            before, after = _sides(kind, item)
            out.append((_(title), _what(kind, item), evidence_text(before), evidence_text(after)))
    return out


def _override_rows(case: dict[str, Any], report: dict[str, Any]) -> list[list[str]]:
    traffic_role = {d.get("key"): d.get("role") for d in report.get("devices", [])}
    traffic_vendor = {d.get("key"): d.get("vendor") for d in report.get("devices", [])}
    levels = {f.id: f.level.value for f in report_findings(report)}
    out = []
    for o in case.get("overrides") or []:
        if o["target_kind"] == "device":
            said = {"role": traffic_role.get(o["target"]),
                    "manufacturer": traffic_vendor.get(o["target"])}.get(o["field"])  # fmt: skip
        else:
            said = levels.get(o["target"])
        out.append([i18n.when(o["created_at"]), f"{i18n.term('kind', o['target_kind'])} {o['target']}",
                    o["field"], o["value"], "" if said is None else str(said), o["author"],
                    o["reason"]])  # fmt: skip
    return out


OVERRIDE_HEADER = [N_("When"), N_("On"), N_("Field"), N_("Analyst's value"),
                   N_("What the traffic said"), N_("By"), N_("Why")]  # fmt: skip


# -- HTML --------------------------------------------------------------------------------


def html_changes(report: dict[str, Any]) -> str:
    case = report.get("case")
    if not case:
        return ""
    head = (f"<h2>{h(_('Since the previous visit'))}</h2><p class='meta'>"
            + h(_("case {case} · site {site} · visit {visit}").format(
                case=case["case"], site=case["site"], visit=case["visit"])))  # fmt: skip
    if case.get("previous_visit") is None:
        return head + h(_(" · the first visit of this site: nothing to compare.")) + "</p>"
    ch = case.get("changes") or {}
    out = [head + h(_(" compared with visit {visit}").format(visit=case["previous_visit"]))
           + "</p>"]  # fmt: skip
    lines = ch.get("lines") or []
    if not lines:
        out.append(f"<p>{h(_('No change.'))}</p>")
    else:
        out.append("<ul>" + "".join(f"<li>{h(ln, TEXT_LIMIT)}</li>" for ln in lines) + "</ul>")
        out.append("<table><tr>" + "".join(
            f"<th>{h(c)}</th>" for c in (_("Change"), _("What"), _("Evidence before"),
                                          _("Evidence after"))) + "</tr>")  # fmt: skip
        for title, what, before, after in rows(case):
            out.append(f"<tr><td>{h(title)}</td><td>{h(what, TEXT_LIMIT)}</td><td class='mono'>"
                       f"{h(before, TEXT_LIMIT)}</td><td class='mono'>{h(after, TEXT_LIMIT)}</td></tr>")  # fmt: skip
        out.append("</table>")
    return "\n".join(out)


def html_overrides(report: dict[str, Any]) -> str:
    """Overrides in force and notes; placed in the chain of custody."""
    case = report.get("case")
    if not case:
        return ""
    out = [f"<h3>{h(_('Case record'))}</h3><p>"
           + h(_("case {case}, site {site}, visit {visit} recorded {when} in").format(
               case=case["case"], site=case["site"], visit=case["visit"],
               when=i18n.when(case.get("recorded_at"))))
           + f" <code>{h(case.get('store'))}</code></p>"]  # fmt: skip
    ov = _override_rows(case, report)
    out.append(f"<h3>{h(_('Analyst overrides ({n})').format(n=len(ov)))}</h3>")
    if ov:
        out.append("<p class='small'>" + h(_("Shown beside what the traffic said; the findings "
                   "and the inventory above keep the traffic's values.")) + "</p>")  # fmt: skip
        out.append("<table><tr>" + "".join(f"<th>{h(_(c))}</th>" for c in OVERRIDE_HEADER)
                   + "</tr>")  # fmt: skip
        for r in ov:
            out.append("<tr>" + "".join(f"<td>{h(c, TEXT_LIMIT)}</td>" for c in r) + "</tr>")
        out.append("</table>")
    notes = case.get("notes") or []
    out.append(f"<h3>{h(_('Analyst notes ({n})').format(n=len(notes)))}</h3>")
    if notes:
        out.append("<ul>" + "".join(
            f"<li>{h(i18n.when(n['created_at']))} {h(n['author'])}"
            + (f" [{h(i18n.term('kind', n['target_kind']))} {h(n['target'])}]"
               if n.get("target_kind") else "")
            + f": {h(n['text'], TEXT_LIMIT)}</li>" for n in notes) + "</ul>")  # fmt: skip
    return "\n".join(out)


def html_override_note(obj: dict[str, Any]) -> str:
    """A device's or finding's overrides, to show beside it."""
    parts = []
    st = obj.get("analyst_status")
    if st:
        parts.append(f"{h(_('analyst status:'))} <b>{h(st['status'])}</b> "
                     + h(_("by {who} ({when}): {why}").format(
                         who=st["by"], when=i18n.when(st["at"]), why=st["why"]), TEXT_LIMIT))  # fmt: skip
    for field, o in sorted((obj.get("overrides") or {}).items()):
        parts.append(f"{h(_('analyst {field}:').format(field=field))} <b>{h(o['value'])}</b> "
                     + h(_("by {who} ({when}): {why}").format(
                         who=o["by"], when=i18n.when(o["at"]), why=o["why"]), TEXT_LIMIT))  # fmt: skip
    if not parts:
        return ""
    return "<p class='small override'>" + "<br>".join(parts) + "</p>"


def _mt(message: str, **fields: Any) -> str:
    """Our own Markdown line in the current language, every field escaped on its own."""
    return _(message).format(**{k: m(v, TEXT_LIMIT) for k, v in fields.items()})


# -- Markdown ------------------------------------------------------------------------------


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(m(_(c)) for c in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(m(c, TEXT_LIMIT) for c in r) + " |" for r in body]
    return out


def markdown_changes(report: dict[str, Any]) -> list[str]:
    case = report.get("case")
    if not case:
        return []
    out = ["", f"## {_mt('Since the previous visit')}", "",
           _mt("Case {case}, site {site}, visit {visit}.", case=case["case"], site=case["site"],
               visit=case["visit"])]  # fmt: skip
    if case.get("previous_visit") is None:
        out[-1] += _mt(" The first visit of this site: nothing to compare.")
        return out
    out[-1] += _mt(" Compared with visit {visit}.", visit=case["previous_visit"])
    lines = (case.get("changes") or {}).get("lines") or []
    if not lines:
        return out + ["", _mt("No change.")]
    out.append("")
    out += [f"- {m(ln, TEXT_LIMIT)}" for ln in lines]
    out.append("")
    out += _md_table([N_("Change"), N_("What"), N_("Evidence before"), N_("Evidence after")],
                     [list(r) for r in rows(case)])  # fmt: skip
    return out


def markdown_overrides(report: dict[str, Any]) -> list[str]:
    case = report.get("case")
    if not case:
        return []
    out = ["", "- " + _mt("Case record: case {case}, site {site}, visit {visit} recorded {when}",
                          case=case["case"], site=case["site"], visit=case["visit"],
                          when=i18n.when(case.get("recorded_at"))), ""]  # fmt: skip
    ov = _override_rows(case, report)
    out += [f"### {_mt('Analyst overrides ({n})', n=len(ov))}", ""]
    if ov:
        out += _md_table(OVERRIDE_HEADER, ov)
    notes = case.get("notes") or []
    out += ["", f"### {_mt('Analyst notes ({n})', n=len(notes))}", ""]
    for n in notes:
        about = (f" [{m(i18n.term('kind', n['target_kind']))} {m(n['target'])}]"
                 if n.get("target_kind") else "")  # fmt: skip
        out.append(f"- {m(i18n.when(n['created_at']))} {m(n['author'])}{about}: "
                   f"{m(n['text'], TEXT_LIMIT)}")  # fmt: skip
    return out


# -- terminal ------------------------------------------------------------------------------


def terminal_lines(report: dict[str, Any]) -> list[str]:
    """Plain single lines (already made safe) for the terminal summary."""
    case = report.get("case")
    if not case:
        return []
    out = [display(_("Case {case}, site {site}: visit {visit}").format(
        case=case["case"], site=case["site"], visit=case["visit"]), TEXT_LIMIT)]  # fmt: skip
    if case.get("previous_visit") is None:
        out.append("  " + _("first visit of this site: nothing to compare"))
    else:
        lines = (case.get("changes") or {}).get("lines") or []
        n = len(lines) if lines else _("no")
        out.append("  " + _("since visit {visit}: {n} change(s)").format(
            visit=case["previous_visit"], n=n))  # fmt: skip
        out += ["  " + display(ln, TEXT_LIMIT) for ln in lines]
    for o in case.get("overrides") or []:
        out.append("  " + display(_("override {kind} {target}: {field} = {value} by {who}").format(
            kind=i18n.term("kind", o["target_kind"]), target=o["target"], field=o["field"],
            value=o["value"], who=o["author"]), TEXT_LIMIT))  # fmt: skip
    return out
