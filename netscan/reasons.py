"""Sentences the analysis writes about a finding, kept translatable.

The analysis builds a finding's ``reason`` in English (the JSON report's ``reason`` stays
that text). Beside it, ``reason_parts`` keeps how each sentence was made: the English
template (a message id of the catalogue, marked here with ``N_``) and its parameters.
Renderers call ``reason_text`` to show the sentences in the current language: the template
is translated, then filled with the parameters. Parameters are values from the network
(names, addresses): they are bounded with ``untrusted.display`` and the caller escapes the
whole line for its output, as for any other plain-text line, so a parameter is never read
as markup. A parameter may itself be a part (``{"msg": ..., "args": ...}``, translated the
same way) or one of netscan's vocabulary words (``{"term": "role", "value": "camera"}``).

A report whose parts are missing (written by an older netscan) or do not hold together
(an unknown template, a parameter that does not fit) is shown with its English ``reason``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netscan import i18n
from netscan.i18n import N_, _
from netscan.untrusted import NAME_LIMIT, display

if TYPE_CHECKING:
    from netscan.analysis.finding import Finding

MAX_PARTS = 16  # sentences of one reason
MAX_DEPTH = 3  # parts inside parameters inside parts

# linkscope.py: the premises inferred from the link (reasons of ranges, notes)
RA_PREFIX = N_("Router Advertisement from {sender} announces {prefix}")
RA_PREFIX_FLAGS = N_("Router Advertisement from {sender} announces {prefix} ({flags})")
DHCPV6_ASSIGNS = N_("DHCPv6 message type {type} from {sender} assigns {address}")
DHCPV6_DELEGATES = N_("DHCPv6 message type {type} from {sender} delegates {prefix}")
LOCAL_LINK = N_("frames of {ip} come straight from {mac} on the local link, not through the "
                "gateway ({gateways})")  # fmt: skip
NOTE_REJECTED = N_("announced or assigned prefixes not taken as premises (wider than /{bits} "
                   "or multicast): {prefixes}")  # fmt: skip
NOTE_DROPPED = N_("{n:,} link sightings beyond the bounds were not kept")
NOTE_LEFT_OUT = N_("{n:,} more ranges beyond the limit of {limit} were not inferred "
                   "(give --premises)")  # fmt: skip
PREMISES_TEMPLATES = frozenset({RA_PREFIX, RA_PREFIX_FLAGS, DHCPV6_ASSIGNS, DHCPV6_DELEGATES,
                                LOCAL_LINK, NOTE_REJECTED, NOTE_DROPPED, NOTE_LEFT_OUT})  # fmt: skip

# every template a reason is made of; a part naming anything else is not ours
TEMPLATES: frozenset[str] = frozenset({
    # findings.py: plaintext face content
    N_("{images} distinct picture(s) in which a face was detected"),
    N_("{templates} face template(s)"),
    N_("{first} and {second}"),
    N_("{what} sent in plaintext ({protocols}) to {dest}"),
    N_("{n} picture-sized upload burst(s) to the face-recognition cloud {dest}"),
    N_("{n} picture(s) labelled as faces by the protocol ({protocols}) sent to {dest}; "
       "the local detector did not confirm a face"),
    N_("a {role} talks to the face-recognition cloud {dest}"),
    N_("an {role} talks to the face-recognition cloud {dest}"),
    N_("a {role} sends {what} to the {where} {dest}"),
    N_("an {role} sends {what} to the {where} {dest}"),
    N_("sustained upstream media"),
    N_("repeated picture-sized uploads"),
    N_("picture uploads"),
    N_("vendor cloud"),
    N_("off-site host"),
    N_("{n} picture(s) carved from its uploads; none holds a face"),
    N_("{up:,} bytes up / {down:,} down over {seconds:.0f} s, {bursts} upload bursts "
       "({images} picture-sized)"),
    N_("fed by {n} device(s) on the premises"),
    # findings.py: encrypted 802.11
    N_("seen only as encrypted 802.11: a {role} device ({vendor}) sends a steady video-shaped "
       "upstream ({up:,} bytes over {seconds:.0f} s) through {peers}; the final destination "
       "cannot be seen, so it may leave the premises"),
    N_("camera-vendor"),
    N_("unknown vendor"),
    # facelib.py
    N_("face library held off-site: {peer} pushed {records} enrolment record(s) with "
       "{pictures} picture(s) ({faces} with a face detected) and {templates} face template(s) "
       "in plaintext ({protocols}) to this device"),
    N_("face library possibly held off-site: encrypted bulk download of {down:,} bytes "
       "(against {up:,} up) to this face terminal from {peer}"),
    # walktest.py: the walk test's verdicts
    N_("No marks yet (press m during a walk test)."),
    N_("The {n} mark(s) fall after the recorded upload bursts (the record is bounded): "
       "not judged."),
    N_("Uploads in {followed} of {k} window(s) of {window:.0f} s after marks; only {control} "
       "equally long window(s) without marks to compare with: not enough traffic to tell cause "
       "from coincidence (capture longer before or after the marks)."),
    N_("{mark_mean} per {window:.0f} s window after {k} mark(s) ({followed} with uploads, "
       "{pictures} with picture-sized bursts) against {control_mean} per window in {control} "
       "window(s) without marks ({control_followed} with uploads)"),
    N_("{detail}; {n} later mark(s) not judged (the record of upload bursts is bounded)"),
    N_("Uploads followed the marks: {detail}; probability by chance {p}."),
    N_("Uploads after the marks are not distinguishable from its normal traffic: {detail}; "
       "probability by chance {p}."),
}) | PREMISES_TEMPLATES  # fmt: skip


def part(msg: str, **args: Any) -> dict[str, Any]:
    """One sentence (or phrase) of a reason: its template and its parameters."""
    return {"msg": msg, "args": args}


def term(context: str, value: str) -> dict[str, str]:
    """A word of netscan's vocabulary as a parameter (translated with ``i18n.term``)."""
    return {"term": context, "value": value}


def with_article(template: str, word: str) -> str:
    """``template`` begins with "a {role}": the one that begins with "an" before a vowel."""
    an = word[:1] in "aeiou" or word.startswith("nvr")
    return "an" + template[1:] if an else template


def english(p: dict[str, Any]) -> str:
    """The part in English, exactly as the analysis writes it into ``reason``."""
    with i18n.use("en"):
        return _fill(p, 0, bound=False)


def join(parts: list[dict[str, Any]]) -> str:
    """The English ``reason`` of these parts."""
    with i18n.use("en"):
        return "; ".join(_fill(p, 0, bound=False) for p in parts)


class _Unfit(ValueError):
    """Parts that do not hold together."""


def _arg(value: Any, depth: int, bound: bool) -> Any:
    if isinstance(value, dict):
        if "msg" in value:
            return _fill(value, depth + 1, bound)
        if "term" in value:
            word = i18n.term(str(value.get("term")), value.get("value"))
            return display(word, NAME_LIMIT) if bound else word
        raise _Unfit("unknown parameter")
    if isinstance(value, bool) or value is None:
        raise _Unfit("unexpected parameter")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return display(value, NAME_LIMIT) if bound else value
    raise _Unfit("unexpected parameter")


def _fill(p: Any, depth: int, bound: bool) -> str:
    if depth > MAX_DEPTH or not isinstance(p, dict):
        raise _Unfit("too deep")
    msg, args = p.get("msg"), p.get("args") or {}
    if msg not in TEMPLATES or not isinstance(args, dict):
        raise _Unfit("not one of netscan's templates")
    values = {str(k): _arg(v, depth, bound) for k, v in list(args.items())[:16]}
    try:
        return _(msg).format(**values)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise _Unfit("parameters do not fit") from exc


def reason_text(f: Finding) -> str:
    """The finding's reason in the current language, as plain text for the caller to escape
    (the English ``reason`` when the parts are missing or do not hold together)."""
    fallback = f.reason
    parts = f.reason_parts
    if i18n.current() == "en" or not parts:
        return fallback
    try:
        return _("; ").join(_fill(p, 0, bound=True) for p in parts[:MAX_PARTS])
    except _Unfit:
        return fallback


def sentence_text(part: Any, fallback: str) -> str:
    """One sentence (a walk test's verdict) in the current language, as plain text for the
    caller to escape; ``fallback`` (the English original) when the part is missing or does
    not hold together."""
    if i18n.current() == "en" or not isinstance(part, dict):
        return fallback
    try:
        return _fill(part, 0, bound=True)
    except _Unfit:
        return fallback


def sentences(texts: Any, parts: Any) -> list[str]:
    """Sentences in the current language: each English text of ``texts`` with its part of
    ``parts`` (the same order; a report without parts shows the English texts)."""
    texts = [str(t) for t in texts] if isinstance(texts, list) else []
    if not isinstance(parts, list) or len(parts) != len(texts):
        parts = [None] * len(texts)
    return [sentence_text(p, t) for t, p in zip(texts, parts, strict=True)]


def premises_inference(inferred: dict[str, Any]) -> dict[str, Any]:
    """A report's ``premises_inference`` as plain-text lines in the current language, for
    the HTML and Markdown reports to escape: ``heading``, ``summary`` (origin, whether it
    was used, the gateways), ``ranges`` (range, its sources, its reasons) and ``notes``."""
    used = (_("used in this analysis") if inferred.get("applied")
            else _("not needed: nothing seen in them was off-site"))  # fmt: skip
    gateways = ", ".join(str(g) for g in inferred.get("gateways") or []) or _("none identified")
    summary = _("Origin {origin}; {used}; gateways {gateways}.").format(
        origin=i18n.term("origin", inferred.get("origin")), used=used, gateways=gateways
    )
    ranges = [
        (
            str(r.get("range") or ""),
            ", ".join(i18n.term("source", s) for s in r.get("sources") or []),
            sentences(r.get("reasons"), r.get("reason_parts")),
        )
        for r in inferred.get("ranges") or []
        if isinstance(r, dict)
    ]
    notes = [_("note: {note}").format(note=n)
             for n in sentences(inferred.get("notes"), inferred.get("note_parts"))]  # fmt: skip
    return {"heading": _("Premises inferred from the link"), "summary": summary,
            "ranges": ranges, "notes": notes}  # fmt: skip


def verdict_text(test: dict[str, Any]) -> str:
    """A walk test's verdict (a report's ``walk_test.tests[]`` item) in the current language."""
    parts = test.get("verdict_parts")
    part = parts[0] if isinstance(parts, list) and len(parts) == 1 else None
    return sentence_text(part, str(test.get("verdict") or ""))


def is_translated(f: Finding) -> bool:
    """Whether ``reason_text`` shows the parts (rather than the English original)."""
    parts = f.reason_parts
    if i18n.current() == "en" or not parts:
        return False
    try:
        for p in parts[:MAX_PARTS]:
            _fill(p, 0, bound=True)
    except _Unfit:
        return False
    return True
