"""Findings, most serious first; the selected one is explained below the list."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import OptionList, Sparkline, Static
from textual.widgets.option_list import Option

from netscan import i18n, reasons
from netscan.analysis.finding import Finding
from netscan.i18n import _
from netscan.limits import FINDING_MAX_BURSTS
from netscan.report.completeness import finding_note
from netscan.tui.state import (
    Mark,
    clock,
    destination_label,
    finding_bursts,
    finding_path,
    human_bytes,
    series,
    stamp,
    to_ts,
    walk_verdict,
)
from netscan.untrusted import TEXT_LIMIT, assemble, display, join, text

LEVEL_STYLE = {"confirmed": "bold white on red", "likely": "bold red", "possible": "bold yellow"}
SPARK_BUCKETS = 60


def _bursts_count(f: Finding) -> int:
    return len(f.bursts) if isinstance(f.bursts, list) else f.bursts


def finding_prompt(f: Finding) -> Text:
    level = f.level.value
    d = f.destination
    country = display(d.ip_country or d.operator_country or "?", 8)
    word = i18n.term("level", level)
    pad = 9 - sum(2 if ord(c) > 0x2E80 else 1 for c in word[:9])  # CJK: two columns each
    return assemble(
        (f" {word[:9]}{' ' * max(pad, 0)} ", LEVEL_STYLE.get(level, "")),
        f" {display(f.device_mac or '?')} → {display(destination_label(d))} [{country}]",
        (f" ↑{human_bytes(float(f.bytes_up))}", "bold"),
        _gaps_mark(f),
        _status_mark(f),
    )


def _gaps_mark(f: Finding) -> Text:
    """Whether the capture missed bytes of the finding's conversations (its detail says
    how many): its volumes are lower bounds."""
    if not finding_note(f.capture_missed):
        return Text("")
    return Text(" ⚠ " + _("capture gaps"), style="yellow")


def _status_mark(f: Finding) -> Text:
    """The analyst's status from the case store, beside the level the traffic gave."""
    st = f.analyst_status
    if not isinstance(st, dict):
        return Text("")
    return Text(f" ✎ {display(st.get('status', '?'), 12)}", style="italic")


def finding_detail(f: Finding, hits_text: str) -> Group:
    """The selected finding, every value a plain ``Text`` (the report's strings are data)."""
    d = f.destination
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    level = f.level.value
    t.add_row(_("level"), Text(i18n.term("level", level), style=LEVEL_STYLE.get(level, "")))
    t.add_row(_("walk test"), Text(hits_text))
    st = f.analyst_status
    if isinstance(st, dict):
        t.add_row(_("analyst"), Text(
            _("✎ {status} by {who} at {when}: {why} (the level stays what the traffic said)").format(
                status=display(st.get("status", "?"), 12), who=display(st.get("by") or "?", 60),
                when=display(st.get("at") or "?", 32), why=display(st.get("why") or "", 200))))  # fmt: skip
    t.add_row(_("kind"), text(i18n.term("kind", f.kind)))
    t.add_row(_("reason"), text(reasons.reason_text(f), limit=TEXT_LIMIT))
    t.add_row(_("path"), Text(finding_path(f) or display(f.device_mac or "")))
    names = join(d.names)
    t.add_row(_("destination"), Text(f"{display(d.ip)} {names}".strip()))
    t.add_row(_("provider"), text(d.provider or "—"))
    t.add_row(
        _("countries"),
        Text(
            _("address in {country}").format(country=display(d.ip_country or "?", 8))
            + _(", ")
            + _("operator in {country}").format(
                country=display(d.operator_country or "?", 8))
            + (f", AS{display(d.asn, 12)}" if d.asn else "")
            + (f" {display(d.org)}" if d.org else "")
        ),
    )  # fmt: skip
    cross = f.cross_border
    if cross is not None:
        t.add_row(_("cross-border"),
                  Text(_("yes"), style="bold red") if cross else Text(_("no")))  # fmt: skip
    t.add_row(_("sent"), Text(_("{size} in {n} burst(s)").format(
        size=human_bytes(float(f.bytes_up)), n=_bursts_count(f))))  # fmt: skip
    missed = finding_note(f.capture_missed)
    if missed:
        t.add_row(_("capture gaps"), Text(missed, style="yellow"))
    t.add_row(_("seen"), Text(f"{stamp(to_ts(f.first_ts))} … {clock(to_ts(f.last_ts))}"))
    provisions = f.provisions
    if provisions:
        t.add_row(_("provisions"), Text("\n").join(_provision(p) for p in provisions))
    ev = Table(title=_("evidence frames"), title_justify="left", expand=True, box=None)
    ev.add_column(_("frame"), justify="right", style="bold")
    ev.add_column(_("file"), overflow="fold", max_width=24)
    ev.add_column(_("what"), overflow="fold")
    for e in f.evidence[:50]:
        if isinstance(e, dict):
            ev.add_row(text(e.get("frame", ""), limit=12),
                       text(str(e.get("file", "")).rsplit("/", 1)[-1]),
                       text(reasons.evidence_text(e), limit=TEXT_LIMIT))  # fmt: skip
    return Group(t, ev)


class FindingsPane(Vertical):
    """A list of findings and the selected finding's reasoning, bursts and evidence."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.findings: list[Finding] = []
        self.marks: list[Mark] = []
        self.window = 30.0
        self._ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield OptionList(id="finding-list")
        with VerticalScroll(id="finding-detail"):
            yield Static(_("No findings yet: no device was seen sending face data off-site."),
                         id="finding-text")  # fmt: skip
            yield Static(_("upload bursts over time"), id="finding-spark-label")
            yield Sparkline([], id="finding-spark")

    def show(self, findings: list[Finding]) -> None:
        ids = [f.id or str(i) for i, f in enumerate(findings)]
        ol = self.query_one(OptionList)
        self.findings = findings
        if ids == self._ids:
            return
        keep = ol.highlighted
        self._ids = ids
        ol.clear_options()
        ol.add_options(
            Option(finding_prompt(f), id=fid) for f, fid in zip(findings, ids, strict=True)
        )
        self.border_title = _("findings {n}").format(n=len(findings))
        if findings:
            ol.highlighted = keep if keep is not None and keep < len(findings) else 0
            self.explain(ol.highlighted or 0)

    def refresh_findings(self, findings: list[Finding]) -> None:
        """Show ``findings`` again even when their IDs did not change (an analyst's status
        was added)."""
        self._ids = []
        self.show(findings)

    def set_marks(self, marks: list[Mark], window: float) -> None:
        self.marks, self.window = list(marks), window
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and self.findings:
            self.explain(ol.highlighted)

    @property
    def selected(self) -> Finding | None:
        i = self.query_one(OptionList).highlighted
        return self.findings[i] if i is not None and i < len(self.findings) else None

    def explain(self, index: int) -> None:
        if not 0 <= index < len(self.findings):
            return
        f = self.findings[index]
        bursts = finding_bursts(f)
        snap = getattr(self.app, "snapshot", None)
        span = (getattr(snap, "capture_first", None), getattr(snap, "capture_last", None))
        verdict = walk_verdict(self.marks, bursts, self.window, span,
                               truncated=_bursts_count(f) >= FINDING_MAX_BURSTS)  # fmt: skip
        self.query_one("#finding-text", Static).update(finding_detail(f, verdict))
        start = to_ts(f.first_ts)
        end = to_ts(f.last_ts)
        if bursts:
            start = min(start or bursts[0].start, bursts[0].start)
            end = max(end or bursts[-1].end, bursts[-1].end)
        data = series(bursts, start or 0.0, end or 0.0, SPARK_BUCKETS) if bursts else []
        self.query_one(Sparkline).data = data
        label = (
            _("upload bursts {start} … {end} ({n})").format(
                start=clock(start), end=clock(end), n=len(bursts))
            if bursts
            else _("no upload bursts recorded")
        )  # fmt: skip
        self.query_one("#finding-spark-label", Static).update(Text(label))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.explain(event.option_index)


def _provision(p: object) -> Text:
    """One legal provision in a line: instrument and article in the TUI's language, and the
    text quoted in its original language (the report has the translation beside it)."""
    if not isinstance(p, dict):
        return text(p)
    from netscan.report import legal

    v = legal.view(p)
    head = " ".join(display(x) for x in (v.instrument, v.article) if x)
    if not head:
        return text(p.get("id", p))
    out = Text(head)
    if v.quote:
        out.append("\n  ")
        out.append(display(f"「{v.quote}」", 600), style="italic")
    return out
