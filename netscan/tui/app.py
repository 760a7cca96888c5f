"""The netscan TUI: a live view of the analysis of capture files or of a live capture."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from netscan import i18n
from netscan.analysis.finding import Finding
from netscan.analyze import Analyzer, Options, Result
from netscan.i18n import N_, _
from netscan.inventory.model import Role
from netscan.safefile import safe_name, write_private
from netscan.tui.lang import translate_bindings
from netscan.tui.messages import AnalysisFailed, AnalysisProgress, ExportDone, SnapshotReady
from netscan.tui.state import (
    Mark,
    Snapshot,
    build_graph,
    build_snapshot,
    device_bursts,
    uploads_after_marks,
)
from netscan.tui.widgets.device_detail import DeviceScreen
from netscan.tui.widgets.devices import DevicesPane
from netscan.tui.widgets.export import ExportScreen
from netscan.tui.widgets.findings import FindingsPane
from netscan.tui.widgets.graph import GraphView
from netscan.tui.widgets.header import ScanHeader
from netscan.tui.widgets.help import HelpScreen
from netscan.tui.widgets.marks import MarksPane
from netscan.untrusted import TEXT_LIMIT, display, filename

HERE = Path(__file__).parent
WIDGETS = HERE / "widgets"
EXPORT_KINDS = (N_("report"), N_("evidence"))  # ExportDone.what, shown translated
SNAPSHOT_INTERVAL = 0.5  # seconds between UI updates while the analysis streams
FILE_BATCH = 5000


def evidence_extractor() -> Callable[[dict[str, Any], str, list[str], str], Any]:
    """``extract(report, finding_id, files, output)`` of ``netscan evidence``."""
    from netscan.report.evidence_cli import extract

    return extract


class NetscanApp(App[int]):
    """Devices, findings, graph and walk-test marks, filled in while the analysis streams."""

    TITLE = "netscan"
    CSS_PATH = [
        HERE / "app.tcss",
        WIDGETS / "header.tcss",
        WIDGETS / "devices.tcss",
        WIDGETS / "findings.tcss",
        WIDGETS / "graph.tcss",
        WIDGETS / "marks.tcss",
        WIDGETS / "timeline.tcss",
    ]
    BINDINGS = [
        Binding("d", "show_tab('devices')", N_("Devices")),
        Binding("f", "show_tab('findings')", N_("Findings")),
        Binding("g", "show_tab('graph')", N_("Graph")),
        Binding("w", "show_tab('marks')", N_("Marks"), show=False),
        Binding("m", "mark", N_("Mark")),
        Binding("e", "export_report", N_("Export")),
        Binding("x", "export_evidence", N_("Evidence"), show=False),
        Binding("o", "override", N_("Override"), show=False),
        Binding("t", "toggle_theme", N_("Theme"), show=False),
        Binding("question_mark,f1", "help", N_("Help")),
        Binding("q", "quit", N_("Quit")),
    ]

    def __init__(
        self,
        paths: list[str] | None = None,
        *,
        options: Options | None = None,
        iface: str | None = None,
        live_module: Any = None,
        snapshot: Snapshot | None = None,
        batch: int = FILE_BATCH,
        mark_window: float = 30.0,
        export_dir: str | Path = ".",
        evidence_dir: str | Path = "evidence",
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        capture_options: dict[str, Any] | None = None,
        case: dict[str, Any] | None = None,
        lang: str | list[str] | None = None,
    ) -> None:
        super().__init__()
        # the TUI's language (the first) and the exported HTML report's languages (all)
        self.langs = i18n.parse_langs(lang) if lang else [i18n.DEFAULT]
        self.lang = self.langs[0]
        i18n.translations(self.lang)  # a missing catalogue fails here, before the screen
        with i18n.use(self.lang):
            translate_bindings(self)
        # {"store": PATH|URL|None, "case": NAME, "site": SITE, "analyst": NAME}: overrides (o)
        self.case = dict(case) if case else None
        # the site's overrides from the case store, shown beside what the traffic said
        self.case_overrides: list[dict[str, Any]] = []
        self.case_finding_keys: dict[str, tuple[str, str]] = {}
        self.case_visit: int | None = None  # the visit this session's report was recorded as
        self.capture_options = dict(capture_options or {})
        self.paths = list(paths or [])
        self.options = options or Options()
        self.iface = iface
        self.live_module = live_module
        self.batch = batch
        self.mark_window = mark_window
        self.export_dir = Path(export_dir)
        self.evidence_dir = Path(evidence_dir)
        self.snapshot_interval = snapshot_interval
        self.updates: list[int] = []  # packets of every snapshot shown
        self.live_capture: Any = None
        self.snapshot: Snapshot | None = None
        self.marks: list[Mark] = []
        self.analysis: Worker[None] | None = None
        self._initial = snapshot
        self._requests: list[tuple[str, str]] = []  # exports waiting for the next step
        self._graph_dirty = True
        if iface:
            self.source = f"live {iface}"
        elif self.paths:
            self.source = ", ".join(Path(p).name for p in self.paths)
        else:
            self.source = snapshot.source if snapshot else "no input"

    @contextlib.contextmanager
    def _context(self) -> Generator[None, None, None]:
        """Textual's context for the app's tasks, with the TUI's language set in it (the
        widgets' tasks inherit it; the caller's own context is left as it was)."""
        with super()._context(), i18n.use(self.lang):
            yield

    @property
    def main(self) -> Screen[Any]:
        """The main screen (devices, findings, graph, marks), under any pushed screen."""
        return self.screen_stack[0]

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ScanHeader(self.source, id="scan-header")
        with TabbedContent(initial="devices", id="tabs"):
            with TabPane(_("Devices"), id="devices"):
                yield DevicesPane(id="devices-pane")
            with TabPane(_("Findings"), id="findings"):
                yield FindingsPane(id="findings-pane")
            with TabPane(_("Graph"), id="graph"):
                yield GraphView(id="graph-view")
            with TabPane(_("Marks"), id="marks"):
                yield MarksPane(id="marks-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.main.query_one(DevicesPane).table.focus()
        self.load_case_overrides()
        if self._initial is not None:
            self.post_message(SnapshotReady(self._initial))
        elif self.paths or self.iface:
            self.analysis = self.analyse()

    def on_unmount(self) -> None:
        if self.live_capture is not None:
            self.live_capture.stop()

    # -- untrusted text ----------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry error texts and paths that may hold network strings: shown
        as one plain, escaped line, never as markup."""
        super().notify(
            display(message, TEXT_LIMIT),
            title=display(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def _broker_event(
        self, event_name: str, event: events.Event, default_namespace: DOMNode
    ) -> bool:
        """netscan never puts actions (``@click`` and the like) in what it renders; an
        action found in rendered text came from the data, so it is never run."""
        return False

    # -- the analysis worker ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="analysis", exit_on_error=False)
    def analyse(self) -> None:
        worker = get_current_worker()
        analyzer = Analyzer(self.options)
        try:
            if self.iface:
                self._analyse_live(worker)
                return
            steps: Iterator[Any] = analyzer.run_incremental(self.paths, batch=self.batch)
            last = 0.0
            for step in steps:
                if worker.is_cancelled:
                    steps.close()  # type: ignore[attr-defined]
                    return
                self.post_message(
                    AnalysisProgress(step.done_bytes, step.total_bytes, step.packets, None)
                )
                now = time.monotonic()
                if step.final or now - last >= self.snapshot_interval:
                    snap = build_snapshot(
                        step.result(),
                        source=self.source,
                        done_bytes=step.done_bytes,
                        total_bytes=step.total_bytes,
                        final=step.final,
                        keep_result=step.final,
                    )
                    self.post_message(SnapshotReady(snap))
                    last = time.monotonic()
                while self._requests:
                    what, path = self._requests.pop(0)
                    self._write_report(step.result(), path)
        except Exception as exc:  # shown in the UI; the app keeps running
            self.post_message(AnalysisFailed(f"{type(exc).__name__}: {exc}"))

    def _analyse_live(self, worker: Worker[None]) -> None:
        """Live: ``netscan.live_analysis`` follows the capture's evidence ring; its tick, called
        between packets, is where the UI gets a snapshot."""
        from netscan.live_analysis import LiveAnalysis

        capture = self.live_module.LiveCapture(
            self.iface, evidence_dir=self.evidence_dir, **self.capture_options
        )
        self.live_capture = capture
        live = LiveAnalysis(self.options, capture)

        def drops() -> int | None:
            return int(live.status().drops.total)

        def tick() -> None:
            if worker.is_cancelled:
                capture.stop()
                return
            self.post_message(AnalysisProgress(0, 0, live.packets, drops()))
            snap = build_snapshot(live.snapshot(), source=self.source, final=False, drops=drops())
            self.post_message(SnapshotReady(snap))
            while self._requests:
                _what, path = self._requests.pop(0)
                self._write_report(live.snapshot(), path)

        result = live.run(tick=tick, tick_interval=SNAPSHOT_INTERVAL * 2)
        snap = build_snapshot(
            result, source=self.source, final=True, drops=drops(), keep_result=True
        )
        self.post_message(SnapshotReady(snap))

    def on_analysis_progress(self, message: AnalysisProgress) -> None:
        self.main.query_one(ScanHeader).progress(
            message.done_bytes, message.total_bytes, message.packets, message.drops
        )

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        self.snapshot = snap
        self.updates.append(snap.packets)
        self.main.query_one(ScanHeader).snapshot(snap)
        self._apply_case_overrides(snap.findings)
        self.main.query_one(DevicesPane).show(snap)
        findings = self.main.query_one(FindingsPane)
        findings.show(snap.findings)
        findings.set_marks(self.marks, self.mark_window)
        self._graph_dirty = True
        active = self.main.query_one(TabbedContent).active
        if active == "graph" or snap.final:
            self._refresh_graph()
        if active == "marks" or snap.final:
            self._refresh_marks()
        if snap.final:
            self.notify(
                _("Analysis done: {devices} devices, {findings} finding(s).").format(
                    devices=len(snap.devices), findings=len(snap.findings)),
                timeout=4,
            )  # fmt: skip
            pending, self._requests = self._requests, []
            for what, path in pending:
                if what == "report":
                    self.export_report(path)

    def on_analysis_failed(self, message: AnalysisFailed) -> None:
        self.main.query_one(ScanHeader).finish("failed")
        self.notify(message.error, title=_("analysis failed"), severity="error", timeout=10)

    def on_export_done(self, message: ExportDone) -> None:
        if message.error:
            self.notify(message.error, severity="error",
                        title=_("{what} export failed").format(what=_(message.what)))  # fmt: skip
        else:
            self.notify(_("{what} written to {path}").format(what=_(message.what),
                        path=message.path), title=_("export"))  # fmt: skip

    # -- views -----------------------------------------------------------------------------

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane == "graph" and self._graph_dirty:
            self._refresh_graph()
        elif pane == "marks":
            self._refresh_marks()

    def _refresh_graph(self) -> None:
        if self.snapshot is not None:
            self.main.query_one(GraphView).show(build_graph(self.snapshot))
            self._graph_dirty = False

    def _refresh_marks(self) -> None:
        self.main.query_one(MarksPane).show(self.snapshot, self.marks, self.mark_window)

    def on_devices_pane_selected(self, message: DevicesPane.Selected) -> None:
        self.open_device(message.key)

    def open_device(self, key: str) -> None:
        snap = self.snapshot
        if snap is None or key not in snap.devices:
            return
        self.push_screen(DeviceScreen(snap.devices[key], snap, list(self.marks), self.mark_window))

    def action_show_tab(self, tab: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.main.query_one(TabbedContent).active = tab
        focus = {
            "devices": lambda: self.main.query_one(DevicesPane).table,
            "findings": lambda: self.main.query_one("#finding-list"),
            "graph": lambda: self.main.query_one(GraphView),
            "marks": lambda: self.main.query_one(MarksPane),
        }[tab]()
        focus.focus()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-dark" if not self.current_theme.dark else "textual-light"

    # -- marks -----------------------------------------------------------------------------

    def capture_now(self) -> float:
        """The capture's clock now: wall time live, else how far the analysis has read."""
        if self.iface or self.snapshot is None or self.snapshot.capture_last is None:
            return time.time()
        return self.snapshot.capture_last

    def action_mark(self, capture_ts: float | None = None, note: str = "") -> Mark:
        ts = self.capture_now() if capture_ts is None else capture_ts
        mark = Mark(len(self.marks) + 1, time.time(), ts, note)
        self.marks.append(mark)
        self.main.query_one(ScanHeader).marks = len(self.marks)
        self.main.query_one(FindingsPane).set_marks(self.marks, self.mark_window)
        self._refresh_marks()
        self.notify(_("Mark #{n} at {time}").format(n=mark.number, time=time.strftime("%H:%M:%S")),
                    timeout=2)  # fmt: skip
        return mark

    # -- exports ---------------------------------------------------------------------------

    def default_report_path(self) -> Path:
        return self.export_dir / f"netscan-report-{time.strftime('%Y%m%d-%H%M%S')}.html"

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """A screenshot shows captured names: written like every export, 0600 and never
        through a link, into the export directory whatever directory was asked for."""
        from textual.app import generate_datetime_filename

        name = safe_name(filename or generate_datetime_filename("netscan", ".svg", time_format))
        target = self.export_dir / (name if name.endswith(".svg") else name + ".svg")
        try:
            write_private(target, self.export_screenshot())
        except OSError as exc:
            self.notify(f"{target}: {exc.strerror or exc}", title="screenshot failed",
                        severity="error")  # fmt: skip
            return None
        self.notify(f"screenshot written to {target}", title="export")
        return str(target)

    def action_export_report(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.export_report(path)

        self.push_screen(ExportScreen("export report", str(self.default_report_path())), chosen)

    def export_report(self, path: str) -> None:
        """Write the report now (after the analysis) or at the analysis' next step."""
        snap = self.snapshot
        if snap is not None and snap.result is not None:
            self._export_worker(snap.result, path)
        elif self.analysis is not None and self.analysis.is_running:
            self._requests.append(("report", path))
            self.notify(_("The report will be written at the next analysis step."), timeout=3)
        else:
            self.notify(_("Nothing to export yet."), severity="warning")

    @work(thread=True, group="export")
    def _export_worker(self, result: Result, path: str) -> None:
        self._write_report(result, path)

    def _write_report(self, result: Result, path: str) -> None:
        from netscan.report import json_report

        try:
            report = json_report.build(result)
            if self.marks:  # the walk test judged in the report itself, with its timeline
                from netscan.report import walk_section

                walk_section.attach(report, result,
                                    [(m.number, m.capture_ts, m.note) for m in list(self.marks)],
                                    self.mark_window)  # fmt: skip
            self._case_report(report)
            if not path.endswith(".json"):
                from netscan.report import html_report

                html_report.write(report, path, analyst=None, lang=self.langs)
            else:
                json_report.write(report, path)
            if self.marks:
                self._write_marks(result, Path(path))
        except Exception as exc:
            self.post_message(ExportDone("report", path, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ExportDone("report", path))

    def _write_marks(self, result: Result, path: Path) -> None:
        """The walk-test marks beside the report, with the uploads that followed each."""
        snap = self.snapshot
        out: dict[str, Any] = {"window_seconds": self.mark_window, "marks": []}
        for mark in list(self.marks):
            followed = []
            if snap is not None:
                for view in snap.devices.values():
                    if view.bytes_offsite:
                        hit = uploads_after_marks(
                            [mark], device_bursts(view, snap), self.mark_window
                        )[0]
                        if hit.bursts:
                            followed.append({"device": view.label, "delay": hit.delay,
                                             "bytes": hit.bytes})  # fmt: skip
            out["marks"].append({**asdict(mark), "uploads": followed})
        # each device's walk test judged against its base rate (netscan.analysis.walktest)
        out["walk_tests"] = []
        if snap is not None and self.marks:
            from netscan.analysis.walktest import judge

            marks = [(m.number, m.capture_ts) for m in self.marks]
            lo, hi = snap.capture_first, snap.capture_last
            for view in snap.devices.values():
                if not view.bytes_offsite or lo is None or hi is None:
                    continue
                bursts = [(b.start, b.bytes) for b in device_bursts(view, snap)]
                verdict = judge(marks, bursts, self.mark_window, (lo, hi))
                out["walk_tests"].append({"device": view.label, **verdict.as_dict()})
        marks_path = path.with_name(path.stem + ".marks.json")
        write_private(marks_path, json.dumps(out, indent=2) + "\n")

    # -- the case store ----------------------------------------------------------------------

    def load_case_overrides(self) -> None:
        """Read the site's overrides from the case store and show them beside what the traffic
        said: an analyst's name, role or manufacturer beside the device's, a finding's status
        beside its level."""
        if not self.case:
            return
        from netscan.case.errors import StoreError
        from netscan.case.store import CaseStore

        case = self.case
        try:
            with CaseStore(case.get("store")) as store:
                self.case_overrides = store.overrides(case["case"], case["site"])
                self.case_finding_keys = store.finding_keys(case["case"], case["site"])
        except (StoreError, OSError) as exc:
            self.notify(f"case store not read: {display(exc, 200)}", severity="error")
            return
        snap = self.snapshot
        if snap is not None:
            self._apply_case_overrides(snap.findings)
            findings = self.main.query_one(FindingsPane)
            findings.refresh_findings(snap.findings)
            self.main.query_one(DevicesPane).show(snap)

    def _apply_case_overrides(self, findings: list[Finding]) -> None:
        from netscan.tui.widgets.devices import DevicesPane

        if not self.case_overrides:
            return
        from netscan.case.casework import apply_finding_overrides, effective_overrides

        apply_finding_overrides(findings, self.case_overrides, self.case_finding_keys)
        per_device: dict[str, dict[str, str]] = {}
        for (kind, target, field), o in effective_overrides(self.case_overrides).items():
            if kind == "device":
                per_device.setdefault(target, {})[field] = str(o["value"])
        self.main.query_one(DevicesPane).analyst = per_device

    def _case_report(self, report: dict[str, Any]) -> None:
        """With --case: the exported report is this session's visit of the site (recorded at
        the first export, the same visit afterwards), with the case section (changes since
        the previous visit, the site's overrides and notes, listed in the chain of custody)."""
        if not self.case:
            return
        from netscan.case.casework import annotate, record
        from netscan.case.store import CaseStore

        case = self.case
        with CaseStore(case.get("store")) as store:
            if self.case_visit is None:
                section = record(store, case["case"], case["site"], report,
                                 analyst=case.get("analyst") or "")  # fmt: skip
                self.case_visit = int(section["visit"])
            else:
                annotate(store, store.visit(case["case"], case["site"], self.case_visit), report)

    def action_override(self) -> None:
        """Record an analyst override on the selected finding (findings tab) or device."""
        from netscan.tui.widgets.devices import DevicesPane
        from netscan.tui.widgets.override import OverrideScreen

        if not self.case:
            self.notify("Start netscan tui with --case NAME --site SITE to record overrides.",
                        severity="warning")  # fmt: skip
            return
        tab = self.main.query_one(TabbedContent).active
        if tab == "findings":
            finding = self.main.query_one(FindingsPane).selected
            if finding is None:
                self.notify("Select a finding first.")
                return
            kind, target = "finding", finding.id
            label = f"{finding.level.value}: {finding.device_label}"
        else:
            key = self.main.query_one(DevicesPane).selected
            if key is None:
                self.notify("Select a device first (devices tab).")
                return
            kind, target, label = "device", key, f"device {key}"
        case = self.case

        def chosen(answer: dict[str, Any] | None) -> None:
            if not answer:
                return
            from netscan.case.errors import StoreError
            from netscan.case.store import CaseStore

            try:
                with CaseStore(case.get("store")) as store:
                    store.ensure_site(case["case"], case["site"])
                    for field, value in answer["sets"]:
                        store.add_override(case["case"], case["site"], kind, target, field,
                                           value, answer["by"], answer["why"])  # fmt: skip
            except (StoreError, OSError) as exc:
                self.notify(f"override not recorded: {display(exc, 200)}", severity="error")
                return
            done = ", ".join(f"{f} = {v}" for f, v in answer["sets"])
            self.notify(f"override recorded: {kind} {display(target, 40)}: {display(done, 120)}")
            self.load_case_overrides()

        self.push_screen(OverrideScreen(kind, target, label, case.get("analyst") or ""), chosen)

    def action_export_evidence(self) -> None:
        finding = self.main.query_one(FindingsPane).selected
        snap = self.snapshot
        if finding is None or snap is None or snap.result is None or not self.paths:
            self.notify("Select a finding (after the analysis of files) to export its evidence.")
            return
        fid = finding.id or "finding"
        default = str(self.export_dir / f"evidence-{filename(fid)}.pcapng")
        result = snap.result

        def chosen(path: str | None) -> None:
            if path:
                self.export_evidence(fid, result, path)

        self.push_screen(ExportScreen("export evidence (pcapng)", default), chosen)

    @work(thread=True, group="export")
    def export_evidence(self, finding_id: str, result: Result, path: str) -> None:
        """Write the frames behind one finding to a pcapng file (in a worker thread)."""
        from netscan.report import json_report

        extract = evidence_extractor()
        try:
            count, _warnings = extract(json_report.build(result), finding_id, self.paths, path)
        except Exception as exc:
            self.post_message(ExportDone("evidence", path, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ExportDone("evidence", f"{path} ({count} packets)"))

    # -- command palette -------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Mark a moment", "Walk test: record a timestamped mark", self.action_mark
        )
        yield SystemCommand("Export report", "HTML report (JSON without the HTML module)",
                            self.action_export_report)  # fmt: skip
        yield SystemCommand("Export evidence", "Evidence frames of the selected finding",
                            self.action_export_evidence)  # fmt: skip
        for tab in ("devices", "findings", "graph", "marks"):
            yield SystemCommand(f"Show {tab}", f"Switch to the {tab} view",
                                lambda tab=tab: self.action_show_tab(tab))  # fmt: skip
        pane = self.main.query_one(DevicesPane)
        yield SystemCommand("Devices with findings", "Filter the devices table",
                            lambda: pane.set_filter(level="finding"))  # fmt: skip
        yield SystemCommand("Cameras, NVRs and face terminals", "Filter the devices table",
                            lambda: pane.set_filter(text="", role=Role.CAMERA))  # fmt: skip
        yield SystemCommand("Clear device filters", "Show every device",
                            lambda: pane.set_filter("", "any", "any", "any"))  # fmt: skip
        yield SystemCommand("Toggle light/dark", "Switch theme", self.action_toggle_theme)
        yield SystemCommand("Help", "Keys and views", self.action_help)
