"""The case sections of every report (HTML, Markdown, terminal): what changed since the
previous visit of the site, with evidence on both sides, and the analysts' overrides and
notes (shown beside what the traffic said), for the chain of custody.

Everything shown comes from the JSON report's ``case`` section; names in it came from the
network or from analysts, so every value goes through ``netscan.untrusted``.
"""

from __future__ import annotations

from typing import Any

from netscan.untrusted import TEXT_LIMIT, display
from netscan.untrusted import html as h
from netscan.untrusted import markdown as m

CHANGE_KINDS = (
    ("devices_appeared", "Devices that appeared"),
    ("devices_left", "Devices no longer seen"),
    ("roles_changed", "Roles that changed"),
    ("destinations_appeared", "Destinations that appeared"),
    ("destinations_stopped", "Destinations no longer used"),
    ("countries_appeared", "Countries that appeared"),
    ("countries_stopped", "Countries no longer sent to"),
    ("findings_new", "New findings"),
    ("findings_resolved", "Findings no longer seen"),
    ("findings_changed", "Findings whose level changed"),
)


def _what(kind: str, item: dict[str, Any]) -> str:
    if kind.startswith("devices"):
        return f"{item.get('label')} ({item.get('role')})"
    if kind == "roles_changed":
        return f"{item.get('label')}: {item.get('from')} → {item.get('to')}"
    if kind.startswith("destinations"):
        return (f"{item.get('device_label')} → {item.get('destination')} ({item.get('ip')}, "
                f"{item.get('country') or '?'}, {item.get('org') or ''})")  # fmt: skip
    if kind.startswith("countries"):
        return (f"{item.get('device_label')} → {item.get('country')} "
                f"({', '.join(item.get('orgs') or item.get('destinations') or [])})")  # fmt: skip
    level = item.get("level")
    if kind == "findings_changed":
        level = f"{item.get('from')} → {item.get('to')}"
    return (f"{item.get('finding')} ({level}): {item.get('device_label')} → "
            f"{item.get('destination')} ({item.get('country') or '?'})")  # fmt: skip


def evidence_text(ev: dict[str, Any] | None) -> str:
    """One side of a change: a frame where it was seen, or the captures where it was not."""
    if not ev:
        return "—"
    if "absent_in" in ev:
        caps = ", ".join(f"{c.get('path')} (sha256 {str(c.get('sha256'))[:12]}…)"
                         for c in ev.get("captures") or [])  # fmt: skip
        return f"not seen in {ev['absent_in']}: {caps}"
    if ev.get("frame") is None:
        return "—"
    what = f": {ev.get('what')}" if ev.get("what") else ""
    return f"{ev.get('file')} frame {ev.get('frame')}{what}"


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
            out.append((title, _what(kind, item), evidence_text(before), evidence_text(after)))
    return out


def _override_rows(case: dict[str, Any], report: dict[str, Any]) -> list[list[str]]:
    traffic_role = {d.get("key"): d.get("role") for d in report.get("devices", [])}
    traffic_vendor = {d.get("key"): d.get("vendor") for d in report.get("devices", [])}
    levels = {f.get("id"): f.get("level") for f in report.get("findings", [])}
    out = []
    for o in case.get("overrides") or []:
        if o["target_kind"] == "device":
            said = {"role": traffic_role.get(o["target"]),
                    "manufacturer": traffic_vendor.get(o["target"])}.get(o["field"])  # fmt: skip
        else:
            said = levels.get(o["target"])
        out.append([o["created_at"], f"{o['target_kind']} {o['target']}", o["field"], o["value"],
                    "" if said is None else str(said), o["author"], o["reason"]])  # fmt: skip
    return out


OVERRIDE_HEADER = ["When", "On", "Field", "Analyst's value", "What the traffic said", "By", "Why"]


# -- HTML --------------------------------------------------------------------------------


def html_changes(report: dict[str, Any]) -> str:
    case = report.get("case")
    if not case:
        return ""
    head = (f"<h2>Since the previous visit</h2><p class='meta'>case {h(case['case'])} · site "
            f"{h(case['site'])} · visit {h(case['visit'])}")  # fmt: skip
    if case.get("previous_visit") is None:
        return head + " · the first visit of this site: nothing to compare.</p>"
    ch = case.get("changes") or {}
    out = [head + f" compared with visit {h(case['previous_visit'])}</p>"]
    lines = ch.get("lines") or []
    if not lines:
        out.append("<p>No change.</p>")
    else:
        out.append("<ul>" + "".join(f"<li>{h(ln, TEXT_LIMIT)}</li>" for ln in lines) + "</ul>")
        out.append("<table><tr><th>Change</th><th>What</th><th>Evidence before</th>"
                   "<th>Evidence after</th></tr>")  # fmt: skip
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
    out = [f"<h3>Case record</h3><p>case {h(case['case'])}, site {h(case['site'])}, visit "
           f"{h(case['visit'])} recorded {h(case.get('recorded_at'))} in "
           f"<code>{h(case.get('store'))}</code></p>"]  # fmt: skip
    ov = _override_rows(case, report)
    out.append(f"<h3>Analyst overrides ({len(ov)})</h3>")
    if ov:
        out.append("<p class='small'>Shown beside what the traffic said; the findings and the "
                   "inventory above keep the traffic's values.</p>")  # fmt: skip
        out.append("<table><tr>" + "".join(f"<th>{h(c)}</th>" for c in OVERRIDE_HEADER) + "</tr>")
        for r in ov:
            out.append("<tr>" + "".join(f"<td>{h(c, TEXT_LIMIT)}</td>" for c in r) + "</tr>")
        out.append("</table>")
    notes = case.get("notes") or []
    out.append(f"<h3>Analyst notes ({len(notes)})</h3>")
    if notes:
        out.append("<ul>" + "".join(
            f"<li>{h(n['created_at'])} {h(n['author'])}"
            + (f" [{h(n['target_kind'])} {h(n['target'])}]" if n.get("target_kind") else "")
            + f": {h(n['text'], TEXT_LIMIT)}</li>" for n in notes) + "</ul>")  # fmt: skip
    return "\n".join(out)


def html_override_note(obj: dict[str, Any]) -> str:
    """A device's or finding's overrides, to show beside it."""
    parts = []
    st = obj.get("analyst_status")
    if st:
        parts.append(f"analyst status: <b>{h(st['status'])}</b> by {h(st['by'])} "
                     f"({h(st['at'])}): {h(st['why'], TEXT_LIMIT)}")  # fmt: skip
    for field, o in sorted((obj.get("overrides") or {}).items()):
        parts.append(f"analyst {h(field)}: <b>{h(o['value'])}</b> by {h(o['by'])} "
                     f"({h(o['at'])}): {h(o['why'], TEXT_LIMIT)}")  # fmt: skip
    if not parts:
        return ""
    return "<p class='small override'>" + "<br>".join(parts) + "</p>"


# -- Markdown ------------------------------------------------------------------------------


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(m(c) for c in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(m(c, TEXT_LIMIT) for c in r) + " |" for r in body]
    return out


def markdown_changes(report: dict[str, Any]) -> list[str]:
    case = report.get("case")
    if not case:
        return []
    out = ["", "## Since the previous visit", "",
           f"Case {m(case['case'])}, site {m(case['site'])}, visit {case['visit']}."]  # fmt: skip
    if case.get("previous_visit") is None:
        out[-1] += " The first visit of this site: nothing to compare."
        return out
    out[-1] += f" Compared with visit {case['previous_visit']}."
    lines = (case.get("changes") or {}).get("lines") or []
    if not lines:
        return out + ["", "No change."]
    out.append("")
    out += [f"- {m(ln, TEXT_LIMIT)}" for ln in lines]
    out.append("")
    out += _md_table(["Change", "What", "Evidence before", "Evidence after"],
                     [list(r) for r in rows(case)])  # fmt: skip
    return out


def markdown_overrides(report: dict[str, Any]) -> list[str]:
    case = report.get("case")
    if not case:
        return []
    out = ["", f"- Case record: case {m(case['case'])}, site {m(case['site'])}, visit "
           f"{case['visit']} recorded {m(case.get('recorded_at'))}", ""]  # fmt: skip
    ov = _override_rows(case, report)
    out += [f"### Analyst overrides ({len(ov)})", ""]
    if ov:
        out += _md_table(OVERRIDE_HEADER, ov)
    notes = case.get("notes") or []
    out += ["", f"### Analyst notes ({len(notes)})", ""]
    for n in notes:
        about = f" [{m(n['target_kind'])} {m(n['target'])}]" if n.get("target_kind") else ""
        out.append(f"- {m(n['created_at'])} {m(n['author'])}{about}: {m(n['text'], TEXT_LIMIT)}")
    return out


# -- terminal ------------------------------------------------------------------------------


def terminal_lines(report: dict[str, Any]) -> list[str]:
    """Plain single lines (already made safe) for the terminal summary."""
    case = report.get("case")
    if not case:
        return []
    out = [f"Case {display(case['case'])}, site {display(case['site'])}: visit {case['visit']}"]
    if case.get("previous_visit") is None:
        out.append("  first visit of this site: nothing to compare")
    else:
        lines = (case.get("changes") or {}).get("lines") or []
        out.append(f"  since visit {case['previous_visit']}: "
                   f"{len(lines) if lines else 'no'} change(s)")  # fmt: skip
        out += ["  " + display(ln, TEXT_LIMIT) for ln in lines]
    for o in case.get("overrides") or []:
        out.append(f"  override {display(o['target_kind'])} {display(o['target'])}: "
                   f"{display(o['field'])} = {display(o['value'])} by {display(o['author'])}")  # fmt: skip
    return out
