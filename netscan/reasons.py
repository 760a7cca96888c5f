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

# inventory.py: the evidence lines of devices and off-site endpoints
EV_HIT = N_("{field} {value} matches {signature}")
EV_HIT_PROTOCOL = N_("{field} {value} matches {signature} ({protocol})")
EV_HIT_IMAGE = N_("{field} {value} matches {signature} (image in {image})")
EV_HIT_PROTOCOL_IMAGE = N_("{field} {value} matches {signature} ({protocol}; image in {image})")
EV_PORT_ONLY = N_("{field} {value} is a port of {signature} (a port alone is not enough)")
EV_NAME_HOSTNAME = N_("{protocol} hostname {name}")
EV_MDNS_TXT = N_("mDNS TXT {key}={value}")
EV_NETBIOS = N_("NetBIOS name {name}")
EV_DHCP_HOSTNAME = N_("DHCP hostname {name}")
EV_DHCP_VENDOR_CLASS = N_("DHCP vendor class {value}")
EV_HTTP_BANNER = N_("HTTP server banner {server}")
EV_RTSP = N_("RTSP server")
EV_RTSP_SERVER = N_("RTSP server {server}")
EV_RTSP_REALM = N_("RTSP server realm {realm}")
EV_RTSP_SERVER_REALM = N_("RTSP server {server} realm {realm}")
EV_SSDP = N_("SSDP server {server}")
EV_WSD = N_("WS-Discovery {action} types {types}")
EV_DISCOVERY = N_("{protocol} discovery answer")
EV_DISCOVERY_MODEL = N_("{protocol} discovery answer model {model}")
# findings.py and facelib.py: the evidence lines of a finding
EV_DEVICE = N_("device: {what}")
EV_DESTINATION = N_("destination: {what}")
EV_FIRST_PACKET = N_("first packet of {transport}/{port} to {peer}: {up:,} bytes up")
EV_PICTURE_BURSTS = N_("{n} picture-sized upload bursts from {start} to {end}, largest "
                       "{largest:,} bytes")  # fmt: skip
EV_FEEDER = N_("feeder {key}: {how}")
EV_STREAMS = N_("streams {protocol} ({bytes:,} bytes)")
EV_SENDS_FACES = N_("sends face data ({protocol})")
EV_BODY = N_("{request}: {what} ({size:,} bytes, {dims}, {faces}, sha256 {sha256})")
EV_BODY_TEMPLATE = N_("{request}: {what} ({size:,} bytes)")
EV_HEAD_LOST = N_("a request whose head was not captured")
EV_DIMS = N_("{width}x{height}")
EV_UNDECODABLE = N_("undecodable")
EV_NESTED = N_("undecodable; the picture nested at byte {offset:,} is {width}x{height}")
EV_DIMS_CUT = N_("{width}x{height}, cut short")
EV_UNDECODABLE_CUT = N_("undecodable, cut short")
EV_NO_DETECTOR = N_("detector unavailable")
EV_FACES = N_("{n} face(s) detected")
EV_NOT_DECODED = N_("not decoded: {why}")
EV_WLAN_FRAME = N_("first encrypted 802.11 frame {device} → {peer}: {up:,} bytes up in "
                   "{packets} frames over {seconds:.0f} s")  # fmt: skip
EV_LIBRARY_PUSH = N_("{what}: {records} record(s), {pictures} picture(s), {templates} face "
                     "template(s) pushed by {peer}")  # fmt: skip
EV_LIBRARY_BULK = N_("encrypted {transport}/{port} from {peer}: {down:,} bytes down, {up:,} up")
EVIDENCE_TEMPLATES = frozenset({
    EV_HIT, EV_HIT_PROTOCOL, EV_HIT_IMAGE, EV_HIT_PROTOCOL_IMAGE, EV_PORT_ONLY,
    EV_NAME_HOSTNAME, EV_MDNS_TXT, EV_NETBIOS, EV_DHCP_HOSTNAME, EV_DHCP_VENDOR_CLASS,
    EV_HTTP_BANNER, EV_RTSP, EV_RTSP_SERVER, EV_RTSP_REALM, EV_RTSP_SERVER_REALM, EV_SSDP,
    EV_WSD, EV_DISCOVERY, EV_DISCOVERY_MODEL, EV_DEVICE, EV_DESTINATION, EV_FIRST_PACKET,
    EV_PICTURE_BURSTS, EV_FEEDER, EV_STREAMS, EV_SENDS_FACES, EV_BODY, EV_BODY_TEMPLATE,
    EV_HEAD_LOST, EV_DIMS, EV_UNDECODABLE, EV_NESTED, EV_DIMS_CUT, EV_UNDECODABLE_CUT,
    EV_NO_DETECTOR, EV_FACES, EV_NOT_DECODED, EV_WLAN_FRAME, EV_LIBRARY_PUSH, EV_LIBRARY_BULK,
})  # fmt: skip

# roles.py and inventory.py: why a device has its role (a device's role_reasons)
ROLE_SIGNATURE = N_("signature {signature}")
ROLE_ONVIF_TRANSMITTER = N_("answers ONVIF discovery as a NetworkVideoTransmitter")
ROLE_ONVIF_RECORDER = N_("answers ONVIF discovery as a NetworkVideoRecorder")
ROLE_RULE = N_("{what} ({rule})")
ROLE_POSTS = N_("posts {name}")
ROLE_FACT = N_("{field} {value}")  # a fact of a field without a sentence of its own
# the facts a rule weighs (roles.facts), by pack field
ROLE_FIELDS: dict[str, str] = {
    "hostname": N_("hostname {value}"),
    "mdns_service": N_("mdns service {value}"),
    "mdns_model": N_("mdns model {value}"),
    "dhcp_vendor_class": N_("dhcp vendor class {value}"),
    "dhcp_prl": N_("dhcp prl {value}"),
    "http_server": N_("http server {value}"),
    "rtsp_server": N_("rtsp server {value}"),
    "rtsp_realm": N_("rtsp realm {value}"),
    "http_user_agent": N_("http user agent {value}"),
    "dns_name": N_("dns name {value}"),
    "http_path_prefix": N_("http path prefix {value}"),
    "oui_vendor": N_("oui vendor {value}"),
    "device_role": N_("device role {value}"),
}
# the behaviours roles.py measures
BEH_CLOUD_UPLOAD = N_("uploads {bytes:,} bytes to the camera cloud {provider}")
BEH_STREAMS = N_("sends a sustained media stream to a local device")
BEH_RECORDS = N_("receives media streams from {n} local devices")
BEH_RECORDS_UPLOADS = N_("receives media streams from {n} local devices and sends {bytes:,} "
                         "bytes off-site")  # fmt: skip
BEH_FORWARDS_ONE = N_("forwards traffic for {n} off-site address")
BEH_FORWARDS = N_("forwards traffic for {n} off-site addresses")
BEH_FORWARDS_ONE_DNS = N_("forwards traffic for {n} off-site address and answers DNS")
BEH_FORWARDS_DNS = N_("forwards traffic for {n} off-site addresses and answers DNS")
BEH_ROUTER_ADVERTS = N_("sends IPv6 Router Advertisements (frame {frame})")
BEH_WLAN_VIDEO = N_("a steady video-shaped 802.11 upstream")
BEH_SERVES_RTSP = N_("serves RTSP on {services}")
BEH_PRIVATE_MAC = N_("a private (locally administered) MAC address")
ROLE_TEMPLATES = frozenset({
    ROLE_SIGNATURE, ROLE_ONVIF_TRANSMITTER, ROLE_ONVIF_RECORDER, ROLE_RULE, ROLE_POSTS,
    ROLE_FACT, *ROLE_FIELDS.values(), BEH_CLOUD_UPLOAD, BEH_STREAMS, BEH_RECORDS,
    BEH_RECORDS_UPLOADS, BEH_FORWARDS_ONE, BEH_FORWARDS, BEH_FORWARDS_ONE_DNS, BEH_FORWARDS_DNS,
    BEH_ROUTER_ADVERTS, BEH_WLAN_VIDEO, BEH_SERVES_RTSP, BEH_PRIVATE_MAC,
})  # fmt: skip

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
}) | PREMISES_TEMPLATES | EVIDENCE_TEMPLATES | ROLE_TEMPLATES  # fmt: skip


def part(msg: str, **args: Any) -> dict[str, Any]:
    """One sentence (or phrase) of a reason: its template and its parameters."""
    return {"msg": msg, "args": args}


def term(context: str, value: str) -> dict[str, str]:
    """A word of netscan's vocabulary as a parameter (translated with ``i18n.term``)."""
    return {"term": context, "value": value}


def phrase(msg: str, **args: Any) -> tuple[str, dict[str, Any]]:
    """A part and its English text (as ``english`` makes it): what the inventory and the
    analysis record beside each other (an evidence line, a role reason)."""
    p = part(msg, **args)
    return english(p), p


def with_article(template: str, word: str) -> str:
    """``template`` begins with "a {role}": the one that begins with "an" before a vowel."""
    an = word[:1] in "aeiou" or word.startswith("nvr")
    return "an" + template[1:] if an else template


def english(p: dict[str, Any]) -> str:
    """The part in English, exactly as the analysis writes it into ``reason``."""
    return _fill(p, 0, english=True)


def join(parts: list[dict[str, Any]]) -> str:
    """The English ``reason`` of these parts."""
    return "; ".join(_fill(p, 0, english=True) for p in parts)


class _Unfit(ValueError):
    """Parts that do not hold together."""


def _arg(value: Any, depth: int, english: bool) -> Any:
    if isinstance(value, dict):
        if "msg" in value:
            return _fill(value, depth + 1, english)
        if "term" in value:
            if english:  # a vocabulary word is itself in English
                return "" if value.get("value") is None else str(value.get("value"))
            return display(i18n.term(str(value.get("term")), value.get("value")), NAME_LIMIT)
        raise _Unfit("unknown parameter")
    if isinstance(value, bool) or value is None:
        if english:  # the English text as an f-string writes it; not translated
            return value
        raise _Unfit("unexpected parameter")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return value if english else display(value, NAME_LIMIT)
    if english:
        return value
    raise _Unfit("unexpected parameter")


def _fill(p: Any, depth: int, english: bool = False) -> str:
    """The part's sentence: in the current language with its parameters bounded for
    display, or (``english``) as the analysis writes it into the JSON report, unbounded
    and without asking a catalogue (the templates are the English text, the catalogue's
    message ids: the inventory makes an evidence line per signature hit this way)."""
    if depth > MAX_DEPTH or not isinstance(p, dict):
        raise _Unfit("too deep")
    msg, args = p.get("msg"), p.get("args") or {}
    if msg not in TEMPLATES or not isinstance(args, dict):
        raise _Unfit("not one of netscan's templates")
    values = {str(k): _arg(v, depth, english) for k, v in list(args.items())[:16]}
    try:
        return (str(msg) if english else _(msg)).format(**values)
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
        return _("; ").join(_fill(p, 0) for p in parts[:MAX_PARTS])
    except _Unfit:
        return fallback


def sentence_text(part: Any, fallback: str) -> str:
    """One sentence (a walk test's verdict) in the current language, as plain text for the
    caller to escape; ``fallback`` (the English original) when the part is missing or does
    not hold together."""
    if i18n.current() == "en" or not isinstance(part, dict):
        return fallback
    try:
        return _fill(part, 0)
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


def evidence_text(item: Any) -> str:
    """An evidence line (a report's ``evidence[]`` item: ``what`` and its ``what_part``) in
    the current language, as plain text for the caller to escape; its English ``what`` when
    the part is missing or does not hold together."""
    if not isinstance(item, dict):
        return ""
    return sentence_text(item.get("what_part"), str(item.get("what") or ""))


def role_reasons(device: Any) -> list[str]:
    """A report device's ``role_reasons`` in the current language (each with its part of
    ``role_reason_parts``), as plain-text lines for the caller to escape."""
    if not isinstance(device, dict):
        return []
    return sentences(device.get("role_reasons"), device.get("role_reason_parts"))


def is_translated(f: Finding) -> bool:
    """Whether ``reason_text`` shows the parts (rather than the English original)."""
    parts = f.reason_parts
    if i18n.current() == "en" or not parts:
        return False
    try:
        for p in parts[:MAX_PARTS]:
            _fill(p, 0)
    except _Unfit:
        return False
    return True
