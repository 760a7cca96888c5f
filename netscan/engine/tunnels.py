"""Remote-mirror encapsulations, for the tshark engine: the core's rule (``src/decode/
tunnel.rs``) applied to what tshark dissected.

A switch's remote SPAN (ERSPAN types I, II and III in GRE), a bridge over GRE (transparent
Ethernet bridging), a virtual network's or a cloud's traffic mirror (VXLAN to UDP 4789,
GENEVE to UDP 6081) carry whole frames of the premises to a collector. The frame inside is
the traffic to analyse: its addresses, its ports, and its length (the outer packet's payload
from where the frame starts). The outer packet is no conversation. A routed tunnel (IP in
IP, IP in GRE, Teredo) is one, and is not opened; neither is a fragment of an outer packet.

tshark dissects the outer and the inner layers alike, giving each field once per layer in
the order of the layers: opening an encapsulation drops the outer layers' values.

An encapsulation to or from an address off the premises is a conversation of its own, as
in the core: a device that wrapped its uploads in VXLAN to a server abroad must not hide
that conversation behind the frame it chose to wrap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netscan import _core
from netscan.engine.ek import Layers, to_int
from netscan.engine.ek import first as _first
from netscan.engine.ek import flag as _flag

MAX_DEPTH: int = _core.TUNNEL_DEPTH  # encapsulations opened within one frame, at most
MAX_SESSIONS: int = _core.MIRROR_SESSIONS  # mirror sessions listed, at most


@dataclass
class Sessions:
    """The mirror sessions a capture's encapsulated frames came in: the outermost
    encapsulation's source and destination addresses and kind, with its frames, in order of
    first frame (at most ``MAX_SESSIONS``; the frames of any other session are counted in
    ``unlisted``). The report's ``summary.mirror_sessions``: which switch or hypervisor
    mirrors to which collector, and a device that wrapped frames of its own."""

    listed: list[tuple[str, str, str, int]] = field(default_factory=list)
    unlisted: int = 0

    def add(self, source: str, destination: str, kind: str) -> None:
        for i, (s, d, k, n) in enumerate(self.listed):
            if (s, d, k) == (source, destination, kind):
                self.listed[i] = (s, d, k, n + 1)
                return
        if len(self.listed) < MAX_SESSIONS:
            self.listed.append((source, destination, kind, 1))
        else:
            self.unlisted += 1

    def report(self) -> list[dict[str, Any]]:
        """The report's rows, the busiest first."""
        rows = sorted(self.listed, key=lambda r: -r[3])
        return [{"source": s, "destination": d, "kind": k, "frames": n} for s, d, k, n in rows]


_VXLAN_PORT = 4789
_GENEVE_PORT = 6081
# the layers outside an encapsulation whose fields are dropped as it is opened (IPv6: only
# its fixed header's fields, given once per header; an outer packet with extension headers
# is rare, and its fields are left as they are)
_OUTER_FIELDS = {"eth": ("eth_",), "ip": ("ip_",), "udp": ("udp_",), "gre": ("gre_",),
                 "erspan": ("erspan_",), "vxlan": ("vxlan_",), "geneve": ("geneve_",),
                 "ipv6": ("ipv6_src", "ipv6_dst", "ipv6_nxt", "ipv6_plen", "ipv6_hlim",
                          "ipv6_flow")}  # fmt: skip


def _int(value: str | None) -> int:
    return to_int(value, -1)


def _encapsulation(protos: list[str]) -> tuple[int, str] | None:
    """Where the first encapsulation the core opens ends in ``protos`` (the index of the
    inner frame's first layer) and the report's name for it; None without one."""
    for i, p in enumerate(protos[:-1]):
        if p == "erspan":
            return i + 1, "erspan"
        if p == "gre" and protos[i + 1] == "eth":
            return i + 1, "gre_ethernet"
        if p in ("vxlan", "geneve"):
            return i + 1, p
    return None


def _inner_length(
    layers: Layers, outer: list[str], name: str, mirror: Callable[[str, str], bool]
) -> int | None:
    """The inner frame's length: the outer packet's payload less the encapsulation's own
    headers; None when the core would not open it."""
    if "ip" in outer:
        if _flag(_first(layers, "ip_flags_mf")) or _int(_first(layers, "ip_frag_offset")) > 0:
            return None
        payload = _int(_first(layers, "ip_len")) - _int(_first(layers, "ip_hdr_len"))
        net = "ip"
    elif "ipv6" in outer:
        if _first(layers, "ipv6_fraghdr_ident") is not None:
            return None
        payload = _int(_first(layers, "ipv6_plen"))
        net = "ipv6"
    else:
        return None
    if not mirror(_first(layers, f"{net}_src") or "", _first(layers, f"{net}_dst") or ""):
        return None
    if name in ("vxlan", "geneve"):
        port = _VXLAN_PORT if name == "vxlan" else _GENEVE_PORT
        head = _first(layers, "udp_payload") or ""
        first = _int("0x" + head[:2]) if len(head) >= 16 else -1  # the header's first byte
        if _int(_first(layers, "udp_dstport")) != port or first < 0:
            return None
        if name == "vxlan":
            return payload - 16 if first & 0x08 else None
        return payload - 16 - (first & 0x3F) * 4 if first >> 6 == 0 else None
    gre = 4 + 4 * sum(_flag(_first(layers, f"gre_flags_{f}"))
                      for f in ("checksum", "key", "sequence_number"))  # fmt: skip
    if name == "erspan" and _flag(_first(layers, "gre_flags_sequence_number")):
        version = _first(layers, "erspan_version")
        if version == "1":
            gre += 8
        elif version == "2":
            gre += 12 + (8 if _flag(_first(layers, "erspan_o")) else 0)
        else:
            return None
    return payload - gre


def open_tunnels(
    layers: Layers,
    protos: list[str],
    mirror: Callable[[str, str], bool],
    sessions: Sessions | None = None,
) -> tuple[list[str], str | None, int]:
    """The frame inside the remote-mirror encapsulations of one frame (up to ``MAX_DEPTH``):
    its layers (``protos``, from its link layer on; ``layers`` is changed in place to hold
    only its values), the report's name of the outermost encapsulation (None: none opened)
    and the inner frame's length (-1 when none was opened). ``mirror`` says whether a
    packet between two addresses (source, destination) may be a mirror's; the outermost
    encapsulation's session is counted in ``sessions``."""
    name_out: str | None = None
    length = -1
    for _ in range(MAX_DEPTH):
        found = _encapsulation(protos)
        if found is None:
            break
        at, name = found
        outer = protos[:at]
        inner = _inner_length(layers, outer, name, mirror)
        if inner is None or inner <= 0:
            break
        if name_out is None and sessions is not None:
            net = "ip" if "ip" in outer else "ipv6"
            sessions.add(_first(layers, f"{net}_src") or "", _first(layers, f"{net}_dst") or "",
                         name)  # fmt: skip
        for layer, prefixes in _OUTER_FIELDS.items():
            n = outer.count(layer)
            if not n:
                continue
            for key in [k for k in layers if k.startswith(prefixes)]:
                layers[key] = layers[key][n:]
        protos = protos[at:]
        name_out = name_out or name
        length = inner if length < 0 else min(inner, length)
    return protos, name_out, length
