"""WS-Discovery (SOAP over UDP 3702), as used by ONVIF cameras and Windows hosts.

Gives a ``WsdEvent`` per Probe, ProbeMatches, Hello, Bye, Resolve or ResolveMatches with
the Types and Scopes tokens as written (``dn:NetworkVideoTransmitter``,
``onvif://www.onvif.org/name/...``), the XAddrs and the EndpointReference address.

The XML comes from the network, so it is parsed defensively: at most 64 KB, no NUL bytes
(which rules out UTF-16/32 tricks), no DTD at all (so no entity expansion and no external
entities), decoded as UTF-8 by us so that an ``encoding`` declaration cannot hide markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from netscan.events import Ctx, Event, WsdEvent

XML_CAP = 64 * 1024
ACTIONS = ("Probe", "ProbeMatches", "Hello", "Bye", "Resolve", "ResolveMatches")
_ACTION_LOOKUP = {a.lower(): a for a in ACTIONS} | {
    "probematch": "ProbeMatches",
    "resolvematch": "ResolveMatches",
}
MAX_TOKENS = 256  # per list


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _safe_root(payload: bytes) -> ET.Element | None:
    if len(payload) > XML_CAP or b"\x00" in payload:
        return None
    text = payload.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return None
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        return None
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end < 0:
            return None
        text = text[end + 2 :]  # the declaration's encoding no longer applies: we decoded
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None


def _add_tokens(target: list[str], text: str | None) -> None:
    if not text:
        return
    for token in text.split():
        if token not in target and len(target) < MAX_TOKENS:
            target.append(token)


def parse(payload: bytes, ctx: Ctx) -> list[Event]:
    try:
        root = _safe_root(payload)
        if root is None or _local(root.tag) != "Envelope":
            return []
        action = ""
        body_action = ""
        types: list[str] = []
        scopes: list[str] = []
        xaddrs: list[str] = []
        endpoint: str | None = None
        in_body = False
        for elem in root.iter():
            name = _local(elem.tag)
            if name == "Action" and not action:
                uri = (elem.text or "").strip()
                action = _ACTION_LOOKUP.get(uri.rstrip("/").rsplit("/", 1)[-1].lower(), "")
            elif name == "Body":
                in_body = True
            elif in_body and not body_action and name.lower() in _ACTION_LOOKUP:
                body_action = _ACTION_LOOKUP[name.lower()]
            elif name == "Types":
                _add_tokens(types, elem.text)
            elif name == "Scopes":
                _add_tokens(scopes, elem.text)
            elif name == "XAddrs":
                _add_tokens(xaddrs, elem.text)
            elif name == "EndpointReference" and endpoint is None:
                for child in elem:
                    if _local(child.tag) == "Address" and child.text and child.text.strip():
                        endpoint = child.text.strip()
                        break
        action = action or body_action
        if not action:
            return []
        return [
            WsdEvent(
                ctx=ctx,
                action=action,
                types=types,
                scopes=scopes,
                xaddrs=xaddrs,
                endpoint=endpoint,
            )
        ]
    except Exception:  # never let a parsing problem escape
        return []
