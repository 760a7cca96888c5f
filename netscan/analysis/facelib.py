"""Face libraries held off-site: enrolment records pushed to terminals and recorders.

A face terminal that uploads nothing may still prove that faces are held off-site: its
platform pushes it the face library (employees' and visitors' photos, face templates). This
module finds such pushes, from an off-site host to a device on the premises:

* plaintext pushes described by the signature pack: every signature with a ``library``
  block (``signatures/protocol/face-library.yaml``) names its paths, which way the records
  travel (a request *to* the device, or the answer to the device's poll), how they are
  framed (``multipart-json``, ``json-records``, ``line-commands``) and the vendor's names
  for records, pictures and templates — Hikvision ISAPI face-library records, Dahua
  access-control face records, ZKTeco ADMS user, photo and template commands;
* encrypted bulk downloads to a face terminal from an off-site host (download-heavy).

Records and pictures are counted; pictures go through the same face detector as uploads.
The code here only knows the three framings; the protocol knowledge is data in the pack.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from netscan import reasons as R
from netscan.analysis.content import (
    _b64,
    boundary_of,
    carve_images,
    decode_b64_image,
    split_multipart,
)
from netscan.analysis.finding import Finding, Level, capture_missed, finding_id
from netscan.inventory.model import Role
from netscan.limits import LIBRARY_BULK_DOWN_MIN_BYTES, LIBRARY_BULK_DOWN_RATIO

MAX_RECORDS = 10_000  # records counted per push; beyond, counted as dropped
MAX_PICTURES_CHECKED = 64  # pictures run through the face detector per device → host
MAX_ID = 64  # characters of a record's id kept


@dataclass(frozen=True)
class Spec:
    """One pack signature's face-library knowledge."""

    sig_id: str
    name: str
    prefixes: tuple[str, ...]  # lower-case path prefixes
    lib: dict[str, Any]

    @property
    def protocol(self) -> str:
        return str(self.lib.get("protocol") or self.sig_id)

    @property
    def direction(self) -> str:
        return str(self.lib.get("direction") or "request")

    def words(self, key: str) -> list[str]:
        v = self.lib.get(key) or []
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]

    @cached_property
    def command(self) -> re.Pattern[str]:
        """line-commands: ``<prefix><id>:<verb> <TABLE> <fields>``, built from the pack's
        words (escaped: the pack supplies words, never a pattern)."""
        verbs = (
            "|".join(
                r"\s+".join(re.escape(w) for w in v.split()) for v in self.words("command_verbs")
            )
            or r"\S+"
        )
        prefix = re.escape(str(self.lib.get("command_prefix") or ""))
        return re.compile(rf"^{prefix}[^:]{{0,32}}:(?:{verbs})\s+(\w{{1,16}})\s+(.*)$", re.I)


def specs_from_pack(pack: Any) -> list[Spec]:
    out: list[Spec] = []
    for sig in getattr(pack, "signatures", None) or []:
        lib = getattr(sig, "library", None)
        if not lib:
            continue
        prefixes = tuple(
            str(e.value).lower()
            for e in sig.match
            if e.field == "http_path_prefix" and isinstance(e.value, str)
        )
        if prefixes:
            out.append(Spec(sig.id, sig.name, prefixes, dict(lib)))
    return out


_BUNDLED: list[Spec] | None = None


def _specs(inv: Any) -> list[Spec]:
    """The face-library knowledge of the pack the analysis runs with (the bundled pack when
    the inventory has no matcher)."""
    global _BUNDLED
    matcher = getattr(inv, "matcher", None)
    if matcher is not None and getattr(matcher, "pack", None) is not None:
        return specs_from_pack(matcher.pack)
    if _BUNDLED is None:
        from netscan.signatures.pack import load_pack, resolve_pack_source

        path, origin = resolve_pack_source(None)
        _BUNDLED = specs_from_pack(load_pack(path, origin))
    return _BUNDLED


@dataclass(slots=True)
class Push:
    protocol: str
    what: str
    records: set[str] = field(default_factory=set)
    pictures: list[tuple[bytes, str]] = field(default_factory=list)
    templates: int = 0


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split("\t"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _first(d: dict[str, Any], keys: list[str]) -> Any:
    for k in keys:
        v = d.get(k)
        if v is not None and v != "":
            return v
    return None


def parse_commands(spec: Spec, path: str, body: bytes) -> Push | None:
    """line-commands: records, pictures and templates handed to a device one per line."""
    push = Push(spec.protocol, f"{spec.name}: {path}")
    record_tables = {t.upper() for t in spec.words("record_tables")}
    picture_tables = {t.upper() for t in spec.words("picture_tables")}
    template_tables = {t.upper() for t in spec.words("template_tables")}
    face_tables = {t.upper() for t in spec.words("face_template_tables")}
    face_types = set(spec.words("face_template_types"))
    type_field = str(spec.lib.get("template_type_field") or "")
    ids, pics, tmpls = spec.words("record_ids"), spec.words("picture_fields"), spec.words(
        "template_fields")  # fmt: skip
    seen = False
    for line in body.decode("latin-1").splitlines():
        m = spec.command.match(line.strip())
        if not m:
            continue
        table, kv = m.group(1).upper(), _kv(m.group(2))
        if table not in record_tables | picture_tables | template_tables:
            continue
        seen = True
        rid = _first(kv, ids)
        if rid and table in record_tables and len(push.records) < MAX_RECORDS:
            push.records.add(str(rid)[:MAX_ID])
        if table in picture_tables:
            hit = decode_b64_image(str(_first(kv, pics) or ""))
            if hit is not None:
                push.pictures.append(hit)
        if table in template_tables:
            tmpl = _first(kv, tmpls)
            face = table in face_tables or (type_field and kv.get(type_field) in face_types)
            if tmpl and face and (_b64(tmpl) or tmpl):
                push.templates += 1
    return push if seen else None


def parse_multipart_records(spec: Spec, path: str, content_type: str | None,
                            body: bytes) -> Push | None:  # fmt: skip
    """multipart-json: a JSON record part (optionally wrapped in the container key) beside
    the picture parts; a body that is not multipart is read as one part."""
    push = Push(spec.protocol, f"{spec.name}: {path}")
    container = str(spec.lib.get("record_container") or "")
    ids = spec.words("record_ids")
    parts = split_multipart(body, boundary_of(content_type or ""))
    chunks = [p.body for p in parts] if parts else [body]
    for chunk in chunks:
        doc = _json(chunk)
        if isinstance(doc, dict):
            rec = doc.get(container, doc) if container else doc
            if isinstance(rec, dict):
                rid = _first(rec, ids)
                if rid is not None and len(push.records) < MAX_RECORDS:
                    push.records.add(str(rid)[:MAX_ID])
        for _off, img, fmt in carve_images(chunk):
            push.pictures.append((img, fmt))
    if not push.records and push.pictures:
        push.records.add(f"record@{len(body)}")
    return push if push.records or push.pictures else None


def parse_json_records(spec: Spec, path: str, body: bytes) -> Push | None:
    """json-records: a list of records (or one record), each with base64 pictures."""
    doc = _json(body)
    if not isinstance(doc, dict):
        return None
    lists = [doc[k] for k in spec.words("record_lists") if isinstance(doc.get(k), list)]
    entries = lists[0] if lists else [doc]
    info_key = str(spec.lib.get("record_info") or "")
    ids, pics = spec.words("record_ids"), spec.words("picture_fields")
    push = Push(spec.protocol, f"{spec.name}: {path}")
    for e in entries[:MAX_RECORDS]:
        if not isinstance(e, dict):
            continue
        info = e.get(info_key) if info_key and isinstance(e.get(info_key), dict) else e
        rid = _first(e, ids) if _first(e, ids) is not None else _first(info, ids)
        if rid is not None:
            push.records.add(str(rid)[:MAX_ID])
        photos = _first(info, pics) or _first(e, pics) or []
        for ph in (photos if isinstance(photos, list) else [photos])[:MAX_RECORDS]:
            hit = decode_b64_image(ph) if isinstance(ph, str) and ph else None
            if hit is not None:
                push.pictures.append(hit)
    return push if push.records else None


def _json(data: bytes) -> Any:
    data = data.strip()
    if data[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # nested deeper than the decoder goes
        return None


def parse_push(method: str, path: str, content_type: str | None, body: bytes,
               specs: list[Spec]) -> Push | None:  # fmt: skip
    """The push in one HTTP body, by the first pack signature whose direction and path fit."""
    path_only = urlsplit(path).path if path.startswith("/") else path
    direction = "response" if method == "RESPONSE" else "request"
    low = path_only.lower()
    for spec in specs:
        if spec.direction != direction or not low.startswith(spec.prefixes):
            continue
        fmt = spec.lib.get("format")
        if fmt == "line-commands":
            push = parse_commands(spec, path_only, body)
        elif fmt == "multipart-json":
            push = parse_multipart_records(spec, path_only, content_type, body)
        elif fmt == "json-records":
            push = parse_json_records(spec, path_only, body)
        else:
            push = None
        if push is not None:
            return push
    return None


def library_findings(
    inv: Any, convs: list[Any], country: str | None, checker: Any
) -> list[Finding]:
    """Findings of kind ``face-library-sync``: one per premises device and off-site host."""
    from netscan.analysis import findings as fx

    files = list(getattr(inv, "files", []) or [])
    specs = _specs(inv)
    groups: dict[tuple[str, str], list[tuple[Any, Push]]] = defaultdict(list)
    for ev in inv.bodies:
        ctx = ev.ctx
        src, dst = ctx.src_ip or "", ctx.dst_ip or ""
        if (
            not src
            or not dst
            or not inv.premises.is_offsite(src)
            or not inv.premises.is_premises(dst)
        ):
            continue
        push = parse_push(ev.method, ev.path or "", ev.content_type, ev.body, specs)
        if push is None:
            continue
        dev = fx._device_key(inv, ctx.dst_mac, dst)
        if dev is None:
            continue
        groups[(dev, src)].append((ev, push))
    out: list[Finding] = []
    plain_pairs = set(groups)
    for (dkey, peer), pushes in sorted(groups.items()):
        out.append(_finding(inv, fx, files, dkey, peer, pushes, country, checker, convs))
    # encrypted bulk downloads to a face terminal
    down: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for c in convs:
        dev = inv.devices.get(c.device)
        if dev is None or dev.role != Role.FACE_TERMINAL:
            continue
        if (
            c.transport == "wlan"
            or c.peer_device is not None
            or not inv.premises.is_offsite(c.peer_ip)
            or (c.device, c.peer_ip) in plain_pairs
        ):
            continue
        if "tls" in c.protocols or "quic" in c.protocols or c.port in (443, 8443):
            down[(c.device, c.peer_ip)].append(c)
    for (dkey, peer), cs in sorted(down.items()):
        bd, bu = sum(c.bytes_down for c in cs), sum(c.bytes_up for c in cs)
        if bd >= LIBRARY_BULK_DOWN_MIN_BYTES and bd >= LIBRARY_BULK_DOWN_RATIO * max(bu, 1):
            out.append(_bulk_finding(inv, fx, files, dkey, peer, cs, country))
    return out


def _library_finding(inv: Any, fx: Any, dkey: str, peer: str, level: Level,
                     country: str | None, *, bytes_up: int, bytes_down: int,
                     first: float | None, last: float | None, parts: list[dict[str, Any]],
                     evidence: list[dict[str, Any]], face_images: int, transport: list[str],
                     plaintext: bool, library: dict[str, Any],
                     convs: list[Any]) -> Finding:  # fmt: skip
    """A ``face-library-sync`` finding: ``peer`` (off-site) pushes a face library to ``dkey``."""
    dev = inv.devices.get(dkey)
    ep = inv.endpoints.get(peer)
    dest = fx._destination(ep, peer)
    dest.ips = [peer]
    cross = fx._cross_border(country, dest)
    label = fx._device_label(dev, dkey)
    return Finding(
        id=finding_id(dkey, "library:" + peer, level),
        kind="face-library-sync",
        level=level,
        device=dkey,
        device_mac=dev.mac if dev else None,
        device_ip=fx._first_ip(dev),
        device_role=dev.role if dev else Role.UNKNOWN.value,
        device_label=label,
        path=[
            {
                "stage": 0,
                "kind": "endpoint",
                "key": peer,
                "ip": peer,
                "label": fx._endpoint_label(ep, peer),
                "to": [dkey],
                "how": "pushes face library",
            },
            {
                "stage": 1,
                "kind": "device",
                "key": dkey,
                "mac": dev.mac if dev else None,
                "ip": fx._first_ip(dev),
                "role": dev.role if dev else Role.UNKNOWN.value,
                "label": label,
                "to": [],
                "how": None,
            },
        ],
        destination=dest,
        bytes_up=bytes_up,
        bytes_down=bytes_down,
        bursts=[],
        image_bursts=0,
        shape="library-download",
        first_ts=fx._iso(first),
        last_ts=fx._iso(last),
        reason=R.join(parts),
        reason_parts=parts,
        evidence=evidence,
        faces=[],
        face_images=face_images,
        flows=[],
        cross_border=cross,
        provisions=fx.provisions_for(country, level, cross),
        transport=transport,
        plaintext=plaintext,
        capture_missed=capture_missed(convs),
        library=library,
    )


def _finding(inv: Any, fx: Any, files: list[str], dkey: str, peer: str,
             pushes: list[tuple[Any, Push]], country: str | None, checker: Any,
             convs: list[Any]) -> Finding:  # fmt: skip
    records: set[str] = set()
    pictures = templates = faces = checked = 0
    protocols: set[str] = set()
    ev = fx._Ev(files)
    first = last = None
    for e, p in pushes:
        protocols.add(p.protocol)
        records |= {f"{p.protocol}:{r}" for r in p.records}
        pictures += len(p.pictures)
        templates += p.templates
        for img, fmt in p.pictures:
            if checked >= MAX_PICTURES_CHECKED:
                break
            checked += 1
            chk = checker.check(img, fmt or "jpeg")
            if chk.faces:
                faces += 1
        ev.add(e.ctx.file, e.first_frame or e.ctx.frame,
               R.phrase(R.EV_LIBRARY_PUSH, what=p.what, records=len(p.records),
                        pictures=len(p.pictures), templates=p.templates, peer=peer))  # fmt: skip
        ts = e.ctx.ts
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
    level = Level.CONFIRMED if faces or templates else Level.LIKELY
    cs = [c for c in convs if c.device == dkey and c.peer_ip == peer]
    proto = ", ".join(sorted(protocols))
    parts = [
        R.part(
            "face library held off-site: {peer} pushed {records} enrolment record(s) with "
            "{pictures} picture(s) ({faces} with a face detected) and {templates} face template(s) "
            "in plaintext ({protocols}) to this device",
            peer=peer,
            records=len(records),
            pictures=pictures,
            faces=faces,
            templates=templates,
            protocols=proto,
        )
    ]
    return _library_finding(
        inv, fx, dkey, peer, level, country,
        bytes_up=sum(c.bytes_up for c in cs),
        bytes_down=sum(c.bytes_down for c in cs),
        first=first, last=last, parts=parts, evidence=ev.items, face_images=faces,
        transport=sorted({f"{c.transport}/{c.port}" for c in cs}),
        plaintext=True,
        library={"protocols": sorted(protocols), "records": len(records),
                 "pictures": pictures, "faces_detected": faces, "templates": templates,
                 "encrypted": False},
        convs=cs,
    )  # fmt: skip


def _bulk_finding(inv: Any, fx: Any, files: list[str], dkey: str, peer: str, cs: list[Any],
                  country: str | None) -> Finding:  # fmt: skip
    ev = fx._Ev(files)
    bd, bu = sum(c.bytes_down for c in cs), sum(c.bytes_up for c in cs)
    for c in cs:
        ev.add(c.first_frame[0], c.first_frame[1],
               R.phrase(R.EV_LIBRARY_BULK, transport=c.transport, port=c.port, peer=peer,
                        down=bd, up=bu))  # fmt: skip
    parts = [
        R.part(
            "face library possibly held off-site: encrypted bulk download of {down:,} bytes "
            "(against {up:,} up) to this face terminal from {peer}",
            down=bd,
            up=bu,
            peer=peer,
        )
    ]
    return _library_finding(
        inv, fx, dkey, peer, Level.POSSIBLE, country,
        bytes_up=bu, bytes_down=bd,
        first=min(c.first_ts for c in cs), last=max(c.last_ts for c in cs),
        parts=parts, evidence=ev.items, face_images=0,
        transport=sorted({f"{c.transport}/{c.port}" for c in cs}),
        plaintext=False,
        library={"protocols": [], "records": None, "pictures": None, "faces_detected": 0,
                 "templates": None, "encrypted": True},
        convs=cs,
    )  # fmt: skip
