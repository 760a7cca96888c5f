"""The readable summary ``netscan analyze`` prints: rich tables of devices and destinations."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from netscan import i18n, reasons
from netscan.analysis.finding import Finding
from netscan.analyze import Result
from netscan.i18n import _
from netscan.inventory.model import Role
from netscan.output.table import SummaryTable
from netscan.report.completeness import finding_note, verdict_notes
from netscan.untrusted import TEXT_LIMIT, assemble, display, join, text

LEVEL_STYLE = {"confirmed": "bold red", "likely": "red", "possible": "yellow"}
ROLE_STYLE = {Role.CAMERA: "cyan", Role.NVR: "cyan", Role.FACE_TERMINAL: "magenta",
              Role.DOORBELL: "cyan", Role.EDGE_SERVER: "magenta", Role.ROUTER: "dim"}  # fmt: skip


human_bytes = i18n.size  # a byte count in decimal units, the number written the locale's way


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn(display(_("analysing"))), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        transient=True, console=Console(stderr=True),
    )  # fmt: skip
    task = progress.add_task("analyse", total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        if not started:
            progress.start()
            started = True
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            progress.stop()


WIDTH_NOT_A_TERMINAL = 220


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (``netscan analyze … | head``): stop printing and let the
        command end as it documents (Rich would exit with 1, which reads as a finding)."""
        self.quiet = True
        raise BrokenPipeError


def _console() -> Console:
    """The terminal's console; on a terminal that cannot encode every character (a legacy
    locale), those characters become '?' instead of ending the run with a traceback."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8":
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    if not sys.stdout.isatty():
        # piped or redirected: wide enough that addresses and MACs are never wrapped
        return _Console(width=WIDTH_NOT_A_TERMINAL)
    return _Console()


def path_text(path: list[Any]) -> str:
    """A finding's path in a few words: feeding devices counted by role, then the rest.
    Untrusted labels are cleaned: the result is one safe line."""
    stages: dict[int, list[dict[str, Any]]] = {}
    for item in path:
        if isinstance(item, dict):
            stages.setdefault(int(item.get("stage", 0)), []).append(item)
    words = []
    for _stage, items in sorted(stages.items()):
        if len(items) == 1:
            it = items[0]
            words.append(display(it.get("label") or it.get("ip") or it.get("key") or ""))
        else:
            roles: dict[str, int] = {}
            for it in items:
                role = display(it.get("role") or "device", 40)
                roles[role] = roles.get(role, 0) + 1
            words.append(_(", ").join(_count_role(n, r) for r, n in sorted(roles.items())))
    return " → ".join(words)


def _count_role(n: int, role: str) -> str:
    """ "3 cameras": a count of devices of one role, in the current language."""
    word = i18n.term("role", role)
    if i18n.current() == "en":
        return f"{n} {word}{'s' if n > 1 else ''}"
    return i18n.ngettext("{n} {role}", "{n} {role}", n).format(n=n, role=word)


def finding_ref(f: Finding, most: int = 5) -> str:
    """The finding's ID and its first evidence frames per file, so ``netscan evidence`` can
    be run without opening the JSON. One safe line."""
    frames: dict[str, list[int]] = {}
    for e in f.evidence:
        if isinstance(e, dict) and isinstance(e.get("frame"), int):
            frames.setdefault(str(e.get("file", "")), []).append(int(e["frame"]))
    parts = []
    for file, fs in list(frames.items())[:3]:
        uniq = sorted(set(fs))
        more = _(" (+{n} more)").format(n=len(uniq) - most) if len(uniq) > most else ""
        parts.append(_("{file} frame(s) {frames}").format(
            file=display(file.rsplit('/', 1)[-1], 60),
            frames=", ".join(map(str, uniq[:most]))) + more)  # fmt: skip
    ev = _("; ").join(parts) if parts else _("no frames recorded")
    return _("id {id}, evidence: {evidence}").format(id=display(f.id or "?", 24), evidence=ev)


def print_summary(result: Result, console: Console | None = None) -> None:
    """The summary on the terminal. Every value is a plain ``Text`` (never markup) made of
    cleaned lines: a device cannot style, link, move the cursor or forge lines here."""
    console = console or _console()
    # the lines above the tables, printed at once (one print per line costs a tenth of a
    # millisecond each: layout options, rendering, a write)
    lines: list[Text] = []
    out = lines.append
    inv = result.inventory
    pkts = sum(i.packets for i in result.inputs)
    pack = result.pack
    out(
        assemble(
            ("netscan", "bold"),
            " " + _("analysed {files} file(s), {packets} packets; premises {premises}; "
                    "signatures ").format(files=i18n.number(len(result.inputs)),
                                          packets=i18n.number(pkts),
                                          premises=", ".join(inv.premises.cidrs)),
            (pack.get("commit") or _("bundled"), ""),
            " " + _("({count} entries)").format(count=i18n.number(pack.get("count", 0))),
        )
    )  # fmt: skip
    inference = getattr(inv.premises, "inference", None)
    if inference is not None and inference.applied:
        for r in inference.ranges[:8]:
            why = reasons.sentences(r.reasons[:1], r.reason_parts[:1])
            sources = ", ".join(i18n.term("source", s) for s in r.sources)
            out(
                assemble(
                    (_("premises inferred from the link: "), "bold"),
                    display(r.range, 50),
                    f" ({display(sources, 60)}): ",
                    display(why[0] if why else "", 200),
                )
            )
        if len(inference.ranges) > 8:
            more = _("… and {n} more inferred ranges (see the report)")
            out(Text(more.format(n=i18n.number(len(inference.ranges) - 8))))
    if result.findings:
        out(Text(_("Face data leaving the premises"), style="bold"))
        for f in result.findings:
            d = f.destination
            dest = join(d.names[:2]) or display(d.ip or _("unknown"))
            where = display(d.ip_country or "?", 8)
            if d.operator_country and d.operator_country != d.ip_country:
                where += _(", operator {country}").format(country=display(d.operator_country, 8))
            level = f.level.value
            word = i18n.term("level", level)
            shown = word.upper() if i18n.current() == "en" else word
            pad = 9 - sum(2 if ord(c) > 0x2E80 else 1 for c in shown)  # CJK: two columns
            line = assemble(
                (display(shown, 12) + " " * max(pad, 0), LEVEL_STYLE.get(level, "")),
                " ",
                (f.device_label or f.device_mac or "", ""),
                " " + _("→ {dest} [{where}], {size} up").format(
                    dest=dest, where=where, size=human_bytes(f.bytes_up)),
            )  # fmt: skip
            if f.cross_border:
                line.append(" ")
                line.append(_("cross-border"), style="bold")
            out(line)
            if len({p.get("stage") for p in f.path}) > 2:
                out(Text("          " + _("path: {path}").format(path=path_text(f.path))))  # fmt: skip
            out(
                Text("          ") + text(reasons.reason_text(f), "dim", TEXT_LIMIT),
            )
            missed = finding_note(f.capture_missed)
            if missed:
                out(Text("          " + missed))
            out(Text("          " + finding_ref(f)))
        out(Text())
    else:
        out(Text(_("No device was seen sending face data off-site.")))
    for note in verdict_notes(result.capture_loss, [i.statistics for i in result.inputs],
                              result.live_drops, result.tunnels,
                              result.mirrors.report()):  # fmt: skip
        out(Text(note))

    console.print(Text("\n").join(lines), highlight=False)

    keep = not console.is_terminal  # piped or redirected: an address is never split
    cols = (
        ("MAC", _("MAC")),
        ("IP", _("IP")),
        ("vendor", _("vendor")),
        ("hostname / model", _("hostname / model")),
        ("role", _("role")),
        ("conf", _("conf")),
    )
    t = SummaryTable(_("Devices on the premises"),
                     [(title, keep and col in ("MAC", "IP")) for col, title in cols])  # fmt: skip
    order = {Role.FACE_TERMINAL: 0, Role.CAMERA: 1, Role.NVR: 1, Role.DOORBELL: 1,
             Role.EDGE_SERVER: 2}  # fmt: skip
    devices = sorted(inv.devices.values(), key=lambda d: (order.get(d.role, 5), d.key))
    for d in devices:
        name = d.model or next(iter(d.hostnames), "")
        t.add_row(
            text(d.mac or d.key),
            Text(join(list(d.ips)[:2])),
            text(d.vendor or "", limit=32),
            text(name, limit=40),
            text(i18n.term("role", d.role), ROLE_STYLE.get(d.role, "")),
            Text(f"{d.role_confidence:.2f}" if d.role != Role.UNKNOWN else ""),
        )
    console.print(t)

    offsite = [c for c in result.conversations if inv.premises.is_offsite(c.peer_ip)]
    if offsite:
        offsite.sort(key=lambda c: (c.device, -c.bytes_up))
        shown = offsite[:200]
        # what the capture missed of them, when it missed some (a finding a lost segment
        # took away leaves its conversation here, with its gap)
        gaps = any(c.missed_up or c.missed_down for c in shown)
        cols = (("device", _("device")), ("destination", _("destination")), ("names", _("names")),
                ("provider", _("provider")), ("country", _("country")), ("up", _("up")),
                ("down", _("down"))) + ((("missed", _("missed")),) if gaps else ())  # fmt: skip
        t = SummaryTable(_("Off-site destinations per device"),
                         [(title, keep and col in ("device", "destination"))
                          for col, title in cols])  # fmt: skip
        for c in shown:
            ep = inv.endpoints.get(c.peer_ip)
            missed = c.missed_up + c.missed_down
            t.add_row(
                text(c.device),
                Text(f"{display(c.peer_ip)} {display(c.transport, 8)}/{display(c.port, 8)}"),
                Text(join(sorted(ep.names)[:3])) if ep else Text(""),
                text(ep.provider or "") if ep else Text(""),
                text(ep.country or "", limit=8) if ep else Text(""),
                Text(human_bytes(c.bytes_up)),
                Text(human_bytes(c.bytes_down)),
                *((Text(human_bytes(missed) if missed else "", style="yellow"),) if gaps else ()),
            )
        console.print(t)
        if len(offsite) > 200:
            console.print(Text(_("... and {n} more (see --json)").format(n=len(offsite) - 200)),
                          highlight=False)  # fmt: skip
