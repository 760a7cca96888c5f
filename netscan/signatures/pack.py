"""Signature packs: loading, validation, example checks and pack-directory lookup.

A pack is a directory holding ``PACK.yaml`` (name and format version), ``schema.json``
(JSON Schema, draft 2020-12, for one signature file) and one folder or file per category:
``device``, ``face-cloud``, ``vendor-cloud`` and ``protocol`` (``<category>/*.yaml`` or
``<category>.yaml``). The meaning of every match field is documented in
``signatures/README.md``; the short version is in :data:`FIELD_MODES`.

YAML is read with a subclass of ``yaml.SafeLoader`` that only adds line numbers, so no
tags beyond the safe set are ever constructed.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import ipaddress
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import re2 as _re2  # type: ignore[import-not-found]  # linear-time regular expressions

from netscan.dissectors import http as _http
from netscan.inventory import model as _model

if TYPE_CHECKING:
    import jsonschema
    import yaml

FORMAT_VERSION = 1
CATEGORIES: tuple[str, ...] = ("device", "face-cloud", "vendor-cloud", "protocol", "role")
# Roles a signature may claim: the report's device roles (one vocabulary, in
# netscan.inventory.model) plus the pack-only ones that say less than a report role.
ROLES: tuple[str, ...] = tuple(
    r for r in (*_model.ROLES, *_model.SIGNATURE_ONLY_ROLES) if r != "unknown"
)
# ``role`` signatures are rules that weigh device facts and behaviours into report roles;
# they are matched against what is known of a device, never against single packets.
RULE_CATEGORY = "role"
RULE_ONLY_FIELDS = frozenset({"behaviour", "device_role"})
# Behaviours netscan measures from the flows of a device (``behaviour`` values of role rules).
BEHAVIOURS: dict[str, str] = {
    "serves-rtsp": "answers RTSP requests",
    "streams-media": "sends a sustained media stream to a local device",
    "records-streams": "pulls sustained media streams from two or more local devices",
    "records-streams-uploads-offsite": (
        "pulls streams from two or more local devices and sends data off-site"
    ),
    "uploads-to-camera-cloud": "uploads sustained data to a camera vendor's cloud",
    "forwards-offsite": (
        "is the MAC behind off-site addresses (three or more, or one while it answers DNS or starts no conversation itself)"
    ),
    "advertises-routes": "sends IPv6 Router Advertisements (RFC 4861): it is the link's router",
    "wlan-video-upstream": "sends a steady video-shaped upstream on encrypted 802.11",
    "private-mac-client": "a locally administered MAC that speaks as a client",
}

# Default matching mode of each field. A plain string in a pack uses this mode; a mapping
# entry may choose another one where ALLOWED_MODES permits it.
DOMAIN_FIELDS = frozenset({"dns_name", "tls_sni", "http_host"})
_PREFIX_FIELDS = ("http_path_prefix", "rtsp_path", "mdns_model")
_EXACT_FIELDS = (
    "dhcp_prl",
    "mdns_service",
    "ja3",
    "ja4",
    "vendor_discovery",
    "behaviour",
    "device_role",
)
_CONTAINS_FIELDS = (
    "oui_vendor",
    "dhcp_hostname",
    "dhcp_vendor_class",
    "hostname",
    "mdns_name",
    "ssdp_server",
    "ssdp_usn",
    "ssdp_nt",
    "wsd_scope",
    "wsd_type",
    "http_server",
    "http_user_agent",
    "http_content_type",
    "rtsp_server",
    "rtsp_realm",
    "tls_cert_subject",
    "tls_cert_issuer",
)
FIELD_MODES: dict[str, str] = {
    **{f: "domain" for f in DOMAIN_FIELDS},
    **{f: "prefix" for f in _PREFIX_FIELDS},
    **{f: "exact" for f in _EXACT_FIELDS},
    **{f: "contains" for f in _CONTAINS_FIELDS},
    "oui_prefix": "oui",
    "ip_cidr": "cidr",
    "port": "port",
    "asn": "asn",
    "content_marker": "marker",
}
MATCH_FIELDS: tuple[str, ...] = tuple(sorted(FIELD_MODES))
_TEXT_MODES = frozenset({"exact", "prefix", "contains", "regex"})
ALLOWED_MODES: dict[str, frozenset[str]] = {
    f: (
        frozenset({"domain", "exact", "regex"})
        if m == "domain"
        else _TEXT_MODES
        if m in ("exact", "prefix", "contains")
        else frozenset({m})
    )
    for f, m in FIELD_MODES.items()
}

REGEX_MAX_LEN = 200
REGEX_INPUT_LIMIT = 2048  # inputs are cut to this length before a regex sees them
TRANSPORTS = ("tcp", "udp", "sctp")

_LINE_KEY = "__line__"


class PackError(Exception):
    """A pack cannot be found, read or used. The message is one line for the user."""


# --- YAML with line numbers ------------------------------------------------------


class _LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line where it started in its YAML file."""

    line: int = 0


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            import yaml

            raise yaml.constructor.ConstructorError(
                None, None, "unhashable mapping key", key_node.start_mark
            ) from exc
        out[key] = loader.construct_object(value_node, deep=True)
    return out


class _LineStr(str):
    """A string scalar that remembers its 1-based line."""

    line: int = 0


def _construct_str(loader: Any, node: yaml.ScalarNode) -> _LineStr:
    out = _LineStr(loader.construct_scalar(node))
    out.line = node.start_mark.line + 1
    return out


@functools.cache
def _line_loader() -> type:
    """SafeLoader that records the start line of every mapping (libyaml's parser when
    PyYAML was built with it: same safe constructors, much faster). Made at first use:
    a pack loaded from its compiled form needs no YAML at all."""
    import yaml

    base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _LineLoader(base):  # type: ignore[misc, valid-type]
        pass

    _LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
    return _LineLoader


def _yaml_load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_line_loader())  # noqa: S506 - SafeLoader subclass


def _load_yaml(path: Path, budget: _Budget | None = None) -> Any:
    text = _read_text(path, budget if budget is not None else _Budget())
    return _yaml_load(text)


# --- reading pack files: regular files inside the pack, bounded --------------------------

MAX_FILE_BYTES = 4 * 1024 * 1024  # one pack file
MAX_PACK_BYTES = 64 * 1024 * 1024  # every file of a pack together
MAX_PACK_FILES = 10_000


class FileRefused(PackError):
    """A pack file that is not read: a link, a device, too big. Says why, never its content."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}:1: {why}")


@dataclass
class _Budget:
    """What reading one pack may still cost."""

    bytes_left: int = field(default_factory=lambda: MAX_PACK_BYTES)
    files_left: int = field(default_factory=lambda: MAX_PACK_FILES)


def _what_special(mode: int) -> str | None:
    """Why an entry of this mode is not a pack file, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link; a pack holds regular files only"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device; a pack holds regular files only"
    if stat.S_ISFIFO(mode):
        return "is a FIFO; a pack holds regular files only"
    if stat.S_ISDIR(mode):
        return "is a directory where a file was expected"
    return "is a special file; a pack holds regular files only"


def _read_text(path: Path, budget: _Budget) -> str:
    """The text of one pack file: a regular file (opened without following a link), at most
    MAX_FILE_BYTES, UTF-8. Anything else raises FileRefused naming the file only."""
    if budget.files_left <= 0:
        raise FileRefused(path, f"the pack has more than {MAX_PACK_FILES} files; not read")
    budget.files_left -= 1
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(path, _what_special(stat.S_IFLNK) or "") from None
        raise FileRefused(path, f"cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        st = os.fstat(fd)
        why = _what_special(st.st_mode)
        if why:
            raise FileRefused(path, why)
        limit = min(MAX_FILE_BYTES, budget.bytes_left)
        if st.st_size > limit:
            raise FileRefused(path, _too_big(st.st_size, budget))
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:  # grew while being read
            raise FileRefused(path, _too_big(got, budget))
        budget.bytes_left -= got
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(path, f"is not UTF-8 text (byte {exc.start})") from None


def _too_big(size: int, budget: _Budget) -> str:
    if size > MAX_FILE_BYTES:
        return f"is {size:,} bytes, above the {MAX_FILE_BYTES >> 20} MiB limit for a pack file"
    return f"the pack exceeds {MAX_PACK_BYTES:,} bytes in total; not read"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    """Control and bidi characters of pack text shown as escapes in a message."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)  # fmt: skip


def _line_of(obj: Any, default: int = 1) -> int:
    return getattr(obj, "line", 0) or default


# --- model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One match value of a signature, normalised for lookups."""

    field: str
    mode: str  # domain | exact | prefix | contains | regex | oui | cidr | port | asn | marker
    value: str  # normalised value; hex for byte markers
    raw: str
    confidence: float | None = None
    note: str | None = None
    protocol: str | None = None  # content markers: carrying protocol
    image_field: str | None = None  # content markers: field that carries the image
    binary: bool = False  # content markers given as hex bytes (matched case-sensitively)
    line: int = 0

    @property
    def key_space(self) -> str:
        """Fields that share one lookup index (DNS/SNI/HTTP host names share one)."""
        return "name" if self.field in DOMAIN_FIELDS else self.field


@dataclass(frozen=True, slots=True)
class Signature:
    id: str
    name: str
    category: str
    vendor: str
    jurisdiction: str
    role: str | None
    confidence: float
    sources: tuple[str, ...]
    match: tuple[Entry, ...]
    match_all: tuple[Entry, ...]
    examples: tuple[dict[str, Any], ...] = ()
    near_misses: tuple[dict[str, Any], ...] = ()
    notes: str | None = None
    kb_ref: str | None = None
    file: str = ""
    line: int = 0
    parser: str | None = None  # protocol signatures: the body parser for their HTTP paths
    # face-library synchronisation knowledge (signatures/schema.json, $defs/library)
    library: dict[str, Any] | None = None
    # what the body parsers read as face data (signatures/schema.json, $defs/content)
    content: dict[str, Any] | None = None
    # role rules: what the behaviours are measured from (signatures/schema.json, $defs/measure)
    measure: dict[str, Any] | None = None

    @property
    def all_fields(self) -> frozenset[str]:
        return frozenset(e.field for e in self.match_all)

    def to_dict(self) -> dict[str, Any]:
        def entry(e: Entry) -> dict[str, Any]:
            d: dict[str, Any] = {"field": e.field, "mode": e.mode, "value": e.raw}
            for k in ("confidence", "note", "protocol", "image_field"):
                v = getattr(e, k)
                if v is not None:
                    d[k] = v
            return d

        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "vendor": self.vendor,
            "jurisdiction": self.jurisdiction,
            "role": self.role,
            "confidence": self.confidence,
            "notes": self.notes,
            "kb_ref": self.kb_ref,
            "parser": self.parser,
            "sources": list(self.sources),
            "match": [entry(e) for e in self.match],
            "match_all": [entry(e) for e in self.match_all],
            "examples": [dict(x) for x in self.examples],
            "near_misses": [dict(x) for x in self.near_misses],
            "file": self.file,
            "line": self.line,
            **({"library": dict(self.library)} if self.library else {}),
            **({"content": dict(self.content)} if self.content else {}),
            **({"measure": dict(self.measure)} if self.measure else {}),
        }


@dataclass(frozen=True, slots=True)
class PackVersion:
    source_dir: Path
    origin: str = "explicit"  # cli | env | user | bundled | source | explicit
    name: str = ""
    format_version: int = FORMAT_VERSION
    pack_version: str = ""
    git_commit: str | None = None
    git_date: str | None = None
    git_dirty: bool = False


@dataclass
class Pack:
    signatures: list[Signature]
    version: PackVersion
    by_id: dict[str, Signature] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_id:
            self.by_id = {s.id: s for s in self.signatures}

    @cached_property
    def response_prefixes(self) -> tuple[str, ...]:
        """The request paths whose HTTP responses the engines keep for content analysis
        (``response_prefixes``)."""
        return response_prefixes(self.signatures)

    @cached_property
    def media_server_ports(self) -> frozenset[tuple[str, int]]:
        """(transport, port) of streaming services, for the behaviours (``media_server_ports``)."""
        return media_server_ports(self.signatures)

    @cached_property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(CATEGORIES, 0)
        for s in self.signatures:
            out[s.category] = out.get(s.category, 0) + 1
        return out


def response_prefixes(signatures: Iterable[Signature]) -> tuple[str, ...]:
    """The request paths whose HTTP responses the engines keep for content analysis: the
    ``http_path_prefix`` entries of the signatures whose ``library`` says the records answer
    the device's poll (``direction: response``), lower-case, in pack order, once each.
    Validation keeps them within what the engines take (``_response_checks``)."""
    out: list[str] = []
    for sig in signatures:
        if not _keeps_responses(sig):
            continue
        for e in sig.match:
            if e.field == "http_path_prefix" and e.value not in out:
                out.append(e.value)
    return tuple(out)


def media_server_ports(signatures: Iterable[Signature]) -> frozenset[tuple[str, int]]:
    """(transport, port) of the streaming services of the role rules' ``measure`` blocks: a
    local client's sustained download from one makes the server a media sender."""
    out: set[tuple[str, int]] = set()
    for sig in signatures:
        for port in (sig.measure or {}).get("media_server_ports") or ():
            transport, _, num = normalize_port(str(port)).partition("/")
            out.add((transport, int(num)))
    return frozenset(out)


def _keeps_responses(sig: Signature) -> bool:
    return bool(sig.library) and (sig.library or {}).get("direction") == "response"


# --- normalisation ------------------------------------------------------------------

_LABEL_RE = re.compile(r"^(\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_MDNS_SERVICE_RE = re.compile(r"^_[a-z0-9-]{1,63}\._(tcp|udp)$")


def normalize_name(name: str) -> str:
    """Lower-case a host name and drop a trailing dot, port and surrounding blanks."""
    n = name.strip().lower().rstrip(".")
    if n.startswith("[") and "]" in n:  # [v6]:port
        return n[1 : n.index("]")]
    if n.count(":") == 1:
        n = n.split(":", 1)[0]
    return n


def normalize_mac_hex(mac: str) -> str:
    """Hex digits of a MAC address or OUI prefix, lower-case, separators removed."""
    return re.sub(r"[^0-9a-f]", "", mac.lower())


def normalize_prl(prl: str | Iterable[int]) -> str:
    items = re.split(r"[\s,]+", prl.strip()) if isinstance(prl, str) else [str(x) for x in prl]
    return ",".join(str(int(x)) for x in items if x != "")


def normalize_mdns_service(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    if v.endswith(".local"):
        v = v[: -len(".local")]
    return v


def normalize_port(value: str) -> str:
    transport, _, num = value.strip().lower().partition("/")
    return f"{transport}/{int(num)}"


def _parse_domain_pattern(value: str) -> tuple[str, list[str]]:
    """Split a domain pattern into (kind, labels): kind is exact, suffix or below."""
    v = value.strip().lower().rstrip(".")
    if v.startswith("*."):
        kind, rest = "below", v[2:]
    elif v.startswith("."):
        kind, rest = "suffix", v[1:]
    else:
        kind, rest = "exact", v
    labels = rest.split(".") if rest else []
    if not labels or any(not _LABEL_RE.match(lab) for lab in labels):
        raise ValueError(f"malformed domain pattern {value!r}")
    if all(lab == "*" for lab in labels) or len(labels) < 2:
        raise ValueError(f"domain pattern {value!r} is too broad (needs two or more labels)")
    return kind, labels


_NESTED_QUANT = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*[*+{]")
_FORBIDDEN_REGEX = (
    (re.compile(r"\\[1-9]|\(\?P=|\\k<"), "backreferences"),
    (re.compile(r"\(\?<?[=!]"), "lookaround"),
    (re.compile(r"\(\?>|[*+?}][+]"), "atomic groups or possessive quantifiers"),
)


def check_regex(pattern: str) -> str | None:
    """Return why a pattern is unsafe or invalid, or None when it may be used."""
    if len(pattern) > REGEX_MAX_LEN:
        return f"regex longer than {REGEX_MAX_LEN} characters"
    for rx, what in _FORBIDDEN_REGEX:
        if rx.search(pattern):
            return f"regex uses {what}"
    if _NESTED_QUANT.search(pattern):
        return "regex nests a quantifier inside a repeated group"
    for m in re.finditer(r"\{(\d+)(?:,(\d*))?\}", pattern):
        if int(m.group(1)) > 1000 or (m.group(2) and int(m.group(2)) > 1000):
            return "regex repetition count above 1000"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"regex does not compile: {exc}"
    try:
        _re2.compile(pattern)
    except Exception as exc:  # re2 raises its own error type
        return f"regex not accepted by RE2: {exc}"
    return None


def _normalize_value(field_name: str, mode: str, raw: Any) -> str:
    """Normalise one pack value; raises ValueError with a readable reason."""
    if mode == "asn":
        n = int(raw)
        if not 0 < n < 2**32:
            raise ValueError(f"ASN {raw!r} out of range")
        return str(n)
    if not isinstance(raw, str):
        raise ValueError(f"{field_name}: expected a string, got {type(raw).__name__}")
    if mode == "regex":
        why = check_regex(raw)
        if why:
            raise ValueError(why)
        return raw
    if mode == "domain":
        _parse_domain_pattern(raw)
        return raw.strip().lower().rstrip(".")
    if mode == "oui":
        hexed = normalize_mac_hex(raw)
        if len(hexed) not in (6, 7, 9) or not re.fullmatch(r"[0-9a-fA-F:.-]+", raw.strip()):
            raise ValueError(f"OUI prefix {raw!r} must have 6, 7 or 9 hex digits")
        return hexed
    if mode == "cidr":
        try:
            net = ipaddress.ip_network(raw.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"bad CIDR {raw!r}: {exc}") from exc
        return str(net)
    if mode == "port":
        m = re.fullmatch(r"(?i)\s*(tcp|udp|sctp)/(\d{1,5})\s*", raw)
        if not m or not 0 < int(m.group(2)) < 65536:
            raise ValueError(f"port {raw!r} must look like udp/32100")
        return normalize_port(raw)
    if field_name == "dhcp_prl" and mode == "exact":
        try:
            return normalize_prl(raw)
        except ValueError as exc:
            raise ValueError(
                f"DHCP parameter list {raw!r} must be comma-separated numbers"
            ) from exc
    if field_name == "mdns_service" and mode == "exact":
        v = normalize_mdns_service(raw)
        if not _MDNS_SERVICE_RE.match(v):
            raise ValueError(f"mDNS service {raw!r} must look like _name._tcp")
        return v
    v = raw.strip().lower()
    if not v:
        raise ValueError("empty match value")
    return v


def _parse_entries(
    field_name: str, items: Any, errors: list[str], file: Path, block_line: int
) -> list[Entry]:
    """Turn the YAML list of one match field into entries; problems go to `errors`."""
    out: list[Entry] = []
    if field_name not in FIELD_MODES:
        errors.append(f"{file}:{block_line}: unknown match field {field_name!r}")
        return out
    if not isinstance(items, list):
        items = [items]
    default_mode = FIELD_MODES[field_name]
    for item in items:
        line = _line_of(item, block_line)
        loc = f"{file}:{line}"
        conf = note = protocol = image_field = None
        binary = False
        try:
            if field_name == "content_marker":
                if not isinstance(item, Mapping):
                    raise ValueError("content_marker entries need text or hex plus protocol")
                protocol, image_field = item.get("protocol"), item.get("image_field")
                conf, note = item.get("confidence"), item.get("note")
                if "hex" in item:
                    binary, raw = True, str(item["hex"]).lower()
                    if not _HEX_RE.match(raw) or len(raw) % 2:
                        raise ValueError(f"bad hex marker {item['hex']!r}")
                    value = raw
                else:
                    raw = str(item.get("text", ""))
                    if len(raw) < 4:
                        raise ValueError("text marker shorter than 4 characters")
                    value = raw.lower()
                out.append(
                    Entry(
                        field_name,
                        "marker",
                        value,
                        raw,
                        conf,
                        note,
                        protocol,
                        image_field,
                        binary,
                        line,
                    )
                )
                continue
            if isinstance(item, Mapping):
                modes = [k for k in ("value", "exact", "prefix", "contains", "regex") if k in item]
                if len(modes) != 1:
                    raise ValueError(
                        "an entry mapping needs exactly one of value/exact/prefix/contains/regex"
                    )
                key = modes[0]
                mode = default_mode if key == "value" else key
                raw = item[key]
                conf, note = item.get("confidence"), item.get("note")
            else:
                mode, raw = default_mode, item
            if mode not in ALLOWED_MODES[field_name]:
                raise ValueError(f"mode {mode!r} is not allowed for {field_name}")
            value = _normalize_value(field_name, mode, raw)
            out.append(
                Entry(field_name, mode, value, str(raw), conf, note, None, None, False, line)
            )
        except (ValueError, TypeError) as exc:
            errors.append(f"{loc}: {field_name}: {exc}")
    return out


# --- sources ---------------------------------------------------------------------------

_SOURCE_PATTERNS = (
    re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/\S*)?$"),
    re.compile(r"^github:[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+(/\S+)?$"),
    re.compile(r"^doc:\S.{6,}$"),
)
# Not references: numbers of an index nobody outside can open, names of local files, notes
# about where something was seen. Each needs the public page, file or document instead.
_NOT_REFERENCES = (
    (re.compile(r"^code-index:"), "an internal index number"),
    (re.compile(r"^capture:"), "a local capture file name (cite the capture's public URL)"),
    (
        re.compile(
            r"^doc:.*\b(excerpt|code search|public code|search result|dossier|notes?)\b", re.I
        ),
        "a note, not a document (cite the page, file or document itself)",
    ),
    (
        re.compile(r"^doc:\s*[a-z0-9-]+(\.[a-z0-9-]+)+\.[a-z]{2,}\b", re.I),
        "a web host (cite its URL)",
    ),
)


def check_source(src: Any) -> str | None:
    """Why a `sources` entry is not a well-formed real reference, or None.

    Accepted forms: an http(s) URL with a host; ``github:owner/repo[/path]`` (a public
    repository or a file in it); ``doc:<title of a named document>`` (a standard, manual or
    specification without a stable URL). Index numbers, local capture names and notes such
    as "public code search excerpt" are refused: they cannot be checked by anyone else.
    """
    if not isinstance(src, str) or not src.strip():
        return "empty source"
    if src != src.strip():
        return f"source {src!r} has surrounding blanks"
    for pattern, what in _NOT_REFERENCES:
        if pattern.search(src):
            return f"source {src!r} is {what}, not a reference (use a URL, github: or doc:)"
    if any(p.match(src) for p in _SOURCE_PATTERNS):
        return None
    return f"malformed source {src!r} (use a URL, github: or doc:)"


# --- reading a pack directory ------------------------------------------------------------


@dataclass
class _RawFile:
    path: Path
    category: str | None  # from the folder or file name
    data: Any


def _entries(directory: Path, errors: list[str]) -> list[tuple[Path, bool]]:
    """(path, is_dir) of the visible entries of a pack directory, never following a link;
    links, devices, FIFOs and other special entries are reported, not returned."""
    out: list[tuple[Path, bool]] = []
    with os.scandir(directory) as it:
        for entry in sorted(it, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            path = directory / entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                out.append((path, True))
            elif stat.S_ISREG(mode):
                out.append((path, False))
            else:
                errors.append(f"{path}:1: {_what_special(mode)}")
    return out


def _pack_files(pack_dir: Path, errors: list[str]) -> Iterator[_RawFile]:
    if not pack_dir.is_dir():
        raise PackError(f"signature directory not found: {pack_dir}")
    for child, is_dir in _entries(pack_dir, errors):
        if child.name in ("PACK.yaml", "schema.json"):
            continue
        if is_dir:
            ymls = [p for p, sub in _entries(child, errors) if not sub
                    and p.suffix in (".yaml", ".yml")]  # fmt: skip
            if child.name not in CATEGORIES:
                if ymls:
                    errors.append(
                        f"{child}:1: unknown category folder {child.name!r} "
                        f"(expected one of {', '.join(CATEGORIES)})"
                    )
                continue
            for f in ymls:
                yield _RawFile(f, child.name, None)
        elif child.suffix in (".yaml", ".yml"):
            if child.stem not in CATEGORIES:
                errors.append(f"{child}:1: unknown category file {child.name!r}")
                continue
            yield _RawFile(child, child.stem, None)


def _read_meta(pack_dir: Path, errors: list[str], budget: _Budget) -> dict[str, Any]:
    import yaml

    meta_path = pack_dir / "PACK.yaml"
    if not os.path.lexists(meta_path):
        errors.append(f"{meta_path}:1: PACK.yaml is missing")
        return {}
    try:
        meta = _load_yaml(meta_path, budget)
    except FileRefused as exc:
        errors.append(str(exc))
        return {}
    except yaml.YAMLError as exc:
        errors.append(f"{meta_path}:{_yaml_err_line(exc)}: invalid YAML: {_yaml_err_text(exc)}")
        return {}
    if not isinstance(meta, dict):
        errors.append(f"{meta_path}:1: PACK.yaml must be a mapping")
        return {}
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        errors.append(f"{meta_path}:{_line_of(meta)}: PACK.yaml needs a name")
    fv = meta.get("format_version")
    if fv != FORMAT_VERSION:
        errors.append(
            f"{meta_path}:{_line_of(meta)}: unsupported format_version {fv!r} "
            f"(this netscan reads {FORMAT_VERSION})"
        )
    return meta


def _yaml_err_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def _yaml_err_text(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    return _short(str(problem or exc).splitlines()[0])


class _SchemaCheck:
    """The pack's JSON schema, applied to each file. A file whose exact text passed this
    exact schema before (with the same jsonschema) is not checked again: the fact is kept
    in the user's cache directory (``netscan.datacache``) under a digest of the three, so
    the schema validator (a large part of loading a pack) is only built when a file is new
    or changed."""

    def __init__(self, pack_dir: Path, budget: _Budget) -> None:
        from netscan import datacache

        self.path = pack_dir / "schema.json"
        if not os.path.lexists(self.path):
            raise PackError(f"{self.path}: schema.json is missing")
        try:
            self.text = _read_text(self.path, budget)
            self.schema = json.loads(self.text)
        except ValueError as exc:
            raise PackError(f"{self.path}: unusable schema: {str(exc).splitlines()[0]}") from exc
        self._validator: jsonschema.protocols.Validator | None = None
        self._cache = datacache.cache_dir()
        self._prefix: bytes | None = None
        self.hits = 0  # files found checked before (so the schema passed check_schema)

    def validator(self) -> jsonschema.protocols.Validator:
        if self._validator is None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(self.schema)
            except jsonschema.SchemaError as exc:
                raise PackError(
                    f"{self.path}: unusable schema: {str(exc).splitlines()[0]}"
                ) from exc
            self._validator = jsonschema.Draft202012Validator(self.schema)
        return self._validator

    def _key(self, text: str) -> str:
        if self._prefix is None:
            from importlib.metadata import version

            parts = ("netscan-pack-schema", version("jsonschema"), self.text)
            self._prefix = b"".join(p.encode("utf-8", "surrogatepass") + b"\0" for p in parts)
        h = hashlib.sha256(self._prefix)
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:40]

    def checked(self) -> None:
        """Raise PackError for an unusable schema, unless a file already showed it fit."""
        if self._validator is None and not self.hits:
            self.validator()

    def errors(self, text: str, data: Any) -> list[Any]:
        """The schema errors of a file (its text and the data parsed from it), in order."""
        from netscan import datacache

        key = self._key(text)
        if datacache.known(self._cache, "pack-schema", key):
            self.hits += 1
            return []
        found = sorted(self.validator().iter_errors(data), key=lambda e: list(e.absolute_path))
        if not found:
            datacache.remember(self._cache, "pack-schema", key)
        return found


def _error_line(data: Any, path: Iterable[Any]) -> int:
    """Line of the innermost mapping on a JSON path into line-annotated YAML data."""
    line = _line_of(data)
    node = data
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = _line_of(node, line)
    return line


def _build_signature(raw: Mapping[str, Any], file: Path, errors: list[str]) -> Signature | None:
    line = _line_of(raw)
    where = f"{file}:{line}"
    match: list[Entry] = []
    match_all: list[Entry] = []
    for block_name, target in (("match", match), ("match_all", match_all)):
        block = raw.get(block_name) or {}
        if not isinstance(block, Mapping):
            continue
        block_line = _line_of(block, line)
        for fname, items in block.items():
            target.extend(_parse_entries(str(fname), items, errors, file, block_line))
    for src in raw.get("sources") or []:
        why = check_source(src)
        if why:
            errors.append(f"{where}: {raw.get('id', '?')}: {why}")
    role = raw.get("role")
    return Signature(
        id=str(raw.get("id")),
        name=str(raw.get("name")),
        category=str(raw.get("category")),
        vendor=str(raw.get("vendor")),
        jurisdiction=str(raw.get("jurisdiction")),
        role=str(role) if role is not None else None,
        confidence=float(raw.get("confidence", 0)),
        sources=tuple(str(s) for s in raw.get("sources") or ()),
        match=tuple(match),
        match_all=tuple(match_all),
        examples=tuple(dict(x) for x in raw.get("examples") or () if isinstance(x, Mapping)),
        near_misses=tuple(dict(x) for x in raw.get("near_misses") or () if isinstance(x, Mapping)),
        notes=raw.get("notes"),
        kb_ref=raw.get("kb_ref"),
        file=str(file),
        line=line,
        parser=str(raw["parser"]) if raw.get("parser") is not None else None,
        library=_plain(raw.get("library")) if isinstance(raw.get("library"), Mapping) else None,
        content=_plain(raw.get("content")) if isinstance(raw.get("content"), Mapping) else None,
        measure=_plain(raw.get("measure")) if isinstance(raw.get("measure"), Mapping) else None,
    )


def _plain(value: Any) -> Any:
    """A YAML value as plain dicts, lists and strings (no loader line bookkeeping)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def _collect(pack_dir: Path) -> tuple[list[Signature], dict[str, Any], list[str]]:
    """Read, schema-check and semantically check every file of a pack."""
    import yaml

    errors: list[str] = []
    if not pack_dir.is_dir():
        raise PackError(f"signature directory not found: {pack_dir}")
    budget = _Budget()
    meta = _read_meta(pack_dir, errors, budget)
    schema = _SchemaCheck(pack_dir, budget)
    signatures: list[Signature] = []
    for rf in _pack_files(pack_dir, errors):
        try:
            text = _read_text(rf.path, budget)
            data = _yaml_load(text)
        except FileRefused as exc:
            errors.append(str(exc))
            continue
        except yaml.YAMLError as exc:
            errors.append(f"{rf.path}:{_yaml_err_line(exc)}: invalid YAML: {_yaml_err_text(exc)}")
            continue
        schema_errors = schema.errors(text, data)
        for err in schema_errors:
            path = list(err.absolute_path)
            line = _error_line(data, path)
            loc = "/".join(str(p) for p in path) or "(file)"
            errors.append(f"{rf.path}:{line}: schema: {loc}: {_short(err.message)}")
        if schema_errors or not isinstance(data, Mapping):
            continue
        for raw in data.get("signatures") or []:
            sig = _build_signature(raw, rf.path, errors)
            if sig is None:
                continue
            if sig.category != rf.category:
                errors.append(
                    f"{rf.path}:{sig.line}: {sig.id}: category {sig.category!r} "
                    f"does not match its folder/file {rf.category!r}"
                )
            if not sig.id.startswith(sig.category + "."):
                errors.append(
                    f"{rf.path}:{sig.line}: {sig.id}: id must start with {sig.category + '.'!r}"
                )
            signatures.append(sig)
    schema.checked()
    errors.extend(_cross_checks(signatures))
    return signatures, meta, errors


def _short(msg: str, limit: int = 160) -> str:
    msg = _visible(" ".join(msg.split()))
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _cross_checks(signatures: list[Signature]) -> list[str]:
    """Duplicate ids, unknown categories and contradictory overlapping entries."""
    errors: list[str] = []
    seen: dict[str, Signature] = {}
    for sig in signatures:
        if sig.category not in CATEGORIES:
            errors.append(f"{sig.file}:{sig.line}: {sig.id}: unknown category {sig.category!r}")
        if sig.role is not None and sig.role not in ROLES:
            errors.append(f"{sig.file}:{sig.line}: {sig.id}: unknown role {sig.role!r}")
        errors.extend(_rule_checks(sig))
        errors.extend(_response_checks(sig))
        first = seen.get(sig.id)
        if first is not None:
            errors.append(
                f"{sig.file}:{sig.line}: duplicate id {sig.id!r} "
                f"(first defined at {first.file}:{first.line})"
            )
        else:
            seen[sig.id] = sig
    # The same standalone match value in two signatures must not claim different things.
    # Role rules are a layer of their own: they weigh facts that signatures also name.
    owners: dict[tuple[bool, str, str, str], tuple[Signature, Entry]] = {}
    for sig in signatures:
        for e in sig.match:
            key = (sig.category == RULE_CATEGORY, e.key_space, e.mode, e.value)
            prev = owners.get(key)
            if prev is None:
                owners[key] = (sig, e)
                continue
            other, oe = prev
            if other.id == sig.id:
                continue
            if (other.category, other.role) != (sig.category, sig.role):
                errors.append(
                    f"{sig.file}:{e.line}: {sig.id}: {e.field} {e.raw!r} contradicts "
                    f"{other.id} ({other.category}/{other.role or '-'} vs "
                    f"{sig.category}/{sig.role or '-'}) at {other.file}:{oe.line}"
                )
    kept = response_prefixes(signatures)
    if len(kept) > _http.MAX_RESPONSE_PREFIXES:
        at = next(s for s in signatures if _keeps_responses(s))
        errors.append(
            f"{at.file}:{at.line}: {len(kept)} paths of libraries with direction "
            f"response, at most {_http.MAX_RESPONSE_PREFIXES} are kept"
        )
    return errors


def _response_checks(sig: Signature) -> list[str]:
    """A library whose records answer a poll names the polls by plain path prefixes the
    engines can take: the responses to those paths are kept (``response_prefixes``)."""
    if not _keeps_responses(sig):
        return []
    out: list[str] = []
    paths = [e for e in sig.match if e.field == "http_path_prefix"]
    if not paths:
        out.append(f"{sig.file}:{sig.line}: {sig.id}: a library with direction response "
                   "needs http_path_prefix entries in match")  # fmt: skip
    for e in paths:
        why = None
        if e.mode != "prefix":
            why = "must be a plain path prefix"
        else:
            try:
                _http.checked_response_prefixes([e.value])
            except ValueError as exc:
                why = str(exc)
        if why:
            out.append(f"{sig.file}:{e.line}: {sig.id}: http_path_prefix {_visible(e.raw)!r} "
                       f"of a library with direction response: {why}")  # fmt: skip
    return out


def _rule_checks(sig: Signature) -> list[str]:
    """Role rules name a report role; behaviours and device roles are known words, and only
    role rules use them."""
    out: list[str] = []
    where = f"{sig.file}:{sig.line}: {sig.id}"
    is_rule = sig.category == RULE_CATEGORY
    if sig.parser is not None and (
        sig.category != "protocol" or not any(e.field == "http_path_prefix" for e in sig.match)
    ):
        out.append(f"{where}: parser is for protocol signatures that match http_path_prefix")
    if sig.content is not None and sig.category != "protocol":
        out.append(f"{where}: content is for protocol signatures")
    if sig.measure is not None and not is_rule:
        out.append(f"{where}: measure is for role rules")
    for port in (sig.measure or {}).get("media_server_ports") or ():
        try:
            _normalize_value("port", "port", port)
        except ValueError as exc:
            out.append(f"{where}: media_server_ports: {exc}")
    if (sig.content or {}).get("face_template_types") and sig.parser is None:
        out.append(f"{where}: face_template_types are read by a parser: name it (parser)")
    if is_rule and sig.role not in _model.ROLES[:-1]:
        out.append(
            f"{where}: a role rule needs a report role (one of {', '.join(_model.ROLES[:-1])})"
        )
    for e in (*sig.match, *sig.match_all):
        if e.field in RULE_ONLY_FIELDS and not is_rule:
            out.append(f"{sig.file}:{e.line}: {sig.id}: {e.field} is for role rules only")
        elif e.field == "behaviour" and e.mode == "exact" and e.value not in BEHAVIOURS:
            out.append(
                f"{sig.file}:{e.line}: {sig.id}: unknown behaviour {e.raw!r} "
                f"(known: {', '.join(BEHAVIOURS)})"
            )
        elif e.field == "device_role" and e.mode == "exact" and e.value not in ROLES:
            out.append(f"{sig.file}:{e.line}: {sig.id}: unknown device_role {e.raw!r}")
    return out


def _git_info(path: Path) -> tuple[str | None, str | None, bool]:
    """Short commit, commit date and dirty flag of the last commit touching `path`."""
    try:
        inside = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None, None, False
        log = subprocess.run(
            ["git", "-C", str(path), "log", "-1", "--format=%h%x09%cI", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
        )
        parts = log.stdout.strip().split("\t")
        if log.returncode != 0 or len(parts) != 2:
            return None, None, False
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return parts[0], parts[1], bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None, False


# --- public API --------------------------------------------------------------------------


def validate_pack(path: Path) -> list[str]:
    """Every problem of the pack at `path`, each as ``file:line: message``."""
    try:
        _, _, errors = _collect(_root(path))
    except PackError as exc:
        return [str(exc)]
    return errors


def _root(path: str | os.PathLike[str]) -> Path:
    """The pack directory, resolved once: the root itself may be reached through links
    (the bundled pack is one); nothing inside it is followed."""
    return Path(os.path.realpath(path))


def load_pack(path: Path, origin: str = "explicit") -> Pack:
    """Load and check a pack directory; raises PackError naming the first problems.

    A pack that loaded without a problem is kept compiled in the user's cache directory
    (``_CompiledPack``): the next load of the very same files skips the YAML parse and
    every check."""
    pack_dir = _root(path)
    compiled = _CompiledPack(pack_dir, origin)
    got = compiled.read()
    if got is not None:
        signatures, facts = got
    else:
        signatures, meta, errors = _collect(pack_dir)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise PackError(f"invalid signature pack: {errors[0]}{more}")
        facts = {
            "name": str(meta.get("name", "")),
            "format_version": int(meta.get("format_version", FORMAT_VERSION)),
            "pack_version": str(meta.get("pack_version", "")),
        }
        compiled.write(signatures, facts)
    commit, date, dirty = _git_info(pack_dir)
    version = PackVersion(
        source_dir=pack_dir.resolve(),
        origin=origin,
        name=facts["name"],
        format_version=facts["format_version"],
        pack_version=facts["pack_version"],
        git_commit=commit,
        git_date=date,
        git_dirty=dirty,
    )
    return Pack(signatures=signatures, version=version)


# --- the compiled pack, cached ---------------------------------------------------------------

COMPILED_VERSION = 1  # of the compiled form below; a change makes every cached pack stale
_ENTRY_FIELDS = ("field", "mode", "value", "raw", "confidence", "note", "protocol",
                 "image_field", "binary", "line")  # fmt: skip


class _CompiledPack:
    """A pack that loaded cleanly, kept as JSON in the user's cache directory
    (``netscan.datacache``: a 0700 directory of the user's, files 0600 written through a
    temporary name). It is tied to a digest of everything the load read (every pack file's
    path and text, the schema, PACK.yaml), of this module's own source and of netscan's
    version: any change and the pack is loaded (and checked) again from its files. A cache
    file that does not read back, or does not hold what it should, is ignored the same
    way. The installed packs (bundled, source checkout, the user's working copy) have a
    file per directory (several installations side by side keep theirs); any other pack
    (``--signatures``, ``$NETSCAN_SIGNATURES``, a path given) one file per origin, which
    the next such pack replaces."""

    def __init__(self, pack_dir: Path, origin: str) -> None:
        self.pack_dir = pack_dir
        if origin in ("bundled", "source", "user"):
            where = hashlib.sha256(str(pack_dir).encode("utf-8", "surrogatepass")).hexdigest()
            self.name = f"pack-{origin}-{where[:16]}.idx"
        else:
            self.name = f"pack-{origin if origin.isalnum() else 'other'}.idx"
        self.digest: str | None = None  # of the files as ``read`` found them

    def _digest(self) -> str | None:
        """The digest of the pack's files as the load reads them, or None when reading
        them shows a problem (the load then reports it)."""
        errors: list[str] = []
        budget = _Budget()
        h = hashlib.sha256()
        for part in (
            f"netscan-compiled-pack {COMPILED_VERSION} {_netscan_version()}",
            str(self.pack_dir),
            _own_source(),
        ):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        try:
            paths = [self.pack_dir / "PACK.yaml", self.pack_dir / "schema.json"]
            paths.extend(rf.path for rf in _pack_files(self.pack_dir, errors))
            if errors:
                return None
            for path in paths:
                data = _read_text(path, budget).encode("utf-8", "surrogatepass")
                name = str(path).encode("utf-8", "surrogatepass")
                h.update(b"%d:%s%d:%s" % (len(name), name, len(data), data))
        except (OSError, PackError):
            return None
        return h.hexdigest()

    def _file(self) -> Path | None:
        from netscan import datacache

        d = datacache.cache_dir()
        return d / self.name if d is not None else None

    def read(self) -> tuple[list[Signature], dict[str, Any]] | None:
        from netscan import datacache

        path = self._file()
        if path is None:
            return None
        self.digest = self._digest()
        if self.digest is None:
            return None
        sections = datacache._read(path, self._header(self.digest))
        if sections is None or "pack" not in sections:
            return None
        try:
            data = json.loads(bytes(sections["pack"]))
            facts = {
                "name": str(data["facts"]["name"]),
                "format_version": int(data["facts"]["format_version"]),
                "pack_version": str(data["facts"]["pack_version"]),
            }
            return [_sig_from_json(d) for d in data["signatures"]], facts
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None

    def write(self, signatures: list[Signature], facts: dict[str, Any]) -> None:
        from netscan import datacache

        path = self._file()
        digest = self.digest
        # kept only when the files read now are the ones the load read (none changed meanwhile)
        if path is None or digest is None or digest != self._digest():
            return
        blob = json.dumps(
            {"facts": facts, "signatures": [_sig_to_json(sig) for sig in signatures]},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8", "surrogatepass")
        with contextlib.suppress(OSError, ValueError):
            datacache._write(path, self._header(digest), {"pack": blob})

    @staticmethod
    def _header(digest: str) -> dict[str, Any]:
        return {"kind": "pack", "version": COMPILED_VERSION, "byteorder": sys.byteorder,
                "digest": digest}  # fmt: skip


def _netscan_version() -> str:
    from netscan import __version__

    return __version__


def _own_source() -> str:
    """The source of what compiling a pack means, as a digest: this module and the checks
    it calls elsewhere (the bounds of the HTTP response paths, which the packet core holds
    too), so that a cached pack is never one that older checks let through."""
    h = hashlib.sha256()
    try:
        for path in (Path(__file__), Path(_http.__file__)):
            h.update(path.read_bytes())
    except OSError:
        return ""
    return h.hexdigest()


def _sig_to_json(sig: Signature) -> dict[str, Any]:
    def entry(e: Entry) -> list[Any]:
        return [getattr(e, k) for k in _ENTRY_FIELDS]

    return {
        "id": sig.id, "name": sig.name, "category": sig.category, "vendor": sig.vendor,
        "jurisdiction": sig.jurisdiction, "role": sig.role, "confidence": sig.confidence,
        "sources": list(sig.sources), "match": [entry(e) for e in sig.match],
        "match_all": [entry(e) for e in sig.match_all], "examples": list(sig.examples),
        "near_misses": list(sig.near_misses), "notes": sig.notes, "kb_ref": sig.kb_ref,
        "file": sig.file, "line": sig.line, "parser": sig.parser, "library": sig.library,
        "content": sig.content, "measure": sig.measure,
    }  # fmt: skip


def _sig_from_json(d: dict[str, Any]) -> Signature:
    def entries(items: list[list[Any]]) -> tuple[Entry, ...]:
        out = []
        for vals in items:
            if len(vals) != len(_ENTRY_FIELDS):
                raise ValueError("not an entry")
            out.append(Entry(*vals))
        return tuple(out)

    return Signature(
        id=d["id"], name=d["name"], category=d["category"], vendor=d["vendor"],
        jurisdiction=d["jurisdiction"], role=d["role"], confidence=d["confidence"],
        sources=tuple(d["sources"]), match=entries(d["match"]),
        match_all=entries(d["match_all"]), examples=tuple(d["examples"]),
        near_misses=tuple(d["near_misses"]), notes=d["notes"], kb_ref=d["kb_ref"],
        file=d["file"], line=d["line"], parser=d["parser"], library=d["library"],
        content=d["content"], measure=d["measure"],
    )  # fmt: skip


def run_examples(pack: Pack) -> list[str]:
    """Check that every example matches its signature and no near-miss does."""
    from netscan.signatures.matcher import Matcher  # local import: matcher imports us

    matcher = Matcher(pack)
    failures: list[str] = []
    for sig in pack.signatures:
        for ex in sig.examples:
            try:
                hits = matcher.match_fields(ex)
            except ValueError as exc:
                failures.append(f"{sig.file}:{sig.line}: {sig.id}: example {ex!r}: {exc}")
                continue
            if not any(h.sig_id == sig.id for h in hits):
                failures.append(f"{sig.file}:{sig.line}: {sig.id}: example does not match: {ex!r}")
        for nm in sig.near_misses:
            try:
                hits = matcher.match_fields(nm)
            except ValueError as exc:
                failures.append(f"{sig.file}:{sig.line}: {sig.id}: near-miss {nm!r}: {exc}")
                continue
            if any(h.sig_id == sig.id for h in hits):
                failures.append(f"{sig.file}:{sig.line}: {sig.id}: near-miss matches: {nm!r}")
    return failures


def _source_checkout_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "signatures"


def _bundled_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "_bundled_signatures"


def user_pack_dir() -> Path:
    """The user's git working copy of the pack (may not exist)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "netscan" / "signatures"


def resolve_pack_source(cli_dir: str | None) -> tuple[Path, str]:
    """The active pack directory and where it came from (cli, env, user, bundled, source)."""
    if cli_dir:
        p = Path(cli_dir).expanduser()
        if not p.is_dir():
            raise PackError(f"--signatures directory not found: {p}")
        return p, "cli"
    env = os.environ.get("NETSCAN_SIGNATURES")
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise PackError(f"NETSCAN_SIGNATURES directory not found: {p}")
        return p, "env"
    user = user_pack_dir()
    if user.is_dir():
        return user, "user"
    bundled = _bundled_dir()
    if bundled.is_dir():
        return bundled, "bundled"
    src = _source_checkout_dir()
    if src.is_dir():
        return src, "source"
    raise PackError("no signature pack found (use --signatures DIR or set NETSCAN_SIGNATURES)")


def resolve_pack_dir(cli_dir: str | None) -> Path:
    """Lookup order: --signatures, $NETSCAN_SIGNATURES, user working copy, bundled copy."""
    return resolve_pack_source(cli_dir)[0]


def load_active_pack(cli_dir: str | None = None) -> Pack:
    """Resolve the active pack directory and load it."""
    path, origin = resolve_pack_source(cli_dir)
    return load_pack(path, origin=origin)
