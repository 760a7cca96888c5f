"""The walk test in the reports: each device's verdict with its marks and windows.

The auditor marks moments during a walk test (``m`` in the TUI, which writes them beside its
report as ``….marks.json``; ``netscan analyze --marks FILE`` reads that file back). Every
device that uploads off-site is judged against its own base rate
(:mod:`netscan.analysis.walktest`), and the report carries, under ``walk_test``, the marks,
the verdict per device, the windows after marks and without marks, and the device's uploads
over time in bins. The HTML report draws that as a timeline picture (inline SVG, nothing
external); the Markdown report writes the same as text.

Everything here is bounded: marks (``MAX_MARKS``), devices judged (``MAX_DEVICES``, what was
left out is counted) and timeline bins (``BINS``).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from netscan import reasons, untrusted
from netscan.analysis.finding import Finding, report_findings
from netscan.analysis.walktest import judge
from netscan.i18n import _
from netscan.inventory.model import Role
from netscan.limits import IMAGE_BURST_MAX, IMAGE_BURST_MIN

MAX_MARKS = 200
MAX_DEVICES = 12
BINS = 120
MAX_DRAWN_WINDOWS = 400  # windows without marks drawn one by one up to this many
MAX_TEXT_WINDOWS = 600  # windows written in the Markdown text timeline
MAX_MARKS_FILE = 4 << 20  # bytes: a marks file is small; a bigger one is not a marks file
DEFAULT_WINDOW = 30.0  # the TUI's default window after a mark

Mark = tuple[int, float, str]  # number, capture time, note


class MarksError(ValueError):
    """A marks file that cannot be read: a one-line reason."""


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise MarksError(f"{what} is not a number")
    return float(v)


def read_marks(path: str | Path) -> tuple[list[Mark], float | None]:
    """Marks from a file: the TUI's ``….marks.json`` (``{"window_seconds": …, "marks":
    [{"number", "capture_ts", "note"}, …]}``) or a plain JSON list of capture times (seconds
    since the epoch, as the capture's clock). Returns the marks and the window, if given."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_MARKS_FILE + 1)
    except OSError as exc:
        raise MarksError(f"{untrusted.display(str(p))}: {exc.strerror or exc}") from None
    if len(raw) > MAX_MARKS_FILE:
        raise MarksError(f"{untrusted.display(str(p))}: larger than {MAX_MARKS_FILE} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MarksError(f"{untrusted.display(str(p))}: not a JSON marks file") from None
    window = None
    items = doc
    if isinstance(doc, dict):
        if "window_seconds" in doc:
            window = _number(doc["window_seconds"], "window_seconds")
            if window <= 0:
                raise MarksError("window_seconds must be positive")
        items = doc.get("marks")
    if not isinstance(items, list):
        raise MarksError(f"{untrusted.display(str(p))}: no list of marks")
    if len(items) > MAX_MARKS:
        raise MarksError(f"{untrusted.display(str(p))}: more than {MAX_MARKS} marks")
    marks: list[Mark] = []
    for i, item in enumerate(items, 1):
        if isinstance(item, dict):
            ts = _number(item.get("capture_ts"), f"mark {i}: capture_ts")
            num = item.get("number", i)
            number = int(_number(num, f"mark {i}: number"))
            note = str(item.get("note") or "")[:200]
        else:
            ts, number, note = _number(item, f"mark {i}"), i, ""
        marks.append((number, ts, note))
    marks.sort(key=lambda m: m[1])
    return marks, window


def _offsite_bursts(result: Any) -> tuple[dict[str, list[tuple[float, float]]], set[str]]:
    """Upload bursts (start, bytes) of every premises device towards off-site hosts, and the
    devices whose record of bursts reached its bound."""
    from netscan.inventory.inventory import MAX_CONV_BURSTS

    premises = result.inventory.premises
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    truncated: set[str] = set()
    for c in result.conversations:
        if c.peer_device is not None or not c.bursts or not premises.is_offsite(c.peer_ip):
            continue
        out[c.device].extend((float(b[0]), float(b[2])) for b in c.bursts)
        if len(c.bursts) >= MAX_CONV_BURSTS:
            truncated.add(c.device)
    return out, truncated


def _timeline(bursts: list[tuple[float, float]], span: tuple[float, float]) -> dict[str, Any]:
    lo, hi = span
    width = max(hi - lo, 1e-6) / BINS
    up = [0.0] * BINS
    pics = [0] * BINS
    for start, size in bursts:
        if not lo <= start <= hi:
            continue
        i = min(BINS - 1, int((start - lo) / width))
        up[i] += size
        if IMAGE_BURST_MIN <= size <= IMAGE_BURST_MAX:
            pics[i] += 1
    return {"start": lo, "end": hi, "bin_seconds": width, "bytes": [round(x) for x in up],
            "pictures": pics}  # fmt: skip


def build(result: Any, marks: list[Mark], window: float, findings: list[Finding]) -> dict[str, Any]:
    """The ``walk_test`` section of the JSON report."""
    firsts = [i.first_ts for i in result.inputs if i.first_ts is not None]
    lasts = [i.last_ts for i in result.inputs if i.last_ts is not None]
    marks = marks[:MAX_MARKS]
    section: dict[str, Any] = {
        "window_seconds": window,
        "marks": [{"number": n, "capture_ts": t, "note": note} for n, t, note in marks],
        "span": [min(firsts), max(lasts)] if firsts and lasts else None,
        "devices": [],
        "devices_not_judged": 0,
    }
    if section["span"] is None:
        return section
    span = (float(section["span"][0]), float(section["span"][1]))
    bursts, truncated = _offsite_bursts(result)
    labels = {f.device: f.device_label for f in findings if f.device}
    levels: dict[str, int] = defaultdict(int)
    for f in findings:
        levels[f.device] = max(levels[f.device], f.level.rank)
    # devices on a finding first (worst first), then the other uploaders by bytes
    order = sorted(bursts, key=lambda d: (-levels.get(d, 0), -sum(s for _t, s in bursts[d]), d))
    section["devices_not_judged"] = max(0, len(order) - MAX_DEVICES)
    judged_marks = [(n, t) for n, t, _note in marks]
    for dkey in order[:MAX_DEVICES]:
        dev = result.inventory.devices.get(dkey)
        verdict = judge(judged_marks, bursts[dkey], window, span, truncated=dkey in truncated)
        label = labels.get(dkey) or (getattr(dev, "name", None) if dev else None) or dkey
        section["devices"].append({
            "device": dkey,
            "device_label": label,
            "device_role": getattr(dev, "role", None) or Role.UNKNOWN.value,
            **verdict.as_dict(),
            "timeline": _timeline(bursts[dkey], span),
        })  # fmt: skip
    return section


def attach(report: dict[str, Any], result: Any, marks: list[Mark], window: float) -> None:
    """Add the ``walk_test`` section to a built report (only when there are marks)."""
    if marks:
        report["walk_test"] = build(result, marks, window, report_findings(report))


# -- rendering ------------------------------------------------------------------------------

MARK_COLOUR = "#c25e00"
CONTROL_COLOUR = "#9e9e9e"
UPLOAD_COLOUR = "#1f4e79"
PICTURE_COLOUR = "#b3261e"
SVG_W, SVG_H = 1000, 190
PAD_L, PAD_R, TOP, AXIS = 56, 16, 26, 150  # plot spans x PAD_L..SVG_W-PAD_R, y TOP..AXIS


def _tick_step(seconds: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200):
        if seconds / step <= 10:
            return float(step)
    return 86400.0 * max(1, math.ceil(seconds / 86400 / 10))


def _tick_label(s: float) -> str:
    """Time since the capture's start: m:ss, or h:mm from an hour on."""
    whole = int(round(s))
    if whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d} h"
    return f"{whole // 60}:{whole % 60:02d}"


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def timeline_svg(test: dict[str, Any], section: dict[str, Any]) -> str:
    """One device's walk test as a picture: its uploads over time (bars, picture-sized bursts
    in red), the windows after each mark (orange, numbered) and the equally long windows
    without marks it was compared with (grey), and the verdict as the picture's title."""
    e = untrusted.html
    tl = test.get("timeline") or {}
    lo, hi = float(tl.get("start", 0.0)), float(tl.get("end", 1.0))
    length = max(hi - lo, 1e-6)
    plot_w = SVG_W - PAD_L - PAD_R

    def x(t: float) -> float:
        return PAD_L + max(0.0, min(1.0, (t - lo) / length)) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="walk" viewBox="0 0 {SVG_W} {SVG_H}" '
        f'width="100%" role="img" aria-label="{e("walk test timeline: " + reasons.verdict_text(test))}">',
        f"<title>{e(reasons.verdict_text(test))}</title>",
        f'<rect x="{PAD_L}" y="{TOP}" width="{plot_w}" height="{AXIS - TOP}" fill="#fff" '
        'stroke="#ccc"/>',
    ]
    controls = test.get("control_windows") or []
    if len(controls) > MAX_DRAWN_WINDOWS:  # finer than the picture: one band for them all
        out.append(f'<rect class="control" x="{PAD_L}" y="{TOP}" width="{plot_w}" '
                   f'height="{AXIS - TOP}" fill="#f3f3f3"/>')  # fmt: skip
        controls = []
    for w in controls:
        x0, x1 = x(float(w["start"])), x(float(w["end"]))
        fill = "#e0e0e0" if w.get("bursts") else "#f3f3f3"
        out.append(f'<rect class="control" x="{_fmt(x0)}" y="{TOP}" width="{_fmt(max(x1 - x0, 0.5))}" '
                   f'height="{AXIS - TOP}" fill="{fill}" stroke="{CONTROL_COLOUR}" '
                   'stroke-width="0.4"/>')  # fmt: skip
    for w in test.get("mark_windows") or []:
        x0, x1 = x(float(w["start"])), x(float(w["end"]))
        out.append(f'<rect class="mark-window" x="{_fmt(x0)}" y="{TOP}" '
                   f'width="{_fmt(max(x1 - x0, 1.0))}" height="{AXIS - TOP}" fill="{MARK_COLOUR}" '
                   'fill-opacity="0.28" stroke="#c25e00" stroke-width="0.8"/>')  # fmt: skip
    ups = [float(v) for v in tl.get("bytes") or []]
    pics = [int(v) for v in tl.get("pictures") or []]
    top = max(ups, default=0.0)
    n = len(ups)
    if n and top > 0:
        bw = plot_w / n
        for i, v in enumerate(ups):
            if v <= 0:
                continue
            h = max(1.5, (AXIS - TOP - 4) * math.sqrt(v / top))
            colour = PICTURE_COLOUR if i < len(pics) and pics[i] else UPLOAD_COLOUR
            out.append(f'<rect class="upload" x="{_fmt(PAD_L + i * bw + 0.5)}" y="{_fmt(AXIS - h)}" '
                       f'width="{_fmt(max(bw - 1.0, 0.8))}" height="{_fmt(h)}" fill="{colour}"/>')  # fmt: skip
    # marks: a line at the moment, numbered
    for m in section.get("marks") or []:
        t = float(m["capture_ts"])
        if not lo <= t <= hi:
            continue
        mx = x(t)
        out.append(f'<line class="mark" x1="{_fmt(mx)}" y1="{TOP - 4}" x2="{_fmt(mx)}" '
                   f'y2="{AXIS}" stroke="{MARK_COLOUR}" stroke-width="2"/>')  # fmt: skip
        out.append(f'<text x="{_fmt(mx)}" y="{TOP - 8}" text-anchor="middle" '
                   f'fill="{MARK_COLOUR}">#{int(m["number"])}</text>')  # fmt: skip
    # axis
    step = _tick_step(length)
    k = 0
    while k * step <= length + 1e-9 and k <= 200:
        tx = x(lo + k * step)
        out.append(f'<line x1="{_fmt(tx)}" y1="{AXIS}" x2="{_fmt(tx)}" y2="{AXIS + 4}" '
                   'stroke="#555"/>')  # fmt: skip
        out.append(f'<text x="{_fmt(tx)}" y="{AXIS + 16}" text-anchor="middle" fill="#555">'
                   f"{_tick_label(k * step)}</text>")  # fmt: skip
        k += 1
    out.append(f'<text x="{PAD_L - 6}" y="{TOP + 10}" text-anchor="end" fill="#555">'
               f"{e(_bytes(top))}</text>")  # fmt: skip
    out.append(f'<text x="{PAD_L - 6}" y="{AXIS}" text-anchor="end" fill="#555">0</text>')
    axis = _("time since the capture's first packet ({unit})").format(
        unit="h:min" if length >= 3600 else "min:s"
    )
    out.append(f'<text x="{SVG_W - PAD_R}" y="{SVG_H - 4}" text-anchor="end" fill="#555">'
               f"{e(axis)}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _p(v: Any) -> str:
    if v is None:
        return "—"
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _summary(test: dict[str, Any]) -> tuple[str, str]:
    """(windows after marks, windows without marks) in words."""

    def words(ws: list[dict[str, Any]]) -> str:
        if not ws:
            return _("none")
        mean = sum(float(w["bytes"]) for w in ws) / len(ws)
        up = sum(1 for w in ws if w.get("bursts"))
        pics = sum(1 for w in ws if w.get("pictures"))
        return _(
            "{n} window(s), {mean} on average, {up} with uploads, {pics} with picture-sized bursts"
        ).format(n=len(ws), mean=_bytes(mean), up=up, pics=pics)

    return words(test.get("mark_windows") or []), words(test.get("control_windows") or [])


def html_legend() -> str:
    """The timeline's legend, in the current language."""
    e = untrusted.html
    return (
        "<p class='legend small'>"
        f"<span style='color:{MARK_COLOUR}'>■ "
        f"{e(_('window after a mark (numbered line: the mark)'))}</span>"
        f"<span style='color:{CONTROL_COLOUR}'>□ {e(_('equally long window without marks'))}</span>"
        f"<span style='color:{UPLOAD_COLOUR}'>■ {e(_('uploads off-site'))}</span>"
        f"<span style='color:{PICTURE_COLOUR}'>■ {e(_('with a picture-sized burst'))}</span></p>"
    )  # fmt: skip


def html(report: dict[str, Any]) -> str:
    """The walk-test section of the HTML report ('' without marks)."""
    sec = report.get("walk_test")
    if not isinstance(sec, dict):
        return ""
    e = untrusted.html
    window = float(sec.get("window_seconds") or 0.0)
    marks = sec.get("marks") or []
    intro = _("{n} mark(s); each judged over the {seconds} s after it against equally long "
              "windows without marks on the same device (its base rate).").format(
        n=len(marks), seconds=f"{window:.0f}")  # fmt: skip
    out = [f"<h2>{e(_('Walk test'))}</h2>", f"<p>{e(intro)}</p>"]
    if marks:
        out.append("<ul class='small'>" + "".join(
            "<li>" + e(_("#{n} at {when}").format(n=int(m["number"]), when=_iso(m["capture_ts"])))
            + (f": {e(m['note'])}" if m.get("note") else "") + "</li>" for m in marks
        ) + "</ul>")  # fmt: skip
    tests = sec.get("devices") or []
    if not tests:
        out.append(
            f"<p>{e(_('No device uploaded off-site during the capture: nothing to judge.'))}</p>"
        )
    else:
        out.append(html_legend())
    for t in tests:
        cls = "walk-yes" if t.get("significant") else "walk-no"
        after, control = _summary(t)
        out.append(
            f"<div class='finding walktest {cls}'><h3>{e(t.get('device_label'))} "
            f"<span class='small mono'>{e(t.get('device'))}</span></h3>"
            f"<p class='walk-verdict'><b>{e(reasons.verdict_text(t))}</b></p>"
            + timeline_svg(t, sec)
            + _kv_html(
                [
                    (e(_("After marks")), e(after)),
                    (e(_("Without marks")), e(control)),
                    (
                        e(_("Probability by chance")),
                        e(
                            _("bytes {p_bytes}, picture-sized bursts {p_pictures}").format(
                                p_bytes=_p(t.get("p_bytes")), p_pictures=_p(t.get("p_pictures"))
                            )
                        ),
                    ),
                    (e(_("Method")), e(t.get("method") or _("not judged"))),
                ]
            )
            + "</div>"  # fmt: skip
        )
    if sec.get("devices_not_judged"):
        more = _("{n} more device(s) uploading off-site were not judged (at most {most}).").format(
            n=int(sec["devices_not_judged"]), most=MAX_DEVICES
        )
        out.append(f"<p class='small'>{e(more)}</p>")
    return "\n".join(out)


def _kv_html(rows: list[tuple[str, str]]) -> str:
    return "<div class='kv'>" + "".join(f"<div>{k}</div><div>{v}</div>" for k, v in rows) + "</div>"


def _iso(ts: Any) -> str:
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(float(ts), dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def text_timeline(test: dict[str, Any]) -> str:
    """The windows in time order, one character each: the mark's number (last digit) for a
    window after a mark, then for windows without marks '.' (nothing), '-' (uploads) or
    '*' (a picture-sized burst). Marks windows are bracketed."""
    ws = [(float(w["start"]), w) for w in (test.get("mark_windows") or [])]
    ws += [(float(w["start"]), w) for w in (test.get("control_windows") or [])]
    out = []
    ws.sort(key=lambda x: x[0])
    for _s, w in ws[:MAX_TEXT_WINDOWS]:
        if w.get("after_mark") is not None:
            sign = "*" if w.get("pictures") else "-" if w.get("bursts") else "."
            out.append(f"[{int(w['after_mark'])}{sign}]")
        else:
            out.append("*" if w.get("pictures") else "-" if w.get("bursts") else ".")
    if len(ws) > MAX_TEXT_WINDOWS:
        out.append(f" … {len(ws) - MAX_TEXT_WINDOWS} more window(s)")
    return "".join(out)


def markdown(report: dict[str, Any]) -> list[str]:
    """The walk-test section of the Markdown report (no lines without marks)."""
    sec = report.get("walk_test")
    if not isinstance(sec, dict):
        return []
    m = untrusted.markdown
    window = float(sec.get("window_seconds") or 0.0)
    marks = sec.get("marks") or []
    intro = _("{n} mark(s); each judged over the {seconds} s after it against equally long "
              "windows without marks on the same device (its base rate).").format(
        n=len(marks), seconds=f"{window:.0f}")  # fmt: skip
    lines = ["", f"## {_('Walk test')}", "",
             intro + " " + _("The HTML report draws each device's timeline; here it is as "
                             "text."), ""]  # fmt: skip
    for mk in marks:
        note = f": {m(mk['note'])}" if mk.get("note") else ""
        lines.append(
            "- "
            + _("Mark #{n} at {when}").format(n=int(mk["number"]), when=m(_iso(mk["capture_ts"])))
            + note
        )
    for t in sec.get("devices") or []:
        after, control = _summary(t)
        lines += [
            "",
            f"### {m(t.get('device_label'))} ({m(t.get('device'))})",
            "",
            f"**{m(reasons.verdict_text(t))}**",
            "",
            f"- {_('After marks')}{_(': ')}{after}",
            f"- {_('Without marks')}{_(': ')}{control}",
            f"- {_('Probability by chance')}{_(': ')}"
            + _("bytes {p_bytes}, picture-sized bursts {p_pictures}").format(
                p_bytes=_p(t.get("p_bytes")), p_pictures=_p(t.get("p_pictures"))
            )
            + f" ({m(t.get('method') or _('not judged'))})",
            "",
            _(
                "Timeline of windows (`[n…]` after mark n, `.` no upload, `-` uploads, `*` a "
                "picture-sized burst):"
            ),
            "",
            "```",
            text_timeline(t),
            "```",
        ]
    if not sec.get("devices"):
        lines += ["", _("No device uploaded off-site during the capture: nothing to judge.")]
    if sec.get("devices_not_judged"):
        lines += ["", _("{n} more device(s) uploading off-site were not judged (at most "
                        "{most}).").format(n=int(sec["devices_not_judged"]), most=MAX_DEVICES)]  # fmt: skip
    return lines
