"""The Markdown report: the same sections as the HTML report, for tickets and wikis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from netscan import i18n, reasons
from netscan.analysis.finding import report_findings, worst_level
from netscan.i18n import _
from netscan.report import case_section, legal, walk_section
from netscan.report.completeness import finding_note, missed_by_peer, report_notes
from netscan.report.html_report import (
    _bytes,
    _country_text,
    _dest_text,
    _path_text,
    _position,
    headline_text,
    kind_text,
    picture_dims,
    reason_label,
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


def _t(message: str, **fields: Any) -> str:
    """A line of ours in the current language with its fields filled in: the template is
    our own Markdown, every field (it may come from the network) is escaped on its own, so
    whatever it holds renders as its own characters."""
    return _(message).format(**{k: m(v) for k, v in fields.items()})


def evidence_command(finding_id: Any) -> str:
    fid = display(finding_id, 64)
    return f"netscan evidence FILE… --finding {fid} --report REPORT.json -o {filename(fid)}.pcapng"


def render(
    report: dict[str, Any], analyst: str | None = None, lang: str | list[str] | None = None
) -> str:
    """The Markdown report in ``lang`` (the first of several; default: the current language).
    Every value from the capture (names, banners, reasons, paths) goes through
    ``untrusted.markdown``: it renders as its own characters, never as Markdown or HTML, and
    never spans lines."""
    langs = i18n.parse_langs(lang) if lang else [i18n.current()]
    with i18n.use(langs[0]):
        return _render(report, analyst)


def _provision_lines(p: dict[str, Any]) -> list[str]:
    v = legal.view(p)
    title = _("{instrument}, {article}").format(instrument=v.instrument, article=v.article)
    out = [f"- *{m(title)}*{m(_(': '))}{m(v.summary)} "
           + _t("({why}; source: {source})", why=v.why, source=v.source)]  # fmt: skip
    if v.quote:
        head = _("Original text ({lang})").format(lang=i18n.native_name(v.quote_lang))
        cite = f"{v.quote_instrument} {v.quote_article}".strip()
        out.append(f"  > **{m(head)}** · {m(cite)}{m(_(': '))}{m(v.quote)}")
        if v.translation:
            out.append("  >")
            out.append(f"  > **{_t('Translation (unofficial)')}**: {m(v.translation)}")
    return out


def _render(report: dict[str, Any], analyst: str | None) -> str:
    findings = report_findings(report)
    lines = [
        f"# {_t('Face data on the premises network')}",
        "",
        _t("netscan {version} · generated {generated} · analyst {analyst}",
           version=report.get("netscan_version"), generated=i18n.when(report.get("generated_at")),
           analyst=analyst or _("not given")),
        "",
        f"## {_t('Verdict')}",
        "",
    ]  # fmt: skip
    # the headline is our own sentence (never network text): written as it is
    if not findings:
        lines.append(f"**{headline_text(None)}**")
    else:
        worst = worst_level(f.level for f in findings)
        headline = headline_text(worst.value if worst is not None else None)
        lines.append(f"**{headline}**")
        lines.append("")
        for f in findings:
            lines.append(
                f"- **{m(i18n.term('level', f.level.value))}** {_code(f.id)}: "
                f"{m(f.device_label)} → {m(_dest_text(f.destination))}"
            )
    # our own sentence, its numbers from the report: written as it is
    for note in report_notes(report):
        lines += ["", note]
    lines += ["", f"## {_t('Findings ({n})', n=i18n.number(len(findings)))}", ""]
    for f in findings:
        d = f.destination
        level = i18n.term("level", f.level.value)
        lines += [
            f"### {m(level.upper())} {_code(f.id)} — {m(f.device_label)}",
            "",
            m(reason_label(f)) + m(reasons.reason_text(f)),
            "",
            f"- {_t('Path: {path}', path=_path_text(f.path))}",
            f"- {_t('Kind: {kind}', kind=kind_text(f.kind))}",
            f"- {_t('Destination:')} {_code(d.ip or _('unknown'))} "
            f"{m(_names(d.names))} "
            + _t("(provider {provider}; {country}; AS org {org})",
                 provider=d.provider or _("unknown"), country=_country_text(d),
                 org=d.org or _("unknown")),
            f"- {_t('Cross-border: {value}', value=i18n.yes_no(f.cross_border))}",
            "- " + _t("Upstream: {size}, {bursts} picture-sized bursts, shape {shape}",
                      size=_bytes(f.bytes_up), bursts=i18n.number(f.image_bursts),
                      shape=i18n.term("shape", f.shape)),
            "- " + _t("Time: {first} – {last}", first=i18n.when(f.first_ts),
                      last=i18n.when(f.last_ts)),
        ]  # fmt: skip
        missed = finding_note(f.capture_missed)
        if missed:
            lines.append(f"- {m(missed)}")
        lines.append("")
        if f.faces:
            lines += _table(
                [_("Frames"), _("Content"), _("Size"), _("Dimensions"), _("Faces"), _("SHA-256")],
                [
                    [
                        f"{x.get('first_frame')}–{x.get('last_frame')}",
                        x.get("what"),
                        _bytes(x.get("size")),
                        picture_dims(x),
                        _("template") if x.get("format") == "template" else x.get("faces"),
                        _code(x.get("sha256")),
                    ]
                    for x in f.faces
                ],
            )
            lines.append("")
        if f.evidence:
            lines += _table(
                [_("File"), _("Frame"), _("What")],
                [[Path(str(e.get("file"))).name, _position(e), reasons.evidence_text(e)]
                 for e in f.evidence],
            )  # fmt: skip
            lines.append("")
        for p in f.provisions:
            lines += _provision_lines(p)
        lines += [
            "",
            f"{_t('Packets:')} {_code(evidence_command(f.id))}",
            "",
        ]
    walk = walk_section.markdown(report)
    if walk:
        lines += walk[1:] + [""]  # the section starts where the findings' blank line ends
    lines += [f"## {_t('Device inventory')}", ""]
    lines += _table(
        [_("MAC"), _("Addresses"), _("Names"), _("Vendor"), _("Model"), _("Role"), _("Why")],
        [
            [
                d.get("mac") or d.get("key"),
                _names(d.get("ips")),
                _names(d.get("hostnames")),
                d.get("vendor") or "",
                " / ".join(x for x in (d.get("model"), d.get("manufacturer")) if x),
                f"{i18n.term('role', d.get('role'))} ({d.get('role_confidence')})",
                _("; ").join(display(r, TEXT_LIMIT) for r in reasons.role_reasons(d)),
            ]
            for d in sorted(report.get("devices", []), key=lambda d: d.get("key"))
        ],
    )
    up: dict[str, int] = defaultdict(int)
    for fl in report.get("flows", []):
        if fl.get("ip") and not fl.get("peer_device"):
            up[fl["ip"]] += int(fl.get("bytes_up", 0))
    missed = missed_by_peer(report.get("flows"))  # a column when the capture missed some
    lines += ["", f"## {_t('Destinations by country')}", ""]
    lines += _table(
        [
            _("Country"),
            _("Endpoint"),
            _("Names"),
            _("Provider"),
            _("Category"),
            _("Bytes up"),
            *([_("Missed")] if missed else []),
        ],  # fmt: skip
        [
            [
                e.get("country") or _("unknown"),
                e["ip"],
                _names(e.get("names")),
                e.get("provider") or e.get("org") or "",
                i18n.term("category", e.get("category") or ""),
                _bytes(up.get(e["ip"], 0)),
                *([_bytes(missed[e["ip"]]) if e["ip"] in missed else ""] if missed else []),
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
        f"## {_t('Chain of custody')}",
        "",
        "- " + _t("Analyst: {analyst}", analyst=analyst or _("not given")),
        "- " + _t("Generated: {when}", when=i18n.when(report.get("generated_at"))),
        "- " + _t("netscan version: {version} (report schema {schema}, engine {engine})",
                  version=report.get("netscan_version"), schema=report.get("schema_version"),
                  engine=report.get("engine")),
        "- " + _t("Signature pack: commit {commit}, date {date}, {count} signatures",
                  commit=sig.get("commit") or _("unknown"), date=sig.get("date") or _("unknown"),
                  count=i18n.number(sig.get("count"))),
        "- " + _t("Premises networks: {networks}", networks=_names(report.get("premises"))),
        "- " + _t("Premises country: {country}", country=report.get("country") or _("not given")),
        "- " + _t("Capture time range: {first} – {last}",
                  first=i18n.when(min(firsts)) if firsts else "?",
                  last=i18n.when(max(lasts)) if lasts else "?"),
        "",
    ]  # fmt: skip
    lines += _table(
        [_("Input"), _("SHA-256"), _("Size"), _("Packets"), _("First"), _("Last")],
        [
            [
                i["path"],
                _code(i.get("sha256")),
                i18n.number(i.get("size")),
                i18n.number(i.get("packets")),
                i18n.when(i.get("first_ts")),
                i18n.when(i.get("last_ts")),
            ]
            for i in inputs
        ],  # fmt: skip
    )
    lines += case_section.markdown_overrides(report)
    inferred = report.get("premises_inference") or {}
    if inferred.get("ranges") or inferred.get("notes"):
        section = reasons.premises_inference(inferred)
        lines += ["", f"## {_cell(section['heading'])}", "", _cell(section["summary"]), ""]
        for rng, sources, why in section["ranges"]:
            lines.append(f"- {_cell(rng)} ({_cell(sources)}): "
                         + _cell(_("; ").join(why)))  # fmt: skip
        lines += [f"- {_cell(note)}" for note in section["notes"]]
    if report.get("limits"):  # what the source (e.g. Zeek logs) cannot show
        lines += ["", f"## {_t('What this source cannot show')}", ""]
        lines += [f"- {_cell(x)}" for x in report["limits"]]
    return "\n".join(lines) + "\n"


def write(
    report: dict[str, Any],
    path: str | Path,
    analyst: str | None = None,
    lang: str | list[str] | None = None,
) -> None:
    """Write the report to ``path``: a new file only the user can read (0600)."""
    from netscan.safefile import write_private

    write_private(path, render(report, analyst, lang))
