"""Face libraries held off-site: enrolment records pushed to terminals and recorders.

A face terminal that uploads nothing may still prove that faces are held off-site: its
platform pushes it the face library (employees' and visitors' photos, face templates). This
module finds such pushes, from an off-site host to a device on the premises:

* plaintext HTTP requests *to* the device: Hikvision ISAPI face-library records
  (``/ISAPI/Intelligent/FDLib/…`` multipart with a ``FaceDataRecord`` and the picture),
  Dahua access-control face records (``/cgi-bin/AccessFace.cgi`` / ``FaceInfoManager.cgi``
  JSON with base64 ``PhotoData``);
* plaintext HTTP responses to a device's poll: ZKTeco ADMS ``getrequest`` commands
  (``DATA UPDATE USERINFO`` / ``BIOPHOTO`` / ``USERPIC`` / ``BIODATA`` / ``FACE``);
* encrypted bulk downloads to a face terminal from an off-site host (download-heavy).

Records and pictures are counted; pictures go through the same face detector as uploads.
The signatures naming these protocols, with their sources, are in the pack
(``signatures/protocol/face-library.yaml``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from netscan.analysis.content import (
    ZK_FACE_TYPES,
    _b64,
    boundary_of,
    carve_images,
    decode_b64_image,
    split_multipart,
)

MAX_RECORDS = 10_000  # records counted per push; beyond, counted as dropped
MAX_PICTURES_CHECKED = 64  # pictures run through the face detector per device → host
BULK_DOWN_MIN = 1_000_000  # encrypted: at least this many bytes down ...
BULK_DOWN_RATIO = 4.0  # ... and this many times what went up
LEVEL_RANK = {"confirmed": 3, "likely": 2, "possible": 1}

_ZK_CMD = re.compile(r"^C:[^:]{0,32}:DATA\s+(?:UPDATE|ADD)\s+(\w{1,16})\s+(.*)$", re.I)


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


def parse_zkteco(body: bytes) -> Push | None:
    """ADMS commands handed to a terminal in a getrequest answer."""
    push = Push("zkteco-adms", "ZKTeco ADMS getrequest commands")
    seen = False
    for line in body.decode("latin-1").splitlines():
        m = _ZK_CMD.match(line.strip())
        if not m:
            continue
        table, kv = m.group(1).upper(), _kv(m.group(2))
        pin = kv.get("PIN") or kv.get("Pin") or kv.get("pin") or ""
        if table in ("USERINFO", "USER", "BIOPHOTO", "USERPIC", "BIODATA", "FACE"):
            seen = True
            if pin and len(push.records) < MAX_RECORDS:
                push.records.add(pin)
        if table in ("BIOPHOTO", "USERPIC"):
            hit = decode_b64_image(kv.get("Content") or kv.get("content") or "")
            if hit is not None:
                push.pictures.append(hit)
        elif table in ("BIODATA", "FACE"):
            btype = kv.get("Type", "2" if table == "FACE" else "")
            tmpl = kv.get("Tmp") or kv.get("TMP")
            if tmpl and btype in ZK_FACE_TYPES and (_b64(tmpl) or tmpl):
                push.templates += 1
    return push if seen else None


def parse_isapi(path: str, content_type: str | None, body: bytes) -> Push | None:
    """A Hikvision ISAPI face-library record (FDLib FaceDataRecord / FDSetUp)."""
    if not path.lower().startswith("/isapi/intelligent/fdlib"):
        return None
    push = Push("hikvision-isapi", f"ISAPI face-library record {path.split('?')[0]}")
    parts = split_multipart(body, boundary_of(content_type or ""))
    chunks = [p.body for p in parts] if parts else [body]
    for chunk in chunks:
        doc = _json(chunk)
        if isinstance(doc, dict):
            rec = doc.get("FaceDataRecord", doc)
            if isinstance(rec, dict):
                rid = rec.get("FPID") or rec.get("employeeNo") or rec.get("name")
                if rid is not None:
                    push.records.add(str(rid)[:64])
        for _off, img, fmt in carve_images(chunk):
            push.pictures.append((img, fmt))
    if not push.records and push.pictures:
        push.records.add(f"record@{len(body)}")
    return push if push.records or push.pictures else None


def parse_dahua(path: str, body: bytes) -> Push | None:
    """Dahua access-control face records (AccessFace insertMulti, FaceInfoManager add)."""
    low = path.lower()
    if not low.startswith(("/cgi-bin/accessface.cgi", "/cgi-bin/faceinfomanager.cgi")):
        return None
    doc = _json(body)
    if not isinstance(doc, dict):
        return None
    entries = doc.get("FaceList") if isinstance(doc.get("FaceList"), list) else [doc]
    push = Push("dahua-http-api", f"Dahua face records {path.split('?')[0]}")
    for e in entries[:MAX_RECORDS]:
        if not isinstance(e, dict):
            continue
        info = e.get("Info") if isinstance(e.get("Info"), dict) else e
        uid = e.get("UserID") or info.get("UserID")
        if uid is not None:
            push.records.add(str(uid)[:64])
        photos = info.get("PhotoData") or e.get("PhotoData") or []
        for ph in photos if isinstance(photos, list) else [photos]:
            hit = decode_b64_image(str(ph)) if ph else None
            if hit is not None:
                push.pictures.append(hit)
    return push if push.records else None


def _json(data: bytes) -> Any:
    data = data.strip()
    if data[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return None


def parse_push(method: str, path: str, content_type: str | None, body: bytes) -> Push | None:
    path_only = urlsplit(path).path if path.startswith("/") else path
    if method == "RESPONSE":
        if path_only.lower().startswith("/iclock/getrequest"):
            return parse_zkteco(body)
        return None
    return parse_isapi(path, content_type, body) or parse_dahua(path, body)


def library_findings(
    inv: Any, convs: list[Any], country: str | None, checker: Any
) -> list[dict[str, Any]]:
    """Findings of kind ``face-library-sync``: one per premises device and off-site host."""
    from netscan.analysis import findings as fx

    files = list(getattr(inv, "files", []) or [])
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
        push = parse_push(ev.method, ev.path or "", ev.content_type, ev.body)
        if push is None:
            continue
        dev = fx._device_key(inv, ctx.dst_mac, dst)
        if dev is None:
            continue
        groups[(dev, src)].append((ev, push))
    out: list[dict[str, Any]] = []
    plain_pairs = set(groups)
    for (dkey, peer), pushes in sorted(groups.items()):
        out.append(_finding(inv, fx, files, dkey, peer, pushes, country, checker, convs))
    # encrypted bulk downloads to a face terminal
    down: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for c in convs:
        if (
            c.transport == "wlan"
            or c.peer_device is not None
            or not inv.premises.is_offsite(c.peer_ip)
        ):
            continue
        dev = inv.devices.get(c.device)
        if dev is None or dev.role != "face-terminal" or (c.device, c.peer_ip) in plain_pairs:
            continue
        if "tls" in c.protocols or "quic" in c.protocols or c.port in (443, 8443):
            down[(c.device, c.peer_ip)].append(c)
    for (dkey, peer), cs in sorted(down.items()):
        bd, bu = sum(c.bytes_down for c in cs), sum(c.bytes_up for c in cs)
        if bd >= BULK_DOWN_MIN and bd >= BULK_DOWN_RATIO * max(bu, 1):
            out.append(_bulk_finding(inv, fx, files, dkey, peer, cs, country))
    return out


def _common(
    inv: Any, fx: Any, dkey: str, peer: str, level: str, country: str | None
) -> dict[str, Any]:
    dev = inv.devices.get(dkey)
    ep = inv.endpoints.get(peer)
    dest = fx._destination(ep, peer)
    dest["ips"] = [peer]
    cross = fx._cross_border(country, dest)
    label = fx._device_label(dev, dkey)
    return {
        "id": fx.finding_id(dkey, "library:" + peer, level),
        "kind": "face-library-sync",
        "level": level,
        "device": dkey,
        "device_mac": dev.mac if dev else None,
        "device_ip": fx._first_ip(dev),
        "device_role": dev.role if dev else "unknown",
        "device_label": label,
        "path": [
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
                "role": dev.role if dev else "unknown",
                "label": label,
                "to": [],
                "how": None,
            },
        ],  # fmt: skip
        "destination": dest,
        "cross_border": cross,
        "provisions": fx.provisions_for(country, level, cross),
        "bursts": [],
        "image_bursts": 0,
        "shape": "library-download",
    }


def _finding(inv: Any, fx: Any, files: list[str], dkey: str, peer: str,
             pushes: list[tuple[Any, Push]], country: str | None, checker: Any,
             convs: list[Any]) -> dict[str, Any]:  # fmt: skip
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
               f"{p.what}: {len(p.records)} record(s), {len(p.pictures)} picture(s), "
               f"{p.templates} face template(s) pushed by {peer}")  # fmt: skip
        ts = e.ctx.ts
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
    level = "confirmed" if faces or templates else "likely"
    f = _common(inv, fx, dkey, peer, level, country)
    cs = [c for c in convs if c.device == dkey and c.peer_ip == peer]
    proto = ", ".join(sorted(protocols))
    f.update({
        "bytes_up": sum(c.bytes_up for c in cs),
        "bytes_down": sum(c.bytes_down for c in cs),
        "first_ts": fx._iso(first),
        "last_ts": fx._iso(last),
        "reason": (f"face library held off-site: {peer} pushed {len(records)} enrolment "
                   f"record(s) with {pictures} picture(s) ({faces} with a face detected) and "
                   f"{templates} face template(s) in plaintext ({proto}) to this device"),
        "evidence": ev.items,
        "faces": [],
        "face_images": faces,
        "flows": [],
        "transport": sorted({f"{c.transport}/{c.port}" for c in cs}),
        "plaintext": True,
        "library": {"protocols": sorted(protocols), "records": len(records),
                    "pictures": pictures, "faces_detected": faces, "templates": templates,
                    "encrypted": False},
    })  # fmt: skip
    return f


def _bulk_finding(inv: Any, fx: Any, files: list[str], dkey: str, peer: str, cs: list[Any],
                  country: str | None) -> dict[str, Any]:  # fmt: skip
    f = _common(inv, fx, dkey, peer, "possible", country)
    ev = fx._Ev(files)
    bd, bu = sum(c.bytes_down for c in cs), sum(c.bytes_up for c in cs)
    for c in cs:
        ev.add(c.first_frame[0], c.first_frame[1],
               f"encrypted {c.transport}/{c.port} from {peer}: {bd:,} bytes down, {bu:,} up")  # fmt: skip
    f.update({
        "bytes_up": bu,
        "bytes_down": bd,
        "first_ts": fx._iso(min(c.first_ts for c in cs)),
        "last_ts": fx._iso(max(c.last_ts for c in cs)),
        "reason": (f"face library possibly held off-site: encrypted bulk download of {bd:,} bytes "
                   f"(against {bu:,} up) to this face terminal from {peer}"),
        "evidence": ev.items,
        "faces": [],
        "face_images": 0,
        "flows": [],
        "transport": sorted({f"{c.transport}/{c.port}" for c in cs}),
        "plaintext": False,
        "library": {"protocols": [], "records": None, "pictures": None, "faces_detected": 0,
                    "templates": None, "encrypted": True},
    })  # fmt: skip
    return f
