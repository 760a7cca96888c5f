"""Walk tests that prove cause, not coincidence.

The auditor walks in front of a camera and marks the moment. A device whose uploads follow
the marks is only shown to react to faces when those uploads are *more* than what it sends
anyway: a terminal that uploads every two seconds "follows" any mark. So the windows after
the marks are compared with equally long windows without marks over the same capture:

* the statistic is the bytes uploaded in a window (bursts starting in it);
* the probability of the result by chance is an exact permutation test: of all ways to pick
  as many windows as there are marks from all the windows (after marks and without), how
  many give a mean at least as high as the windows after the marks did. Exact when the
  number of ways is small, else a fixed-seed Monte Carlo estimate (add-one corrected);
* beside it, a binomial test on *whether* a window has a picture-sized burst, against the
  rate of such windows without marks (the device's base rate).

A result with probability below ``ALPHA`` says the uploads followed the marks; otherwise the
device's uploads after marks are "not distinguishable from its normal traffic".
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from netscan import reasons as R
from netscan.limits import IMAGE_BURST_MAX, IMAGE_BURST_MIN

ALPHA = 0.05
EXACT_LIMIT = 50_000  # subsets enumerated exactly up to this many
SAMPLES = 20_000  # Monte Carlo draws otherwise (fixed seed: the same input, the same answer)
MIN_CONTROL = 3  # fewer windows without marks than this: not enough to judge


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    after_mark: int | None  # the mark's number, or None for a window without marks
    bytes: float
    bursts: int
    pictures: int  # picture-sized bursts


@dataclass(slots=True)
class WalkVerdict:
    marks: int
    window: float
    mark_windows: list[Window] = field(default_factory=list)
    control_windows: list[Window] = field(default_factory=list)
    p_bytes: float | None = None  # permutation test on bytes per window
    p_pictures: float | None = None  # binomial test on windows with a picture-sized burst
    method: str = ""
    significant: bool = False
    sentence: str = ""  # in English; sentence_part keeps its template and parameters
    sentence_part: dict[str, object] | None = None

    def say(self, part: dict[str, object]) -> None:
        self.sentence_part = part
        self.sentence = R.english(part)

    def text(self) -> str:
        """The verdict in the current language."""
        return R.sentence_text(self.sentence_part, self.sentence)

    @property
    def p(self) -> float | None:
        ps = [p for p in (self.p_bytes, self.p_pictures) if p is not None]
        return min(ps) if ps else None

    def as_dict(self) -> dict[str, object]:
        def w(x: Window) -> dict[str, object]:
            return {"start": x.start, "end": x.end, "after_mark": x.after_mark,
                    "bytes": x.bytes, "bursts": x.bursts, "pictures": x.pictures}  # fmt: skip

        return {
            "marks": self.marks,
            "window_seconds": self.window,
            "p_bytes": self.p_bytes,
            "p_pictures": self.p_pictures,
            "method": self.method,
            "significant": self.significant,
            "verdict": self.sentence,
            "verdict_parts": [self.sentence_part] if self.sentence_part else [],
            "mark_windows": [w(x) for x in self.mark_windows],
            "control_windows": [w(x) for x in self.control_windows],
        }


def _picture(size: float) -> bool:
    return IMAGE_BURST_MIN <= size <= IMAGE_BURST_MAX


def _window(bursts: Sequence[tuple[float, float]], start: float, end: float,
            mark: int | None) -> Window:  # fmt: skip
    inside = [b for b in bursts if start <= b[0] < end]
    return Window(start, end, mark, float(sum(b[1] for b in inside)), len(inside),
                  sum(1 for b in inside if _picture(b[1])))  # fmt: skip


def windows(marks: Sequence[tuple[int, float]], bursts: Iterable[tuple[float, float]],
            window: float, span: tuple[float, float]) -> tuple[list[Window], list[Window]]:  # fmt: skip
    """Windows after each mark, and windows of the same length without any mark, tiling the
    span (the capture's first to last packet) outside the marks' windows."""
    bs = sorted((float(s), float(n)) for s, n in bursts)
    lo, hi = span
    after = [_window(bs, t, t + window, n) for n, t in marks]
    taken = sorted((t, t + window) for _n, t in marks)
    control: list[Window] = []
    t = lo
    while t + window <= hi:
        clash = next((b for a, b in taken if a < t + window and t < b), None)
        if clash is not None:
            t = clash  # skip past a mark's window
            continue
        control.append(_window(bs, t, t + window, None))
        t += window
    return after, control


def _perm_p(mark_vals: list[float], control_vals: list[float]) -> tuple[float, str]:
    """P(mean of k windows drawn at random from all >= observed mean of the mark windows)."""
    k = len(mark_vals)
    pool = mark_vals + control_vals
    n = len(pool)
    observed = sum(mark_vals)
    eps = 1e-9 * max(1.0, abs(observed))
    total = math.comb(n, k)
    if total <= EXACT_LIMIT:
        hits = sum(1 for c in combinations(pool, k) if sum(c) >= observed - eps)
        return hits / total, f"exact permutation test over {total} window choices"
    rng = random.Random(0x6E657473)
    hits = sum(1 for _ in range(SAMPLES) if sum(rng.sample(pool, k)) >= observed - eps)
    return (hits + 1) / (SAMPLES + 1), f"permutation test, {SAMPLES} random window choices"


def _binom_tail(x: int, k: int, p0: float) -> float:
    """P(X >= x) for X ~ Binomial(k, p0)."""
    if x <= 0:
        return 1.0
    if p0 <= 0.0:
        return 0.0
    if p0 >= 1.0:
        return 1.0
    return min(1.0, sum(math.comb(k, i) * p0**i * (1 - p0) ** (k - i) for i in range(x, k + 1)))


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def judge(marks: Sequence[tuple[int, float]], bursts: Iterable[tuple[float, float]],
          window: float, span: tuple[float, float], alpha: float = ALPHA,
          truncated: bool = False) -> WalkVerdict:  # fmt: skip
    """Judge ``marks`` ((number, capture time) pairs) against a device's upload ``bursts``
    ((start, bytes) pairs) over the capture ``span``, with windows of ``window`` seconds.

    ``truncated``: the burst list was cut at its bound, so only the time up to its last
    burst is known; marks after that are left unjudged (and said so)."""
    v = WalkVerdict(marks=len(marks), window=window)
    if not marks:
        v.say(R.part("No marks yet (press m during a walk test)."))
        return v
    bursts = list(bursts)
    unjudged = 0
    if truncated and bursts:
        known = max(b[0] for b in bursts)
        span = (span[0], min(span[1], known))
        kept = [m for m in marks if m[1] + window <= known]
        unjudged = len(marks) - len(kept)
        marks = kept
        if not marks:
            v.say(R.part("The {n} mark(s) fall after the recorded upload bursts (the record "
                         "is bounded): not judged.", n=unjudged))  # fmt: skip
            return v
    after, control = windows(marks, bursts, window, span)
    v.mark_windows, v.control_windows = after, control
    k = len(after)
    followed = sum(1 for w in after if w.bursts)
    mark_mean = sum(w.bytes for w in after) / k
    if len(control) < MIN_CONTROL:
        v.say(R.part(
            "Uploads in {followed} of {k} window(s) of {window:.0f} s after marks; only "
            "{control} equally long window(s) without marks to compare with: not enough "
            "traffic to tell cause from coincidence (capture longer before or after the marks).",
            followed=followed, k=k, window=window, control=len(control)))  # fmt: skip
        return v
    ctl_mean = sum(w.bytes for w in control) / len(control)
    v.p_bytes, v.method = _perm_p([w.bytes for w in after], [w.bytes for w in control])
    pic_after = sum(1 for w in after if w.pictures)
    if pic_after:
        base = sum(1 for w in control if w.pictures) / len(control)
        v.p_pictures = _binom_tail(pic_after, k, base)
        v.method += "; binomial test on windows with a picture-sized burst"
    v.significant = v.p is not None and v.p < alpha and mark_mean > ctl_mean
    ctl_any = sum(1 for w in control if w.bursts)
    detail = R.part(
        "{mark_mean} per {window:.0f} s window after {k} mark(s) ({followed} with uploads, "
        "{pictures} with picture-sized bursts) against {control_mean} per window in {control} "
        "window(s) without marks ({control_followed} with uploads)",
        mark_mean=_bytes(mark_mean),
        window=window,
        k=k,
        followed=followed,
        pictures=pic_after,
        control_mean=_bytes(ctl_mean),
        control=len(control),
        control_followed=ctl_any,
    )
    assert v.p is not None
    if unjudged:
        detail = R.part("{detail}; {n} later mark(s) not judged (the record of upload bursts is "
                        "bounded)", detail=detail, n=unjudged)  # fmt: skip
    if v.significant:
        v.say(R.part("Uploads followed the marks: {detail}; probability by chance {p}.",
                     detail=detail, p=_fmt_p(v.p)))  # fmt: skip
    else:
        v.say(R.part("Uploads after the marks are not distinguishable from its normal traffic: "
                     "{detail}; probability by chance {p}.", detail=detail, p=_fmt_p(v.p)))  # fmt: skip
    return v
