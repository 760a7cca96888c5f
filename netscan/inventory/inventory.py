"""The premises inventory: devices, off-site endpoints, conversations and their graph.

The inventory is the engines' sink: it receives new flows, protocol events and the
first frame of every source MAC, and keeps what the report, the analysis and the TUI
need. Its size grows with devices and flows, never with packets, and every table is
bounded by ``netscan.limits.Limits``: devices, endpoints, passive DNS, conversations held
(the smallest are folded into per-device totals: ``folded``), request bodies. Flows the
engine retires (``on_flow_end``) are folded into their conversation at once.
``limit_warnings()`` says what each bound dropped or folded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from netscan import limits as _limits
from netscan import reasons as R

if TYPE_CHECKING:
    import networkx as nx
from netscan.events import (
    ArpEvent,
    DhcpEvent,
    Dhcpv6Event,
    DnsEvent,
    Event,
    HttpBodyEvent,
    HttpRequestEvent,
    HttpResponseEvent,
    NbnsEvent,
    RouterAdvertEvent,
    RtspEvent,
    SipEvent,
    SsdpEvent,
    TlsCertificateEvent,
    TlsClientHelloEvent,
    VendorDiscoveryEvent,
    WsdEvent,
)
from netscan.flow import PROTO_NAMES, BurstList, Flow
from netscan.inventory.enrich import Geo, Premises
from netscan.inventory.linkscope import LinkEvidence
from netscan.inventory.model import (
    MAX_IPS,
    MAX_NAMES,
    MAX_SERVICES,
    Conversation,
    Device,
    Endpoint,
    FlowTotals,
)
from netscan.inventory.oui import oui_vendor
from netscan.limits import INVENTORY_MAX_EVIDENCE
from netscan.observations import (
    CLOUD_SIDE,
    DEVICE_SIDE,
    EVENT_OBSERVERS,
    NAMED_SENDER,
    address_observations,
    port_observation,
)

MAX_BODIES = _limits.Limits().bodies  # defaults; the run's limits may differ
MAX_BODY_BYTES = _limits.Limits().body_bytes
ConvKey = tuple[str, str, str, int]
MAX_CONV_BURSTS = 20_000  # upload bursts one conversation keeps (each flow keeps 2000)
# mDNS TXT keys that name the device's model or maker (Apple device-info, IPP/LPD printers)
MDNS_MODEL_KEYS = frozenset({"model", "ty", "usb_mdl", "mdl", "product"})
MDNS_MAKER_KEYS = frozenset({"usb_mfg", "mfg", "manufacturer"})
MDNS_TXT_VALUE = 100  # characters kept of one TXT value
MAX_REQUESTED_PATHS = 32  # distinct request paths kept per device (role rules read them)
MAX_PATH_CHARS = 256
# upload bursts all held conversations keep together (32 bytes each): a flood of one-packet
# uploads in many conversations must not grow memory without end
MAX_HELD_BURSTS = 500_000
# the role hints of an ONVIF discovery answer (the same text and part every time)
ONVIF_TRANSMITTER = R.phrase(R.ROLE_ONVIF_TRANSMITTER)
ONVIF_RECORDER = R.phrase(R.ROLE_ONVIF_RECORDER)
SEAL_CHUNK = 4096  # conversation rows taken from the engine at a time (seal_groups)


def _clone(c: Conversation) -> Conversation:
    """A copy of a held conversation that live flows can be added to."""
    return replace(c, frames=list(c.frames), protocols=set(c.protocols), bursts=BurstList(c.bursts))


def _add_bursts(conv: Conversation, raw: bytes, counts: list[int]) -> int:
    """Adds the upload bursts of a run of flows (packed, ``counts`` of them each, in flow
    order) to a conversation as ``_add_flow`` does, one flow at a time: each flow's all
    while the conversation holds fewer than its bound. Returns how many were added."""
    cb = conv.bursts
    total = len(raw) >> 5
    if len(cb) + total - counts[-1] < MAX_CONV_BURSTS:
        cb.extend(BurstList.from_bytes(raw))  # type: ignore[attr-defined]
        return total
    added = pos = 0
    for c in counts:
        if len(cb) < MAX_CONV_BURSTS:
            cb.extend(BurstList.from_bytes(raw[pos << 5 : (pos + c) << 5]))  # type: ignore[attr-defined]
            added += c
        pos += c
    return added


def _hit_what(m: Any) -> tuple[str, dict[str, Any]]:
    """The evidence line of a signature hit (and its part); a content marker names its
    carrying protocol and the part that holds the image (the pack's ``protocol`` and
    ``image_field``)."""
    carrier = getattr(m, "protocol", None)
    image = getattr(m, "image_field", None)
    args: dict[str, Any] = {"field": str(m.field), "value": repr(m.value), "signature": m.sig_id}
    if carrier and image:
        return R.phrase(R.EV_HIT_PROTOCOL_IMAGE, **args, protocol=carrier, image=image)
    if carrier:
        return R.phrase(R.EV_HIT_PROTOCOL, **args, protocol=carrier)
    if image:
        return R.phrase(R.EV_HIT_IMAGE, **args, image=image)
    return R.phrase(R.EV_HIT, **args)


def _is_ip_literal(host: str) -> bool:
    h = host.strip("[]")
    if h.replace(".", "").isdigit():
        return True
    return ":" in h and all(c in "0123456789abcdefABCDEF:." for c in h)


def _strip_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _handlers(cls: type) -> dict[str, Any]:
    """Event kind -> the class's ``_on_<kind>`` handler (a plain function, called with the
    inventory first): one dictionary look-up per event instead of a name built and an
    attribute searched."""
    return {
        name[len("_on_") :]: fn
        for name in dir(cls)
        if name.startswith("_on_") and callable(fn := getattr(cls, name))
    }


def burst_policy(premises: Premises, flow: Flow) -> None:
    """Record upload bursts on flows from the premises to an off-site host."""
    if (
        flow.bursts is None
        and premises.is_offsite(flow.b_ip)
        and not premises.is_offsite(flow.a_ip)
    ):
        flow.track_bursts()


class Inventory:
    def __init__(
        self,
        premises: Premises | None = None,
        matcher: Any = None,
        files: list[str] | None = None,
        limits: _limits.Limits | None = None,
    ) -> None:
        self.limits = _limits.resolve(limits)
        self.premises = premises or Premises()
        self.matcher = matcher
        self.files = files or []
        self.geo = Geo()
        self.devices: dict[str, Device] = {}
        self.endpoints: dict[str, Endpoint] = {}
        # live flows (insertion order; keyed by the objects themselves, which hash by
        # identity: no per-flow id integer)
        self._live: dict[Flow, None] = {}
        self._retired: dict[ConvKey, Conversation] = {}  # conversations of retired flows
        self.folded: dict[tuple[str, str], FlowTotals] = {}  # conversations folded away
        self.flows_ended = 0  # flows retired by the engine and folded in
        self._bursts_held = 0  # upload bursts the held conversations keep
        self.bursts_dropped = 0  # ... and those beyond MAX_HELD_BURSTS, not kept
        self.conversations_folded = 0
        # what the bounds kept out (distinct keys, counted up to the bound itself)
        self._unlisted_devices: set[str] = set()
        self._unlisted_endpoints: set[str] = set()
        self.dns_unlisted = 0  # passive DNS answers for addresses beyond the table
        # passive DNS from the capture: ip -> {name: (file, frame) of the answer}
        self.passive_dns: dict[str, dict[str, tuple[int, int]]] = {}
        self.bodies: list[HttpBodyEvent] = []
        self._body_bytes = 0
        self.bodies_dropped = 0  # request bodies beyond the budget, not analysed for faces
        # the device/endpoint graph, built when first asked for (networkx is a large
        # import, and no report needs the graph): from the last finalize's conversations
        self._graph: nx.DiGraph | None = None
        self._graph_convs: list[Conversation] | None = None
        self.event_counts: dict[str, int] = {}
        self._ip_to_device: dict[str, str] = {}
        self._seen_pairs: dict[tuple[str | None, str], Device] = {}  # (mac, ip) -> device
        self._synced_flows = 0
        self.link = LinkEvidence()  # what the link says about the premises (linkscope)
        # event kind -> its handler (``_on_<kind>``), looked up once per class
        self._handlers: dict[str, Any] | None = None
        # the signature hits of the events told, by event identity (see ``_observe``)
        self.hits_memo: dict[int, list[Any]] | None = None
        self.hits_given: dict[int, list[Any]] | None = None

    @property
    def flows(self) -> list[Flow]:
        """The live flows (the engine has not retired), in order of appearance."""
        return list(self._live)

    # -- devices and endpoints ---------------------------------------------------------

    def _full(self, table: dict[str, Any], limit: int, unlisted: set[str], key: str) -> bool:
        """Whether ``table`` has no room for ``key`` (which is then counted as unlisted)."""
        if len(table) < limit:
            return False
        if len(unlisted) < limit:
            unlisted.add(key)
        return True

    def device(self, mac: str, file: int, frame: int, ts: float) -> Device:
        dev = self.devices.get(mac)
        if dev is None:
            dev = Device(key=mac, mac=mac, first_ts=ts, last_ts=ts, first_frame=(file, frame))
            if self._full(self.devices, self.limits.devices, self._unlisted_devices, mac):
                return dev  # beyond the bound: a stand-in that is not kept
            dev.vendor = oui_vendor(mac)
            self.devices[mac] = dev
            if self.matcher is not None:
                for m in self.matcher.match_mac(mac, dev.vendor):
                    self._device_match(dev, m, file, frame)
        else:
            dev.seen(ts)
        return dev

    def device_for(
        self, mac: str | None, ip: str | None, file: int, frame: int, ts: float
    ) -> Device | None:
        """The premises device behind a MAC (or, without MACs, behind a premises IP)."""
        if mac:
            if int(mac[:2], 16) & 1:
                return None
            dev = self.devices.get(mac)
            if dev is None:
                return self.device(mac, file, frame, ts)
            if ts < dev.first_ts:  # a known device (Device.seen)
                dev.first_ts = ts
            if ts > dev.last_ts:
                dev.last_ts = ts
            return dev
        if mac is None and ip and self.premises.scope(ip) == 0:
            key = self._ip_to_device.get(ip) or f"ip:{ip}"
            dev = self.devices.get(key)
            if dev is None:
                dev = Device(key=key, mac=None, first_ts=ts, last_ts=ts, first_frame=(file, frame))
                if self._full(self.devices, self.limits.devices, self._unlisted_devices, key):
                    return dev
                self.devices[key] = dev
            dev.add_ip(ip, ts)
            return dev
        return None

    def endpoint(self, ip: str, anonymous: bool = False) -> Endpoint:
        """The off-site endpoint at ``ip``. Past the endpoint limit only addresses with a
        name or a signature are still listed (up to twice the limit); an ``anonymous``
        sighting (a bare flow) then gets a stand-in that is not kept."""
        ep = self.endpoints.get(ip)
        if ep is not None:
            return ep
        ep = Endpoint(ip=ip)
        cap = self.limits.endpoints
        if len(self.endpoints) >= cap:
            known = ip in self.passive_dns or (
                self.matcher is not None and bool(self.matcher.match_ip(ip))
            )
            hard = cap if anonymous or not known else 2 * cap
            if self._full(self.endpoints, hard, self._unlisted_endpoints, ip):
                return ep
        self.endpoints[ip] = ep
        for name, (file, frame) in self.passive_dns.get(ip, {}).items():
            self._endpoint_name(ep, name, "dns", file, frame)
        if self.matcher is not None:
            for m in self.matcher.match_observations(address_observations(ip)):
                self._endpoint_match(ep, m, 0, 0)
        return ep

    def _endpoint_name(self, ep: Endpoint, name: str, how: str, file: int, frame: int) -> None:
        if ep.add_name(name, how) and self.matcher is not None:
            for m in self.matcher.match_name(name.lower().rstrip(".")):
                self._endpoint_match(ep, m, file, frame)

    def _endpoint_match(self, ep: Endpoint, m: Any, file: int, frame: int) -> None:
        if m.category not in ("face-cloud", "vendor-cloud"):
            return
        if m.sig_id not in ep.matches:
            ep.matches[m.sig_id] = {
                "sig_id": m.sig_id, "name": m.name, "category": m.category, "vendor": m.vendor,
                "jurisdiction": m.jurisdiction, "field": m.field, "value": m.value,
                "confidence": m.confidence, "frame": frame, "file": file,
            }  # fmt: skip
        # a face cloud outranks a vendor cloud; otherwise the most confident match wins
        rank = {"face-cloud": 2, "vendor-cloud": 1}
        best = max(ep.matches.values(), key=lambda x: (rank.get(x["category"], 0), x["confidence"]))
        ep.provider = best["vendor"] or best["name"]
        ep.category = best["category"]
        ep.add_evidence(file, frame, _hit_what(m), m.sig_id)

    def _device_match(self, dev: Device, m: Any, file: int, frame: int) -> None:
        if m.category != "device":
            return
        first = m.sig_id not in dev.matches
        if first:
            dev.matches[m.sig_id] = {
                "sig_id": m.sig_id, "name": m.name, "vendor": m.vendor, "role": m.role,
                "field": m.field, "value": m.value, "confidence": m.confidence,
                "frame": frame, "file": file,
            }  # fmt: skip
            if m.role:
                dev.add_role_hint(
                    m.role, m.confidence, R.phrase(R.ROLE_SIGNATURE, signature=m.sig_id)
                )
        dev.add_evidence(file, frame, _hit_what(m), m.sig_id)

    def _observe(self, ev: Event, src_dev: Device | None) -> None:
        """Match what the event contributes (``netscan.observations``) and attach each hit
        to its subject: device signatures to the device the value describes, cloud
        signatures to the off-site endpoint it describes, protocol signatures (payload
        markers) as evidence about what the sender sends.

        The hits of an event depend on the event alone: while ``hits_memo`` is set they are
        kept there (by the event's identity; whoever sets it keeps the events alive), and an
        inventory told the same events again takes them from ``hits_given`` (an event
        not in it has none) instead of matching again."""
        given = self.hits_given
        if given is not None:
            hits = given.get(id(ev))
            if hits is None:
                return
        else:
            observer = EVENT_OBSERVERS.get(ev.kind)
            if observer is None:
                return
            observations = observer(ev)
            if not observations:
                return
            hits = self.matcher.match_observations(observations)
            if not hits:
                return
            memo = self.hits_memo
            if memo is not None:
                memo[id(ev)] = hits
        ctx = ev.ctx
        sender = src_dev
        named = NAMED_SENDER.get(ev.kind)
        if named is not None:
            mac = named(ev)
            sender = (
                self.device(mac, ctx.file, ctx.frame, ctx.ts)
                if mac and len(mac) == 17 and not int(mac[:2], 16) & 1
                else None
            )
        server: Device | None = None
        server_known = False
        for m in hits:
            cat = m.category
            if cat == "device":
                if DEVICE_SIDE[m.subject] == "dst":
                    if not server_known:  # the device the request is sent to
                        server_known = True
                        if ctx.dst_ip and self.premises.is_premises(ctx.dst_ip):
                            server = self.device_for(
                                ctx.dst_mac, ctx.dst_ip, ctx.file, ctx.frame, ctx.ts
                            )
                    target = server
                else:
                    target = sender
                if target is not None:
                    self._device_match(target, m, ctx.file, ctx.frame)
            elif cat in ("face-cloud", "vendor-cloud"):
                side = CLOUD_SIDE[m.subject]
                ip = ctx.src_ip if side == "src" else ctx.dst_ip if side == "dst" else None
                if ip and self.premises.is_offsite(ip):
                    self._endpoint_match(self.endpoint(ip), m, ctx.file, ctx.frame)
            elif cat == "protocol" and sender is not None:
                # content and protocol signatures: evidence about what the sender sends
                sender.add_evidence(ctx.file, ctx.frame,
                                    _hit_what(m), m.sig_id)  # fmt: skip

    # -- sink interface ------------------------------------------------------------------

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        self.device(src.hex(":"), file, frame, ts)

    def _scopes(self, flow: Flow) -> tuple[int, int]:
        """The premises scope of the flow's two sides: the engine's when it gave them,
        else decided here once and kept on the flow."""
        sa, sb = flow.a_scope, flow.b_scope
        if sa < 0 or sb < 0:
            scope = self.premises.scope
            sa = flow.a_scope = scope(flow.a_ip)
            sb = flow.b_scope = scope(flow.b_ip)
        return sa, sb

    def on_flow(self, flow: Flow) -> None:
        self._live[flow] = None
        a_ip = flow.a_ip
        if not a_ip:  # encrypted 802.11: station pairs, seen as MAC sightings
            return
        sa, sb = flow.a_scope, flow.b_scope
        if sa < 0 or sb < 0:
            sa, sb = self._scopes(flow)
        if sb == 2 and sa != 2 and flow.bursts is None:
            flow.track_bursts()
        ff = flow.first_frames
        frame = ff[0] if ff else flow.last_frame
        ts = flow.first_ts
        if sa == 2 or sb == 2:
            self.link.flow(flow, sa, sb, frame)
        # side A, then side B (per flow: kept lean, one dictionary look-up for a known
        # device at a known address)
        seen_pairs = self._seen_pairs
        for scope, ip, mac in ((sa, a_ip, flow.a_mac), (sb, flow.b_ip, flow.b_mac)):
            if scope == 2:
                self._offsite_side(ip, mac, flow.file, frame, ts)
            elif scope == 0:
                dev = seen_pairs.get((mac, ip))
                if dev is None:
                    self._premises_side(ip, mac, flow.file, frame, ts)
                else:  # known device at a known address: bring times up (Device.seen, add_ip)
                    if ts < dev.first_ts:
                        dev.first_ts = ts
                    if ts > dev.last_ts:
                        dev.last_ts = ts
                    span = dev.ips.get(ip)
                    if span is None:
                        dev.add_ip(ip, ts)
                    else:
                        if ts < span[0]:
                            span[0] = ts
                        if ts > span[1]:
                            span[1] = ts

    def _premises_side(self, ip: str, mac: str | None, file: int, frame: int, ts: float) -> None:
        """A new flow's side at a premises address whose (MAC, address) pair is not known."""
        dev = self.device_for(mac, ip, file, frame, ts)
        if (
            dev is not None
            and dev.key in self.devices
            and not ip.startswith(("0.", "169.254."))
            and ip != "::"
        ):
            dev.add_ip(ip, ts)
            if ip in dev.ips:
                self._ip_to_device.setdefault(ip, dev.key)
                if len(self._seen_pairs) < 4 * self.limits.devices:
                    self._seen_pairs[(mac, ip)] = dev

    def _offsite_side(self, ip: str, mac: str | None, file: int, frame: int, ts: float) -> None:
        """A new flow's side at an off-site address."""
        if ip not in self.endpoints:
            self.endpoint(ip, anonymous=True)
        if mac and not int(mac[:2], 16) & 1:
            # the MAC behind an off-site address is the premises gateway
            dev = self.devices.get(mac)
            if dev is None:
                self.device(mac, file, frame, ts)
            else:  # Device.seen
                if ts < dev.first_ts:
                    dev.first_ts = ts
                if ts > dev.last_ts:
                    dev.last_ts = ts

    def on_event(self, ev: Event, flow: Flow | None) -> None:
        kind = ev.kind
        counts = self.event_counts
        counts[kind] = counts.get(kind, 0) + 1
        ctx = ev.ctx
        scope = self.premises.scope  # 0 premises, 2 off-site (as is_premises, is_offsite)
        src_ip = ctx.src_ip
        src_dev = (
            self.device_for(ctx.src_mac, src_ip, ctx.file, ctx.frame, ctx.ts)
            if (src_ip is None or scope(src_ip) == 0)
            else None
        )
        dst_ip = ctx.dst_ip
        dst_ep = None
        if dst_ip and scope(dst_ip) == 2:
            dst_ep = self.endpoints.get(dst_ip) or self.endpoint(dst_ip)
        handlers = self._handlers
        if handlers is None:
            handlers = self._handlers = _handlers(type(self))
        handler = handlers.get(kind)
        if handler is not None:
            handler(self, ev, src_dev, dst_ep, flow)
        if self.matcher is not None:
            self._observe(ev, src_dev)

    # -- event handlers --------------------------------------------------------------------

    def _on_dns(
        self, ev: DnsEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        ctx = ev.ctx
        if not ev.is_response:
            if dev is not None and ev.proto == "dns":
                for name, _t in ev.queries[:8]:
                    if len(dev.dns_queries) < 500:
                        dev.dns_queries.add(name)
            return
        if ev.proto == "dns":
            # passive DNS: every name in the CNAME chain resolves to the final addresses
            cname_to: dict[str, str] = {}
            addrs: dict[str, list[str]] = {}
            for rr in ev.answers:
                if rr.rtype == "CNAME":
                    cname_to[rr.name] = rr.value.lower().rstrip(".")
                elif rr.rtype in ("A", "AAAA"):
                    addrs.setdefault(rr.name, []).append(rr.value)
            for qname, _t in ev.queries:
                chain = [qname]
                cur = qname
                for _ in range(10):
                    nxt = cname_to.get(cur)
                    if nxt is None:
                        break
                    chain.append(nxt)
                    cur = nxt
                for ip in addrs.get(cur, []):
                    for name in chain:
                        self._passive(ip, name, ctx.file, ctx.frame)
            for owner, ips in addrs.items():
                for ip in ips:
                    self._passive(ip, owner, ctx.file, ctx.frame)
            return
        # mDNS / LLMNR answers describe the sender
        src_dev = self.device_for(ctx.src_mac, ctx.src_ip, ctx.file, ctx.frame, ctx.ts)
        if src_dev is None:
            return
        for rr in ev.answers:
            name = rr.name.rstrip(".")
            if rr.rtype in ("A", "AAAA") and (name.endswith(".local") or ev.proto == "llmnr"):
                host = name[: -len(".local")] if name.endswith(".local") else name
                if host and src_dev.add_hostname(host, ev.proto):
                    src_dev.add_evidence(
                        ctx.file, ctx.frame,
                        R.phrase(R.EV_NAME_HOSTNAME, protocol=ev.proto, name=host),
                    )  # fmt: skip
            elif rr.rtype in ("PTR", "SRV", "TXT") and name.endswith(".local"):
                svc = name if rr.rtype != "PTR" else rr.value
                svc_entry = src_dev.service("mdns", {"names": []})
                if svc_entry is None:
                    continue
                if svc not in svc_entry["names"] and len(svc_entry["names"]) < 50:
                    svc_entry["names"].append(svc)
                if rr.rtype == "TXT":
                    self._mdns_txt(src_dev, svc_entry, rr.value, ctx.file, ctx.frame)

    def _mdns_txt(
        self, dev: Device, entry: dict[str, Any], txt: str, file: int, frame: int
    ) -> None:
        """Model and maker keys of an mDNS TXT record (Apple device-info ``model=``, printer
        ``ty=``/``usb_MDL=``/``usb_MFG=``): what the device says it is, kept bounded."""
        for item in txt.split("\n")[:64]:
            key, sep, value = item.partition("=")
            value = value.strip()[:MDNS_TXT_VALUE]
            if not sep or not value:
                continue
            k = key.strip().lower()
            slot = "models" if k in MDNS_MODEL_KEYS else "makers" if k in MDNS_MAKER_KEYS else None
            if slot is None:
                continue
            values = entry.setdefault(slot, [])
            if value not in values and len(values) < 8:
                values.append(value)
                dev.add_evidence(file, frame, R.phrase(R.EV_MDNS_TXT, key=k, value=value))
                if slot == "models" and not dev.model:
                    dev.model = value

    def _passive(self, ip: str, name: str, file: int, frame: int) -> None:
        name = name.lower().rstrip(".")
        known = self.passive_dns.get(ip)
        if known is None:
            if len(self.passive_dns) >= 4 * self.limits.endpoints:
                self.dns_unlisted += 1
                return
            known = self.passive_dns[ip] = {}
        if name in known:
            return
        if len(known) >= 64:  # names per address: a wildcard flood would add millions
            self.dns_unlisted += 1
            return
        known[name] = (file, frame)
        ep = self.endpoints.get(ip)
        if ep is not None:
            self._endpoint_name(ep, name, "dns", file, frame)
        elif self.premises.is_offsite(ip):
            self.endpoint(ip)  # takes the name from passive_dns

    def _on_nbns(
        self, ev: NbnsEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if dev is None or not ev.name:
            return
        if ev.opcode in (5, 8) or (ev.is_response and ev.addresses):
            if ev.suffix in (0x00, 0x20) and dev.add_hostname(ev.name, "nbns"):
                dev.add_evidence(ev.ctx.file, ev.ctx.frame, R.phrase(R.EV_NETBIOS, name=ev.name))

    def _on_dhcp(
        self, ev: DhcpEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        ctx = ev.ctx
        mac = ev.client_mac
        if not mac or len(mac) != 17:
            return
        cdev = self.device(mac, ctx.file, ctx.frame, ctx.ts)
        if ev.msg_type in (1, 3, 8):  # discover, request, inform: the client speaks
            if ev.hostname:
                if cdev.add_hostname(ev.hostname, "dhcp"):
                    cdev.add_evidence(
                        ctx.file, ctx.frame, R.phrase(R.EV_DHCP_HOSTNAME, name=ev.hostname)
                    )
                cdev.dhcp["hostname"] = ev.hostname
            if ev.vendor_class:
                cdev.dhcp["vendor_class"] = ev.vendor_class
                cdev.add_evidence(
                    ctx.file, ctx.frame, R.phrase(R.EV_DHCP_VENDOR_CLASS, value=ev.vendor_class)
                )
            if ev.param_request_list:
                cdev.dhcp["prl"] = ",".join(str(x) for x in ev.param_request_list)
            if ev.client_id:
                cdev.dhcp["client_id"] = ev.client_id
            if ev.fqdn:
                cdev.dhcp["fqdn"] = ev.fqdn
                cdev.add_hostname(ev.fqdn, "dhcp")
            if ev.requested_ip:
                cdev.add_ip(ev.requested_ip, ctx.ts)
        elif ev.msg_type == 5 and ev.your_ip and ev.your_ip != "0.0.0.0":  # ACK
            cdev.add_ip(ev.your_ip, ctx.ts)

    def _on_icmpv6_ra(
        self, ev: RouterAdvertEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        self.link.router_advert(ev)

    def _on_dhcpv6(
        self, ev: Dhcpv6Event, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ev.addresses or ev.prefixes:
            self.link.dhcpv6(ev)
        if dev is None:
            return
        if ev.vendor_class:
            dev.dhcp["v6_vendor_class"] = ev.vendor_class
        if ev.fqdn:
            dev.add_hostname(ev.fqdn, "dhcpv6")
        if ev.duid:
            dev.dhcp["duid"] = ev.duid

    def _on_arp(
        self, ev: ArpEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        ctx = ev.ctx
        if ev.sender_ip in ("0.0.0.0", "") or int(ev.sender_mac[:2], 16) & 1:
            return
        d = self.device(ev.sender_mac, ctx.file, ctx.frame, ctx.ts)
        if self.premises.is_premises(ev.sender_ip):
            d.add_ip(ev.sender_ip, ctx.ts)

    def _on_tls_client_hello(
        self, ev: TlsClientHelloEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ep is not None and ev.sni:
            self._endpoint_name(ep, ev.sni, "quic" if ev.quic else "sni", ev.ctx.file, ev.ctx.frame)
        if dev is not None and ev.ja4 and len(dev.tls_fingerprints) < 50:
            dev.tls_fingerprints.add(ev.ja4)

    def _on_tls_certificate(
        self, ev: TlsCertificateEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        # the certificate comes from the server: the event's source is the endpoint
        src = ev.ctx.src_ip
        if src and self.premises.is_offsite(src):
            sep = self.endpoint(src)
            if len(sep.cert_subjects) < 10:
                sep.cert_subjects.add(ev.subject)

    def _on_http_request(
        self, ev: HttpRequestEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ev.host and ep is not None:
            host = _strip_port(ev.host)
            if host and not _is_ip_literal(host):
                self._endpoint_name(ep, host, "http", ev.ctx.file, ev.ctx.frame)
        if dev is not None and ev.user_agent and len(dev.user_agents) < 20:
            dev.user_agents.add(ev.user_agent)
        # paths asked of off-site servers (platform polls): what the role rules weigh; paths
        # asked of premises devices describe those devices, not the one asking
        if (
            dev is not None
            and ep is not None
            and ev.path
            and len(dev.requested_paths) < MAX_REQUESTED_PATHS
        ):
            path = ev.path[:MAX_PATH_CHARS]
            if path not in dev.requested_paths:
                dev.requested_paths.append(path)
        if dev is not None and ev.host and len(dev.requested_hosts) < 200:
            host = _strip_port(ev.host).lower().rstrip(".")
            if host and not _is_ip_literal(host):
                dev.requested_hosts.add(host[:253])

    def _service(self, ev: Event, proto: str, facts: dict[str, Any]) -> None:
        ctx = ev.ctx
        if not ctx.src_ip or not self.premises.is_premises(ctx.src_ip):
            return
        dev = self.device_for(ctx.src_mac, ctx.src_ip, ctx.file, ctx.frame, ctx.ts)
        if dev is None:
            return
        key = f"{ctx.transport}/{ctx.sport}"
        svc = dev.service(key, {"protocol": proto, "frame": ctx.frame, "file": ctx.file})
        if svc is None:
            return
        for k, v in facts.items():
            if v:
                svc.setdefault(k, v)

    def _on_http_response(
        self, ev: HttpResponseEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        self._service(ev, "http", {"server": ev.server})
        if ev.server and ev.ctx.src_ip and self.premises.is_premises(ev.ctx.src_ip):
            d = self.device_for(ev.ctx.src_mac, ev.ctx.src_ip, ev.ctx.file, ev.ctx.frame, ev.ctx.ts)
            if d is not None:
                d.add_evidence(
                    ev.ctx.file, ev.ctx.frame, R.phrase(R.EV_HTTP_BANNER, server=ev.server)
                )

    def _on_rtsp(
        self, ev: RtspEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ev.is_response:
            self._service(ev, "rtsp", {"server": ev.server, "realm": ev.realm})
            d = self.device_for(ev.ctx.src_mac, ev.ctx.src_ip, ev.ctx.file, ev.ctx.frame, ev.ctx.ts)
            if d is not None:
                realm = repr(ev.realm) if ev.realm else None
                if ev.server and realm:
                    what = R.phrase(R.EV_RTSP_SERVER_REALM, server=ev.server, realm=realm)
                elif ev.server:
                    what = R.phrase(R.EV_RTSP_SERVER, server=ev.server)
                elif realm:
                    what = R.phrase(R.EV_RTSP_REALM, realm=realm)
                else:
                    what = R.phrase(R.EV_RTSP)
                d.add_evidence(ev.ctx.file, ev.ctx.frame, what)
        elif flow is not None and ev.url:
            # the URL names the server's stream path
            server = (
                self.device_for(ev.ctx.dst_mac, ev.ctx.dst_ip, ev.ctx.file, ev.ctx.frame, ev.ctx.ts)
                if (ev.ctx.dst_ip and self.premises.is_premises(ev.ctx.dst_ip))
                else None
            )
            svc = server.service(f"tcp/{ev.ctx.dport}", {"protocol": "rtsp"}) if server else None
            if svc is not None:
                urls = svc.setdefault("urls", [])
                if ev.url not in urls and len(urls) < 10:
                    urls.append(ev.url)

    def _on_sip(
        self, ev: SipEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if dev is not None and (ev.user_agent or ev.server):
            ua = ev.user_agent or ev.server or ""
            if len(dev.user_agents) < 20:
                dev.user_agents.add(ua)

    def _announce(self, ev: Event, dev: Device | None, facts: dict[str, Any]) -> None:
        if dev is None:
            return
        if len(dev.announcements) < 30:
            entry = {"protocol": ev.kind, "frame": ev.ctx.frame, "file": ev.ctx.file, **facts}
            same = [
                a
                for a in dev.announcements
                if {k: v for k, v in a.items() if k not in ("frame", "file")}
                == {k: v for k, v in entry.items() if k not in ("frame", "file")}
            ]
            if not same:
                dev.announcements.append(entry)

    def _on_ssdp(
        self, ev: SsdpEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ev.method in ("NOTIFY", "RESPONSE"):
            self._announce(
                ev, dev, {"server": ev.server, "usn": ev.usn, "nt": ev.nt, "location": ev.location}
            )
            if dev is not None and ev.server:
                dev.add_evidence(ev.ctx.file, ev.ctx.frame, R.phrase(R.EV_SSDP, server=ev.server))

    def _on_wsd(
        self, ev: WsdEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if ev.action in ("ProbeMatches", "Hello", "ResolveMatches") and dev is not None:
            self._announce(
                ev,
                dev,
                {"action": ev.action, "types": ev.types, "scopes": ev.scopes, "xaddrs": ev.xaddrs},
            )
            types = " ".join(ev.types)
            dev.add_evidence(
                ev.ctx.file, ev.ctx.frame, R.phrase(R.EV_WSD, action=ev.action, types=types)
            )
            for scope in ev.scopes:
                low = scope.lower()
                if "/hardware/" in low and not dev.model:
                    dev.model = scope.rsplit("/", 1)[-1]
            if any("NetworkVideoTransmitter" in t for t in ev.types):
                dev.add_role_hint("camera", 0.8, ONVIF_TRANSMITTER)
            if any("NetworkVideoRecorder" in t for t in ev.types):
                dev.add_role_hint("nvr", 0.8, ONVIF_RECORDER)

    def _on_vendor_discovery(
        self, ev: VendorDiscoveryEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        if not ev.is_response or dev is None:
            return
        f = ev.fields
        self._announce(
            ev,
            dev,
            {
                "vendor_protocol": ev.protocol,
                **{k: v for k, v in f.items() if isinstance(v, (str, int))},
            },
        )
        model = f.get("model") or f.get("device_type")
        if model and not dev.model:
            dev.model = str(model)
        dev.add_evidence(
            ev.ctx.file,
            ev.ctx.frame,
            R.phrase(R.EV_DISCOVERY_MODEL, protocol=ev.protocol, model=str(model))
            if model
            else R.phrase(R.EV_DISCOVERY, protocol=ev.protocol),
        )

    def _on_http_body(
        self, ev: HttpBodyEvent, dev: Device | None, ep: Endpoint | None, flow: Flow | None
    ) -> None:
        # bodies wait for the content analysis: bounded in count and in bytes
        lim = self.limits
        if len(self.bodies) < lim.bodies and self._body_bytes + len(ev.body) <= lim.body_bytes:
            self.bodies.append(ev)
            self._body_bytes += len(ev.body)
        else:
            self.bodies_dropped += 1

    # -- aggregation -------------------------------------------------------------------

    def on_flow_end(self, flow: Flow) -> None:
        """The engine retired a flow: fold it into its conversation now, and let it go."""
        self._live.pop(flow, None)
        self.flows_ended += 1
        self._retire(flow)

    def _retire(self, flow: Flow) -> None:
        hit = self._conversation_of(self._retired, flow)
        if hit is not None:
            conv = hit[0]
            if flow.bursts and hit[1]:  # upload bursts to keep: bounded by all held ones
                added, refused = self._add_flow(
                    conv, flow, True, MAX_HELD_BURSTS - self._bursts_held
                )
                self._bursts_held += added
                self.bursts_dropped += refused
            else:
                self._add_flow(conv, flow, hit[1])
            if conv.flows == 1 and len(self._retired) > self.limits.conversations:
                self._fold()

    def sealing(self) -> bool:
        """Whether ``seal()`` will fold the live flows (the conversations outgrow their
        limit): an engine may then hand each flow over with ``seal_flow`` as soon as its
        final counters are known, in order of appearance, instead of keeping them all."""
        return len(self._live) + len(self._retired) > self.limits.conversations

    def seal_flow(self, flow: Flow) -> None:
        """Fold one live flow in at the end of the input (and let it go)."""
        self._live.pop(flow, None)  # (not retired by the engine: sealed at the end)
        self._retire(flow)

    def seal_rows(self, rows: list[tuple[Any, ...]], flows: dict[int, Flow]) -> None:
        """``seal_flow`` for a piece of the engine's final counters, in one loop: each row
        ``(op, fid, bytes_ab, bytes_ba, pkts_ab, pkts_ba, payload_ab, payload_ba, last_ts,
        last_frame, first_frames, bursts, missed_ab, missed_ba)`` gives the counters of the flow ``flows[fid]``,
        which is taken out of ``flows`` and folded in (the core engine's end of input, once
        per live flow: kept lean)."""
        flows_pop = flows.pop
        live_pop = self._live.pop
        retired = self._retired
        conv_of = self._conversation_of
        add = self._add_flow
        from_bytes = BurstList.from_bytes
        limit = self.limits.conversations
        for t in rows:
            flow = flows_pop(t[1], None)
            if flow is None:
                continue
            (_, _fid, flow.bytes_ab, flow.bytes_ba, flow.pkts_ab, flow.pkts_ba,
             flow.payload_ab, flow.payload_ba, flow.last_ts, flow.last_frame,
             flow.first_frames, raw, flow.missed_ab, flow.missed_ba) = t  # fmt: skip
            if raw is not None:
                flow.bursts = from_bytes(raw)
            live_pop(flow, None)
            hit = conv_of(retired, flow)
            if hit is None:
                continue
            conv, up_is_ab = hit
            if up_is_ab and flow.bursts:
                added, refused = add(conv, flow, True, MAX_HELD_BURSTS - self._bursts_held)
                self._bursts_held += added
                self.bursts_dropped += refused
            else:
                add(conv, flow, up_is_ab)
            if conv.flows == 1 and len(retired) > limit:
                self._fold()

    def seal_groups(
        self,
        rows: Any,
        flows: dict[int, Flow],
        apps_of: Callable[[tuple[int, ...], bool], frozenset[str]],
        offsite_sender_bursts: bool = True,
    ) -> bool:
        """``seal_flow`` for every live flow at once, from the engine's sums per conversation
        (``rows``: the core, whose ``conv_keys(offsite_sender_bursts)`` says what keys each
        row and ``conv_take(n)`` hands the rows over; ``apps_of``: the applications of a
        row's parser ids), when that folds them in exactly as one flow at a time in order
        of appearance would: no fold on the way (the conversations stay within their
        limit), the upload bursts' room for all held conversations enough for every one, no
        two rows of one conversation (devices without a MAC known by a MAC elsewhere). Then
        every flow in ``flows`` is taken out and True returned; otherwise nothing has
        changed and False is returned."""
        live = self._live
        if len(live) != len(flows):
            return False
        keys = rows.conv_keys(offsite_sender_bursts)
        retired = self._retired
        ip_dev = self._ip_to_device
        plan: list[ConvKey | None] = []
        seen: set[ConvKey] = set()
        n_flows = n_new = n_bursts = 0
        for wlan, dev_mac, dev_ip, peer_ip, proto, port, dev_prem, n, nb in keys:
            n_flows += n
            n_bursts += nb
            key: ConvKey | None = None
            if wlan:  # encrypted 802.11: station pairs
                if dev_mac is not None and not int(dev_mac[:2], 16) & 1:
                    key = (dev_mac, "", "wlan", 0)
            elif dev_mac is not None:
                if not int(dev_mac[:2], 16) & 1:
                    key = (dev_mac, peer_ip, PROTO_NAMES.get(proto) or str(proto), port)
            elif dev_prem:
                dkey = ip_dev.get(dev_ip) or f"ip:{dev_ip}"
                key = (dkey, peer_ip, PROTO_NAMES.get(proto) or str(proto), port)
            plan.append(key)
            if key is None:
                continue
            if key in seen:
                rows.conv_take(0)
                return False
            seen.add(key)
            if key not in retired:
                n_new += 1
        if (
            n_flows != len(flows)
            or len(retired) + n_new > self.limits.conversations
            or self._bursts_held + n_bursts > MAX_HELD_BURSTS
        ):
            rows.conv_take(0)
            return False
        # the flows go first (their memory is back before the conversations are made); the
        # rows come in pieces
        flows.clear()
        live.clear()
        del keys, seen
        plan.reverse()
        part: list[tuple[Any, ...]] = []
        from_bytes = BurstList.from_bytes
        held = 0
        while plan:
            if not part:
                part = rows.conv_take(SEAL_CHUNK)
                part.reverse()
            r = part.pop()
            key = plan.pop()
            if key is None:
                continue
            (wlan, _dev_mac, _dev_ip, peer_ip, _proto, port, peer_mac, device_is_client,
             _dev_prem, peer_prem, first_ts, first_file, first_frame, last_ts, bytes_up,
             bytes_down, pkts_up, pkts_down, n, ids, frames, raw, counts, missed_up,
             missed_down) = r  # fmt: skip
            app = apps_of(ids, wlan)
            conv = retired.get(key)
            if conv is None:  # made with its totals (as ``_conversation_of``, ``_add_flow``)
                total = 0 if raw is None else len(raw) >> 5
                whole = total and total - counts[-1] < MAX_CONV_BURSTS
                conv = retired[key] = Conversation(
                    device=key[0], peer_ip=peer_ip, transport=key[2], port=port,
                    peer_mac=peer_mac, bytes_up=bytes_up, bytes_down=bytes_down,
                    packets_up=pkts_up, packets_down=pkts_down, first_ts=first_ts,
                    last_ts=last_ts if last_ts > 0.0 else 0.0,
                    first_frame=(first_file, first_frame), frames=frames,
                    protocols=set(app), flows=n, device_is_client=device_is_client,
                    missed_up=missed_up, missed_down=missed_down,
                    bursts=from_bytes(raw) if whole else BurstList(),
                )  # fmt: skip
                if peer_prem:
                    if peer_mac and not int(peer_mac[:2], 16) & 1:
                        conv.peer_device = peer_mac
                    elif peer_mac is None:
                        conv.peer_device = ip_dev.get(peer_ip, f"ip:{peer_ip}")
                if whole:
                    held += total
                elif total:
                    held += _add_bursts(conv, raw, counts)
                continue
            conv.bytes_up += bytes_up
            conv.bytes_down += bytes_down
            conv.packets_up += pkts_up
            conv.packets_down += pkts_down
            conv.missed_up += missed_up
            conv.missed_down += missed_down
            if raw is not None:
                held += _add_bursts(conv, raw, counts)
            if first_ts < conv.first_ts or not conv.flows:
                conv.first_ts = first_ts
                conv.first_frame = (first_file, first_frame)
            if last_ts > conv.last_ts:
                conv.last_ts = last_ts
            if app:
                conv.protocols |= app
            conv.flows += n
            if len(conv.frames) < 10:
                conv.frames.extend(frames[: 10 - len(conv.frames)])
        self._bursts_held += held
        return True

    def seal(self) -> None:
        """The input is done: when the conversations outgrow their limit, fold the remaining
        live flows in as well (and let them go), so the rows handed on stay bounded."""
        if not self.sealing():
            return
        for flow in list(self._live):
            self.seal_flow(flow)

    def _fold(self) -> None:
        """Too many conversations held: fold the smaller half (by bytes) into one row of
        totals per device and transport. A flood's one-packet conversations go first; a
        device's real uploads are larger than they are."""
        held = sorted(self._retired.items(), key=lambda kv: kv[1].bytes_up + kv[1].bytes_down)
        n = len(held) - self.limits.conversations // 2
        for key, conv in held[:n]:
            del self._retired[key]
            self._bursts_held -= len(conv.bursts)
            tkey = (conv.device, conv.transport)
            tot = self.folded.get(tkey)
            if tot is None:
                tot = self.folded[tkey] = FlowTotals(conv.device, conv.transport)
            tot.add(conv)
        self.conversations_folded += max(0, n)

    def conversations(self) -> list[Conversation]:
        """Flows aggregated device → peer (ip, transport, server port)."""
        if not self._live:
            return list(self._retired.values())
        convs: dict[ConvKey, Conversation] = {k: _clone(c) for k, c in self._retired.items()}
        add = self._add_flow
        for flow in self._live:
            hit = self._conversation_of(convs, flow)
            if hit is not None:
                add(hit[0], flow, hit[1])
        return list(convs.values())

    def _conversation_of(
        self, convs: dict[ConvKey, Conversation], flow: Flow
    ) -> tuple[Conversation, bool] | None:
        """The conversation in ``convs`` a flow belongs to (made if new) and whether the
        flow's a→b direction is the device's upstream; None for flows of no device."""
        if not flow.a_ip:  # encrypted 802.11: station pairs
            a = flow.a_mac
            if a is None or int(a[:2], 16) & 1:
                return None
            key = (a, "", "wlan", 0)
            conv = convs.get(key)
            if conv is None:
                conv = convs[key] = Conversation(device=a, peer_ip="", transport="wlan", port=0,
                                                 peer_mac=flow.b_mac, first_ts=flow.first_ts,
                                                 first_frame=(flow.file, flow.first_frames[0] if flow.first_frames else flow.last_frame))  # fmt: skip
            return conv, True
        sa, sb = flow.a_scope, flow.b_scope
        if sa < 0 or sb < 0:
            sa, sb = self._scopes(flow)
        if sa == 0 or sb != 0:
            dev_mac, dev_ip, peer_ip, up_is_ab = flow.a_mac, flow.a_ip, flow.b_ip, True
            peer_mac = flow.b_mac
            port = flow.b_port
            device_is_client = True
            dev_prem, peer_prem = sa == 0, sb == 0
        else:
            dev_mac, dev_ip, peer_ip, up_is_ab = flow.b_mac, flow.b_ip, flow.a_ip, False
            peer_mac = flow.a_mac
            port = flow.b_port
            device_is_client = False
            dev_prem, peer_prem = True, False
        if dev_mac is not None:
            if int(dev_mac[:2], 16) & 1:
                return None
            dkey = dev_mac
        elif dev_prem:
            dkey = self._ip_to_device.get(dev_ip)
            if dkey is None:
                dkey = f"ip:{dev_ip}"
        else:
            return None
        transport = PROTO_NAMES.get(flow.proto) or str(flow.proto)
        key = (dkey, peer_ip, transport, port)
        conv = convs.get(key)
        if conv is None:
            conv = convs[key] = Conversation(device=dkey, peer_ip=peer_ip, transport=transport,
                                             port=port, peer_mac=peer_mac, first_ts=flow.first_ts,
                                             first_frame=(flow.file, flow.first_frames[0] if flow.first_frames else flow.last_frame),
                                             device_is_client=device_is_client)  # fmt: skip
            if peer_prem:
                if peer_mac and not int(peer_mac[:2], 16) & 1:
                    conv.peer_device = peer_mac
                elif peer_mac is None:
                    conv.peer_device = self._ip_to_device.get(peer_ip, f"ip:{peer_ip}")
        return conv, up_is_ab

    def limit_warnings(self) -> list[str]:
        """What the inventory's bounds dropped or folded, one line each."""
        out: list[str] = []
        lim = self.limits
        if self.bodies_dropped:
            out.append(
                f"{self.bodies_dropped} request bodies beyond the memory budget were not "
                f"examined for faces ({lim.bodies:,} bodies / {_limits.human(lim.body_bytes)} "
                "bytes; --limit bodies=N, --limit body-bytes=SIZE)"
            )

        def some(n: int, bound: int) -> str:
            return f"at least {n:,}" if n >= bound else f"{n:,}"

        if self._unlisted_devices:
            out.append(
                f"{some(len(self._unlisted_devices), lim.devices)} devices beyond the limit of "
                f"{lim.devices:,} were not inventoried (--limit devices=N)"
            )
        if self._unlisted_endpoints:
            out.append(
                f"{some(len(self._unlisted_endpoints), lim.endpoints)} off-site addresses beyond "
                f"the limit of {lim.endpoints:,} endpoints were not listed as endpoints; their "
                "traffic is in the flows (--limit endpoints=N)"
            )
        if self.dns_unlisted:
            out.append(
                f"{self.dns_unlisted:,} DNS answers beyond the passive DNS table's bounds were "
                "not remembered (--limit endpoints=N)"
            )
        if self.conversations_folded:
            out.append(
                f"{self.conversations_folded:,} conversations (the smallest) beyond the limit of "
                f"{lim.conversations:,} were folded into per-device totals "
                "(flows_aggregated in the JSON report; --limit conversations=N)"
            )
        ev = sum(d.evidence_dropped for d in self.devices.values()) + sum(
            e.evidence_dropped for e in self.endpoints.values()
        )
        if ev:
            out.append(
                f"{ev:,} evidence facts beyond {INVENTORY_MAX_EVIDENCE} per device or endpoint were not kept"
            )
        if self.bursts_dropped:
            out.append(
                f"{self.bursts_dropped:,} upload bursts beyond the limit of "
                f"{MAX_HELD_BURSTS:,} held by all conversations were not kept (their bytes are "
                "in the conversations' totals)"
            )
        ips = sum(d.ips_dropped for d in self.devices.values())
        if ips:
            out.append(f"{ips:,} addresses beyond {MAX_IPS} per device were not kept")
        services = sum(d.services_dropped for d in self.devices.values())
        if services:
            out.append(f"{services:,} services beyond {MAX_SERVICES} per device were not listed")
        names = sum(d.names_dropped for d in self.devices.values()) + sum(
            e.names_dropped for e in self.endpoints.values()
        )
        if names:
            out.append(
                f"names beyond {MAX_NAMES} per device or endpoint were not kept ({names:,} "
                "sightings; those of endpoints were still matched against the signatures)"
            )
        return out

    @staticmethod
    def _add_flow(
        conv: Conversation, flow: Flow, up_is_ab: bool, room: int = MAX_CONV_BURSTS
    ) -> tuple[int, int]:
        """Adds the flow's totals to the conversation. Its upload bursts are added while
        the conversation holds fewer than its bound, at most ``room`` of them; returns
        (bursts kept, bursts refused for want of ``room``)."""
        added = refused = 0
        if up_is_ab:
            conv.bytes_up += flow.bytes_ab
            conv.bytes_down += flow.bytes_ba
            conv.packets_up += flow.pkts_ab
            conv.packets_down += flow.pkts_ba
            conv.missed_up += flow.missed_ab
            conv.missed_down += flow.missed_ba
            bursts = flow.bursts
            if bursts and len(conv.bursts) < MAX_CONV_BURSTS:
                if len(bursts) > room:
                    refused = len(bursts) - max(room, 0)
                    bursts = bursts[: max(room, 0)]
                conv.bursts.extend(bursts)  # type: ignore[attr-defined]
                added = len(bursts)
        else:
            conv.bytes_up += flow.bytes_ba
            conv.bytes_down += flow.bytes_ab
            conv.packets_up += flow.pkts_ba
            conv.packets_down += flow.pkts_ab
            conv.missed_up += flow.missed_ba
            conv.missed_down += flow.missed_ab
        first_ts = flow.first_ts
        if first_ts < conv.first_ts or not conv.flows:
            conv.first_ts = first_ts
            conv.first_frame = (
                flow.file,
                flow.first_frames[0] if flow.first_frames else flow.last_frame,
            )
        if flow.last_ts > conv.last_ts:
            conv.last_ts = flow.last_ts
        app = flow.app
        if app:
            conv.protocols |= app
        conv.flows += 1
        frames = conv.frames
        if len(frames) < 10:
            file = flow.file
            frames.extend([(file, f) for f in flow.first_frames[: 10 - len(frames)]])
        return added, refused

    def finalize(self) -> list[Conversation]:
        """Bring device times up to date from flows, enrich endpoints, rebuild the graph."""
        convs = self.conversations()
        for conv in convs:
            # the device, its local peer, and the gateway that carried off-site traffic
            for key in (conv.device, conv.peer_device, conv.peer_mac):
                dev = self.devices.get(key) if key else None
                if dev is not None:
                    dev.seen(conv.first_ts)
                    dev.seen(conv.last_ts)
        todo = [ip for ip, ep in self.endpoints.items() if ep.country is None and ep.org is None]
        if todo:
            self.geo.prepare(todo)
        for ep in self.endpoints.values():
            if ep.country is None and ep.org is None:
                info = self.geo.lookup(ep.ip)
                ep.country, ep.asn, ep.org = info.country, info.asn, info.org
                if info.asn is not None and self.matcher is not None:
                    # the network the address belongs to, once known
                    for m in self.matcher.match_observations(address_observations(ep.ip, info.asn)):
                        if m.field == "asn":
                            self._endpoint_match(ep, m, 0, 0)
        self._observe_ports(convs)
        self._graph, self._graph_convs = None, convs
        return convs

    def _observe_ports(self, convs: list[Conversation]) -> None:
        """Flows contribute their server ports (``observations.port_observation``). A port
        is a weak fact: a hit corroborates a signature that already fired on the server by
        another field, and is otherwise kept only as evidence that says so; it never names a
        device, a maker or a provider by itself."""
        if self.matcher is None:
            return
        memo: dict[tuple[str, int], list[Any]] = {}
        for conv in convs:
            if conv.transport not in ("tcp", "udp", "sctp"):
                continue
            key = (conv.transport, conv.port)
            hits = memo.get(key)
            if hits is None:
                hits = memo[key] = self.matcher.match_observations([port_observation(*key)])
            if not hits:
                continue
            target: Device | Endpoint | None = None
            if not conv.device_is_client:
                target = self.devices.get(conv.device)
            elif conv.peer_device is not None:
                target = self.devices.get(conv.peer_device)
            elif self.premises.is_offsite(conv.peer_ip):
                target = self.endpoints.get(conv.peer_ip)
            if target is None:
                continue
            file, frame = conv.first_frame
            for m in hits:
                self._weak_match(target, m, file, frame)

    @staticmethod
    def _weak_match(target: Device | Endpoint, m: Any, file: int, frame: int) -> None:
        kind = "device" if isinstance(target, Device) else "cloud"
        if (m.category == "device") != (kind == "device") or m.category not in (
            "device", "face-cloud", "vendor-cloud"
        ):  # fmt: skip
            return
        if m.sig_id in target.matches:
            target.add_evidence(file, frame, _hit_what(m), m.sig_id)
        else:
            target.add_evidence(
                file, frame,
                R.phrase(R.EV_PORT_ONLY, field=str(m.field), value=repr(m.value),
                         signature=m.sig_id),
            )  # fmt: skip

    @property
    def graph(self) -> nx.DiGraph:
        """Devices and off-site endpoints as a graph (``sync_graph``), built on demand."""
        if self._graph is None:
            self.sync_graph(self._graph_convs)
        assert self._graph is not None
        return self._graph

    def sync_graph(self, convs: list[Conversation] | None = None) -> nx.DiGraph:
        """Refresh the device/endpoint graph: nodes for devices and off-site endpoints, edges
        device → peer carrying the conversation totals."""
        import networkx as nx

        if convs is None:
            convs = self.conversations()
        g = nx.DiGraph()
        for key, dev in self.devices.items():
            g.add_node(key, kind="device", role=dev.role, vendor=dev.vendor)
        for conv in convs:
            if conv.peer_device is not None:
                target = conv.peer_device
                if target not in g:
                    g.add_node(target, kind="device", role="unknown", vendor=None)
            elif self.premises.is_offsite(conv.peer_ip):
                target = conv.peer_ip
                ep = self.endpoints.get(conv.peer_ip)
                g.add_node(target, kind="endpoint", provider=ep.provider if ep else None,
                           category=ep.category if ep else None)  # fmt: skip
            else:
                continue
            if conv.device_is_client or conv.peer_device is None:
                src, dst, up, down = conv.device, target, conv.bytes_up, conv.bytes_down
            else:
                src, dst, up, down = target, conv.device, conv.bytes_down, conv.bytes_up
            data = g.get_edge_data(src, dst)
            if data is None:
                g.add_edge(
                    src, dst, bytes_fwd=0, bytes_rev=0, packets=0, protocols=set(), ports=set()
                )
                data = g.get_edge_data(src, dst)
            data["bytes_fwd"] += up
            data["bytes_rev"] += down
            data["packets"] += conv.packets_up + conv.packets_down
            data["protocols"] |= conv.protocols
            data["ports"].add(f"{conv.transport}/{conv.port}")
        self._graph = g
        return g
