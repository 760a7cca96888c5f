"""The premises inferred from the link: which global addresses belong to the premises.

The default premises are the private, link-local and ULA ranges. Networks with global
IPv6 (SLAAC or DHCPv6) or public IPv4 on the LAN would put their own devices off-site.
What the capture shows about the link says otherwise:

* **Router Advertisements**: the Prefix Information options are the link's prefixes; the
  routers that send them are gateways.
* **DHCPv6**: addresses assigned in IA_NA/IA_TA, prefixes delegated in IA_PD.
* **Frames straight from a MAC on the local link**: an address carried by the frames of a
  MAC that is not a gateway is a host on the link. A gateway is a MAC that sends a Router
  Advertisement, or carries off-site addresses for a host at a premises address (private
  IPv4, ULA), or carries off-site addresses in two or more networks (/64s for IPv6,
  addresses for IPv4). Without a gateway identified, MACs say nothing (the one remote
  host behind a gateway and a local host would look alike).

A range is only inferred when it is narrow enough to be a site (IPv6 /48 or longer,
IPv4 single addresses from frames); addresses already on the premises or of local scope
are not evidence. ``LinkEvidence`` collects during the run (bounded: MACs, addresses per
MAC, prefixes); ``infer`` decides at the end. When the inferred ranges cover an address
the run called off-site, the analysis driver (``netscan.analyze.Drive``) tells a fresh
inventory with them everything the engine told the run's (its ``SinkLog``), so every
decision (devices, conversations, upload bursts, findings) is made with them in one pass
over the input. The engines watch the uploads of every flow to an off-site address, also
from one the run's premises call off-site, for that reason.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from netscan import reasons as R

MAX_MACS = 10_000  # MACs whose off-site addresses are remembered
MAX_ADDRS_PER_MAC = 16  # addresses remembered per MAC (networks are counted up to 3)
MAX_PREFIXES = 256  # announced or assigned prefixes remembered
MAX_RANGES = 256  # inferred ranges reported
MIN_V6_PREFIX = 48  # a Router Advertisement or DHCPv6 prefix wider than this is ignored

_V6_LINK = 64  # the size of an IPv6 link (SLAAC)

# the sentences of the inference (reasons and notes): templates of netscan.reasons
RA_PREFIX, RA_PREFIX_FLAGS = R.RA_PREFIX, R.RA_PREFIX_FLAGS
DHCPV6_ASSIGNS, DHCPV6_DELEGATES, LOCAL_LINK = R.DHCPV6_ASSIGNS, R.DHCPV6_DELEGATES, R.LOCAL_LINK
NOTE_REJECTED, NOTE_DROPPED, NOTE_LEFT_OUT = R.NOTE_REJECTED, R.NOTE_DROPPED, R.NOTE_LEFT_OUT


def _net_key(ip: str) -> str:
    """The network an address counts in: its /64 for IPv6, itself for IPv4."""
    if ":" in ip:
        return str(ipaddress.IPv6Network((ip, _V6_LINK), strict=False))
    return ip


@dataclass
class InferredRange:
    range: str
    sources: list[str] = field(default_factory=list)  # router-advertisement, dhcpv6, local-link
    reasons: list[str] = field(default_factory=list)
    frames: list[tuple[int, int]] = field(default_factory=list)  # (file, frame)
    reason_parts: list[dict[str, Any]] = field(default_factory=list)  # how each reason was made

    def add(self, source: str, reason: dict[str, Any], file: int, frame: int) -> None:
        """``reason``: a part (``reasons.part``), kept with its English sentence."""
        if source not in self.sources:
            self.sources.append(source)
        self.add_reason(R.english(reason), reason)
        if len(self.frames) < 10 and (file, frame) not in self.frames and frame:
            self.frames.append((file, frame))

    def add_reason(self, text: str, part: dict[str, Any] | None) -> None:
        if len(self.reasons) < 5 and text not in self.reasons:
            self.reasons.append(text)
            self.reason_parts.append(part or {})

    def as_json(self) -> dict[str, Any]:
        return {
            "range": self.range,
            "sources": list(self.sources),
            "reasons": list(self.reasons),
            "reason_parts": list(self.reason_parts),
            "frames": [{"file": f, "frame": n} for f, n in self.frames],
        }


@dataclass
class Inference:
    """What the link says about the premises, and whether it was applied."""

    ranges: list[InferredRange] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    applied: bool = False
    origin: str = "default"  # default | given | default+inferred
    notes: list[str] = field(default_factory=list)
    note_parts: list[dict[str, Any]] = field(default_factory=list)  # how each note was made
    local_outside: list[str] = field(default_factory=list)  # local-link addresses outside

    def note(self, part: dict[str, Any]) -> None:
        self.notes.append(R.english(part))
        self.note_parts.append(part)

    @property
    def cidrs(self) -> list[str]:
        return [r.range for r in self.ranges]

    def covers(self, ip: str) -> bool:
        return self.covering([ip]) > 0

    def covering(self, ips: Any) -> int:
        """How many of ``ips`` fall in an inferred range (one set look-up per address and
        distinct prefix length, whatever the number of ranges)."""
        by_len: dict[tuple[int, int], set[int]] = {}
        for r in self.ranges:
            net = ipaddress.ip_network(r.range)
            by_len.setdefault((net.version, net.prefixlen), set()).add(int(net.network_address))
        masks = [(v, (1 << (32 if v == 4 else 128)) - (1 << ((32 if v == 4 else 128) - plen)),
                  starts) for (v, plen), starts in by_len.items()]  # fmt: skip
        n = 0
        for ip in ips:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                continue
            value, version = int(addr), addr.version
            if any(v == version and value & mask in starts for v, mask, starts in masks):
                n += 1
        return n

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "applied": self.applied,
            "gateways": list(self.gateways),
            "ranges": [r.as_json() for r in self.ranges],
            "notes": list(self.notes),
            "note_parts": list(self.note_parts),
            "local_outside": list(self.local_outside),
        }


def _merge(ranges: list[InferredRange]) -> list[InferredRange]:
    """Ranges inside a wider inferred range fold into it (their reasons kept), widest first."""
    nets = {r.range: ipaddress.ip_network(r.range) for r in ranges}
    ordered = sorted(ranges, key=lambda r: (nets[r.range].version, nets[r.range].prefixlen))
    kept: list[InferredRange] = []
    for r in ordered:
        net = nets[r.range]
        outer = next(
            (k for k in kept
             if nets[k.range].version == net.version and net.subnet_of(nets[k.range])),  # type: ignore[arg-type]
            None,
        )  # fmt: skip
        if outer is None:
            kept.append(r)
            continue
        for src in r.sources:
            if src not in outer.sources:
                outer.sources.append(src)
        for why, part in zip(r.reasons, r.reason_parts, strict=True):
            outer.add_reason(why, part)
        for fr in r.frames:
            if len(outer.frames) < 10 and fr not in outer.frames:
                outer.frames.append(fr)
    return sorted(kept, key=lambda r: (nets[r.range].version, nets[r.range]))


class LinkEvidence:
    """Facts about the link, collected while the engine runs (memory bounded)."""

    def __init__(self, max_macs: int = MAX_MACS) -> None:
        self.max_macs = max_macs
        # MAC -> off-site address -> (file, frame) of a frame that carried it
        self.carried: dict[str, dict[str, tuple[int, int]]] = {}
        self.nets: dict[str, set[str]] = {}  # MAC -> networks of those addresses (up to 3)
        self.gateways: dict[str, str] = {}  # MAC -> why it is a gateway
        self.announced: dict[
            str, tuple[str, dict[str, Any], int, int]
        ] = {}  # prefix -> source facts
        self.dropped = 0  # sightings beyond the bounds
        self.ra_senders: dict[str, int] = {}  # MAC -> first frame of its Router Advertisement

    # -- collection ---------------------------------------------------------------------

    def flow(self, flow: Any, sa: int, sb: int, frame: int) -> None:
        """A new flow with at least one side off-site (scope 2) under the run's premises."""
        for ip, mac, sc, other in (
            (flow.a_ip, flow.a_mac, sa, sb),
            (flow.b_ip, flow.b_mac, sb, sa),
        ):
            if sc != 2 or not mac or int(mac[:2], 16) & 1:
                continue
            if other == 0 and mac not in self.gateways:
                self.gateways[mac] = (
                    f"carries off-site address {ip} for a host at a premises address"
                )
            self._carry(mac, ip, flow.file, frame)

    def _carry(self, mac: str, ip: str, file: int, frame: int) -> None:
        addrs = self.carried.get(mac)
        if addrs is None:
            if len(self.carried) >= self.max_macs:
                self.dropped += 1
                return
            addrs = self.carried[mac] = {}
            self.nets[mac] = set()
        if ip in addrs:
            return
        nets = self.nets[mac]
        if len(nets) < 3:
            nets.add(_net_key(ip) + ("/v6" if ":" in ip else "/v4"))
        # past the bound a MAC's addresses add nothing: more IPv4 addresses make it a
        # gateway (its networks are counted), more IPv6 ones of a host share its /64
        if len(addrs) < MAX_ADDRS_PER_MAC:
            addrs[ip] = (file, frame)

    def router_advert(self, ev: Any) -> None:
        ctx = ev.ctx
        mac = ev.router_mac or ctx.src_mac
        if mac and not int(mac[:2], 16) & 1:
            self.gateways[mac] = f"sends Router Advertisements (frame {ctx.frame})"
            if len(self.ra_senders) < self.max_macs:
                self.ra_senders.setdefault(mac, ctx.frame)
        for prefix, on_link, auto in zip(ev.prefixes, ev.on_link, ev.autonomous, strict=False):
            flags = ", ".join(n for n, f in (("on-link", on_link), ("autonomous", auto)) if f)
            sender = mac or ctx.src_ip
            why = (R.part(RA_PREFIX_FLAGS, sender=sender, prefix=prefix, flags=flags) if flags
                   else R.part(RA_PREFIX, sender=sender, prefix=prefix))  # fmt: skip
            self._announce(prefix, "router-advertisement", why, ctx.file, ctx.frame)

    def dhcpv6(self, ev: Any) -> None:
        ctx = ev.ctx
        for addr in ev.addresses:
            why = R.part(DHCPV6_ASSIGNS, type=ev.msg_type, sender=ctx.src_ip, address=addr)
            self._announce(f"{addr}/128", "dhcpv6", why, ctx.file, ctx.frame)
        for prefix in ev.prefixes:
            why = R.part(DHCPV6_DELEGATES, type=ev.msg_type, sender=ctx.src_ip, prefix=prefix)
            self._announce(prefix, "dhcpv6", why, ctx.file, ctx.frame)

    def _announce(
        self, prefix: str, source: str, why: dict[str, Any], file: int, frame: int
    ) -> None:
        if prefix in self.announced:
            return
        if len(self.announced) >= MAX_PREFIXES:
            self.dropped += 1
            return
        self.announced[prefix] = (source, why, file, frame)

    # -- the decision -------------------------------------------------------------------

    def infer(self, premises: Any) -> Inference:
        """The ranges the link shows to be the premises' own, with their reasons."""
        out = Inference()
        ranges: dict[str, InferredRange] = {}
        rejected: list[str] = []

        left_out: set[str] = set()

        def add(rng: str, source: str, why: dict[str, Any], file: int, frame: int) -> None:
            r = ranges.get(rng)
            if r is None:
                if len(ranges) >= MAX_RANGES:
                    left_out.add(rng)
                    return
                r = ranges[rng] = InferredRange(rng)
            r.add(source, why, file, frame)

        for prefix, (source, why, file, frame) in self.announced.items():
            try:
                net = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                continue
            if net.version != 6 or net.prefixlen < MIN_V6_PREFIX or net.is_multicast:
                rejected.append(prefix)
                continue
            if premises.scope(str(net.network_address)) != 2:
                continue  # already on the premises (ULA) or of local scope
            add(str(net), source, why, file, frame)
        if rejected:
            out.note(R.part(NOTE_REJECTED, bits=MIN_V6_PREFIX, prefixes=", ".join(rejected[:10])))

        gateways = dict(self.gateways)
        for mac, nets in self.nets.items():
            v6 = sum(1 for n in nets if n.endswith("/v6"))
            v4 = sum(1 for n in nets if n.endswith("/v4"))
            if mac not in gateways and (v6 >= 2 or v4 >= 2):
                gateways[mac] = "carries off-site addresses of several networks"
        out.gateways = sorted(gateways)
        if gateways:
            for mac, addrs in self.carried.items():
                if mac in gateways:
                    continue
                for ip, (file, frame) in addrs.items():
                    rng = str(ipaddress.ip_network((ip, _V6_LINK if ":" in ip else 32),
                                                   strict=False))  # fmt: skip
                    why = R.part(LOCAL_LINK, ip=ip, mac=mac,
                                 gateways=", ".join(sorted(gateways)[:3]))  # fmt: skip
                    add(rng, "local-link", why, file, frame)
        if self.dropped:
            out.note(R.part(NOTE_DROPPED, n=self.dropped))
        if left_out:
            out.note(R.part(NOTE_LEFT_OUT, n=len(left_out), limit=MAX_RANGES))
        out.ranges = _merge(list(ranges.values()))
        return out

    def local_addresses(self, inference: Inference) -> list[str]:
        """Addresses whose frames come straight from a non-gateway MAC (given premises
        or not): they are never off-site."""
        gw = set(inference.gateways)
        if not gw:
            return []
        return sorted({ip for mac, addrs in self.carried.items() if mac not in gw for ip in addrs})
