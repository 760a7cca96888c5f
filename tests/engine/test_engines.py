"""Our engine (the Rust core, the default) and the tshark engine on the same captures: same
names, devices and flows. (The core was compared event by event with the pure-Python engine
it replaced until that engine was removed; tests/baselines keeps what it produced.)

Each capture runs once per engine (results are cached per test session). Where the engines
are known to differ, ``KNOWN`` says which way and why; every other difference fails.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from netscan.engine.sink import PlainSink
from netscan.events import (
    DhcpEvent,
    DnsEvent,
    Event,
    HttpRequestEvent,
    NbnsEvent,
    RtspEvent,
    TlsCertificateEvent,
    TlsClientHelloEvent,
)
from netscan.flow import Flow
from tests.conftest import PCAPS, realworld, realworld_files, requires_tshark

DEMO = PCAPS / "demo_sales_office.pcapng"
ENGINE = "core"  # the engine compared with tshark ("native" in KNOWN means this one)

# (capture, fact) -> (which engine sees more, why). "tshark" means native ⊆ tshark.
KNOWN: dict[tuple[str, str], tuple[str, str]] = {
    ("http_png_post_offsite_zeek.pcap", "host"): (
        "native",
        "the client port is 1080, which tshark decodes as SOCKS, so it shows no HTTP",
    ),
    ("bad_fuzz_read_error_suricata.pcap", "macs"): (
        "native",
        "tshark takes this fuzzed pcap for a variant with 8 more bytes of record header, so "
        "its frame starts 8 bytes late and its source 'MAC' (45:00:00:ae:11:16, IP header "
        "bytes) is a group address; the native reader sees 08:00:27:7f:b5:8b",
    ),
}
# Captures whose frame and flow counts cannot agree, and why.
NO_COUNTS = {
    "bad_fuzz_read_error_suricata.pcap": "tshark reads a second, 1-byte frame from a misparsed "
    "record header; the native reader stops there with a warning",
}


@dataclass
class Facts:
    packets: int
    dns: set[str]
    sni: set[str]
    host: set[str]
    dhcp: set[str]
    macs: set[str]
    flows: dict[tuple[Any, ...], tuple[int, int, int, int]]
    events: list[Event]
    findings: list[tuple[Any, ...]]  # (id, level, kind, destination ip), sorted
    limits: list[str]  # what the engine says it could not see
    # device key -> what the capture says about the device (see _device_facts)
    devices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # what the capture missed of the TCP connections (summary.capture_loss)
    capture_loss: dict[str, int] = field(default_factory=dict)


def _flow_key(flow: Flow) -> tuple[Any, ...]:
    if not flow.a_ip:  # encrypted 802.11: station pairs
        return (flow.proto, flow.a_mac, flow.b_mac)
    return (flow.proto, flow.a_ip, flow.a_port, flow.b_ip, flow.b_port)


@functools.cache
def _analyzer(engine: str, keep_duplicates: bool = False) -> Any:
    from netscan.analyze import Analyzer, Options

    return Analyzer(Options(engine=engine, keep_duplicates=keep_duplicates))


class _Recorder(PlainSink):
    """A sink that keeps what the reference engine hands over."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_flow(self, flow: Flow) -> None:
        pass

    def on_event(self, event: Event, flow: Flow | None) -> None:
        self.events.append(event)

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        pass


def _reference_facts(path: str) -> Facts:
    """The pure-Python engine the core was ported from (tests/reference), on its own: its
    events and flows, as the oracle of the core's exact parity."""
    from netscan.signatures.pack import load_active_pack
    from netscan.sources.pcapfile import CaptureError, CaptureFile
    from tests.reference.native import Engine

    sink = _Recorder()
    # the polls whose answers are kept: those of the pack the analysis runs with
    prefixes = load_active_pack().response_prefixes
    engine = Engine(sink, response_prefixes=prefixes)  # type: ignore[arg-type]
    try:
        capture = CaptureFile(Path(path))
    except CaptureError:
        return Facts(0, set(), set(), set(), set(), set(), {}, [], [], [])
    engine.run(capture.records())
    engine.finish()
    capture.close()
    return Facts(
        packets=engine.packets,
        dns=set(),
        sni=set(),
        host=set(),
        dhcp=set(),
        macs=set(),
        flows={
            _flow_key(f): (f.bytes_ab, f.bytes_ba, f.pkts_ab, f.pkts_ba) for f in engine.all_flows
        },
        events=sink.events,
        findings=[],
        limits=[],
    )


@functools.cache
def facts(path: str, engine: str, keep_duplicates: bool = False) -> Facts:
    """What an engine makes of a capture. ``keep_duplicates``: the copies of a frame the
    capture made are analysed too, as the reference engine ("native") does."""
    from netscan.inventory.inventory import Inventory

    if engine == "native":
        return _reference_facts(path)

    events: list[Event] = []
    original = Inventory.on_event
    current: list[Inventory] = []

    def record(self: Inventory, ev: Event, flow: Flow | None) -> None:
        if not current or current[0] is not self:  # a new pass (premises inference): anew
            current[:] = [self]
            events.clear()
        events.append(ev)
        original(self, ev, flow)

    # "core-all": the core handing over every datagram fact, repeats included
    dedup = engine != "core-all"
    engine = "core" if engine == "core-all" else engine
    with (
        mock.patch.object(Inventory, "on_event", record),
        mock.patch("netscan.engine.core.DEDUP_FACTS", dedup),
    ):
        result = _analyzer(engine, keep_duplicates).run([path])
    return Facts(
        packets=result.packets,
        dns={q for e in events if isinstance(e, DnsEvent) for q, _ in e.queries},
        sni={e.sni for e in events if isinstance(e, TlsClientHelloEvent) and e.sni},
        host={e.host for e in events if isinstance(e, HttpRequestEvent) and e.host},
        dhcp={e.hostname for e in events if isinstance(e, DhcpEvent) and e.hostname},
        macs={d.mac for d in result.inventory.devices.values() if d.mac},
        flows={
            _flow_key(f): (f.bytes_ab, f.bytes_ba, f.pkts_ab, f.pkts_ba)
            for f in result.inventory.flows
        },
        events=events,
        findings=_findings(result),
        limits=list(result.limits),
        devices=_device_facts(result),
        capture_loss=dict(result.capture_loss),
    )


def _device_facts(result: Any) -> dict[str, tuple[Any, ...]]:
    """Per device: role, MAC registrant, the maker and model it names, its host names (with
    the protocol that gave each), its DHCP/DHCPv6 facts (host name, vendor classes, ...) and
    what its mDNS records said (services, TXT models and makers)."""
    return {
        key: (
            d.role,
            d.vendor,
            d.manufacturer,
            d.model,
            sorted(d.hostnames.items()),
            sorted((k, str(v)) for k, v in d.dhcp.items()),
            d.services.get("mdns"),
        )
        for key, d in result.inventory.devices.items()
    }


def _findings(result: Any) -> list[tuple[Any, ...]]:
    return sorted((f.id, f.level.value, f.kind, f.destination.ip) for f in result.findings)


def _scenario_names() -> list[str]:
    from tests.analysis.scenarios.build import SCENARIOS

    return list(SCENARIOS)


_SCENARIO_DIR: list[Path] = []


def _scenario_dir(factory: pytest.TempPathFactory) -> Path:
    if not _SCENARIO_DIR:
        _SCENARIO_DIR.append(factory.mktemp("parity-scenarios"))
    return _SCENARIO_DIR[0]


def _captures() -> list[Any]:
    files = [pytest.param(p, id=p.name) for p in realworld_files()]
    files.append(
        pytest.param(
            DEMO,
            id=DEMO.name,
            marks=pytest.mark.skipif(not DEMO.exists(), reason="demo capture not generated"),
        )
    )
    return files


@requires_tshark
@pytest.mark.parametrize("path", _captures())
@pytest.mark.parametrize("fact", ["dns", "sni", "host", "dhcp", "macs"])
def test_same_names_and_devices(path: Path, fact: str) -> None:
    native = getattr(facts(str(path), ENGINE), fact)
    tshark = getattr(facts(str(path), "tshark"), fact)
    known = KNOWN.get((path.name, fact))
    if known is None:
        assert native == tshark, (
            f"native only: {sorted(native - tshark)}; tshark only: {sorted(tshark - native)}"
        )
    elif known[0] == "tshark":
        assert native <= tshark, known[1]
    else:
        assert tshark <= native, known[1]


@requires_tshark
@pytest.mark.parametrize("path", _captures())
def test_same_flows_and_counts(path: Path) -> None:
    if path.name in NO_COUNTS:
        pytest.skip(NO_COUNTS[path.name])
    native = facts(str(path), ENGINE)
    tshark = facts(str(path), "tshark")
    assert native.packets == tshark.packets
    # the TCP bytes the capture missed, and the payload it holds, by the same rule
    assert native.capture_loss == tshark.capture_loss
    only_native = sorted(set(native.flows) - set(tshark.flows), key=str)
    only_tshark = sorted(set(tshark.flows) - set(native.flows), key=str)
    assert not only_native and not only_tshark, (only_native[:5], only_tshark[:5])
    differ = {k: (v, tshark.flows[k]) for k, v in native.flows.items() if tshark.flows[k] != v}
    assert not differ, list(differ.items())[:5]


@pytest.mark.parametrize("path", _captures())
def test_core_equals_native_engine(path: Path) -> None:
    """Every event (in order, with its frame) and every flow counter of the Rust core, its
    repeated datagram facts included, equal the pure-Python engine's."""
    core = facts(str(path), "core-all", keep_duplicates=True)
    native = facts(str(path), "native")
    assert core.packets == native.packets
    assert core.flows == native.flows
    assert len(core.events) == len(native.events)
    for a, b in zip(core.events, native.events, strict=True):
        assert a == b


# the datagram facts whose repeats the core drops (the same fact between the same hosts)
_DEDUP_KINDS = {"dns", "nbns", "dhcp", "dhcpv6", "ntp", "ssdp", "sip"}


def _deduped(ev: Event) -> bool:
    return ev.kind in _DEDUP_KINDS and ev.ctx.transport == "udp"


def _fact(ev: Event) -> str:
    """What a datagram event says, with its sender (address and MAC) and receiver (DNS TTLs
    left out; a resolver's answer to a receiver that is not off-site is one fact)."""
    import dataclasses

    from netscan.inventory.enrich import Premises

    bare = dataclasses.replace(ev, ctx=None)  # type: ignore[arg-type]
    dst = ev.ctx.dst_ip
    if isinstance(bare, DnsEvent):
        bare.answers = [dataclasses.replace(r, ttl=0) for r in bare.answers]
        if bare.proto == "dns" and bare.is_response and not Premises().is_offsite(dst or ""):
            dst = "not off-site"
    return repr((ev.ctx.src_ip, ev.ctx.src_mac, dst, bare))


@pytest.mark.parametrize("path", _captures())
def test_core_hands_over_first_and_latest_sighting_of_each_fact(path: Path) -> None:
    """With repeats dropped, the core hands over every other event exactly as the Python
    engine does, and of each datagram fact its first sighting (same frame) and its latest
    one (same time), nothing it did not see, and fewer events where facts repeat."""
    core = facts(str(path), "core", keep_duplicates=True)
    native = facts(str(path), "native")
    assert [e for e in core.events if not _deduped(e)] == [
        e for e in native.events if not _deduped(e)
    ]
    first: dict[str, Event] = {}
    latest: dict[str, float] = {}
    for e in native.events:
        if _deduped(e):
            first.setdefault(_fact(e), e)
            latest[_fact(e)] = max(latest.get(_fact(e), e.ctx.ts), e.ctx.ts)
    core_first: dict[str, Event] = {}
    core_latest: dict[str, float] = {}
    native_all = [e for e in native.events if _deduped(e)]
    for e in core.events:
        if _deduped(e):
            assert e in native_all
            core_first.setdefault(_fact(e), e)
            core_latest[_fact(e)] = max(core_latest.get(_fact(e), e.ctx.ts), e.ctx.ts)
    assert core_first == first
    assert core_latest == latest
    assert len(core.events) <= len(native.events)


# (capture, device key) whose facts the tshark engine cannot see -> words its report's limits
# must contain: the vendor discovery protocols Wireshark has no dissector for
DEVICES_LIMITED: dict[tuple[str, str], str] = {
    ("demo_sales_office.pcapng", "24:48:45:b1:3c:70"): "no dissector for sadp",  # NVR model
    ("demo_sales_office.pcapng", "3c:ef:8c:6a:20:9e"): "no dissector for dhip",  # camera model
    ("xiongmai_discovery", "00:12:41:8c:3f:2a"): "no dissector for xiongmai",
}


def _same_devices(name: str, core: Facts, tshark: Facts) -> None:
    """The same devices with the same facts (role, maker, model, names, DHCP, mDNS), or the
    tshark engine's limits say why not."""
    assert set(core.devices) == set(tshark.devices), (name, set(core.devices) ^ set(tshark.devices))
    for key, mine in core.devices.items():
        theirs = tshark.devices[key]
        if mine == theirs:
            continue
        words = DEVICES_LIMITED.get((name, key))
        assert words is not None, f"{name} {key}: core {mine}, tshark {theirs}, without a why"
        assert any(words in line for line in tshark.limits), (name, key, tshark.limits)


# (capture, finding id) the tshark engine cannot reach -> words its report's limits must
# contain (what it could not see and why). Empty: it reaches every finding today.
FINDINGS_LIMITED: dict[tuple[str, str], str] = {}


def _same_findings(name: str, core: Facts, tshark: Facts) -> None:
    if core.findings == tshark.findings:
        return
    missing = [f for f in core.findings if f not in tshark.findings]
    extra = [f for f in tshark.findings if f not in core.findings]
    assert not extra, f"tshark only: {extra}"
    for f in missing:
        words = FINDINGS_LIMITED.get((name, f[0]))
        assert words is not None, f"the tshark engine misses {f} without saying why"
        assert any(words in line for line in tshark.limits), (f, tshark.limits)


@requires_tshark
@pytest.mark.parametrize("path", _captures())
def test_same_findings(path: Path) -> None:
    """Engine parity: the tshark engine (Wireshark's dissectors, the independent reference)
    reaches the core engine's findings (id, level, kind, destination) and device facts, or
    its report says what it could not see."""
    core, tshark = facts(str(path), ENGINE), facts(str(path), "tshark")
    _same_findings(path.name, core, tshark)
    if path.name not in NO_COUNTS:  # a misread frame gives tshark a device that is not there
        _same_devices(path.name, core, tshark)


@requires_tshark
@pytest.mark.parametrize("name", sorted(_scenario_names()))
def test_same_findings_on_scenarios(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.baselines import capture_path

    path = str(capture_path("scenarios", name, _scenario_dir(tmp_path_factory)))
    core, tshark = facts(path, ENGINE), facts(path, "tshark")
    assert core.findings or name in ("benign_local", "wlan_camera"), "a scenario without finding"
    assert core.devices
    _same_findings(name, core, tshark)
    _same_devices(name, core, tshark)


def _role_builders() -> list[Any]:
    from tests.analysis import role_captures as rc

    builders = {b for bs in rc.RULE_CAPTURES.values() for b in bs}
    builders.add(rc.xiongmai_discovery)
    return [pytest.param(b, id=b.__name__) for b in sorted(builders, key=lambda b: b.__name__)]


@requires_tshark
@pytest.mark.parametrize("builder", _role_builders())
def test_same_device_facts_on_role_captures(builder: Any, tmp_path: Path) -> None:
    """Device parity on the generated capture of every role rule: host names (DHCP, mDNS,
    NBNS, DHCPv6 FQDN), DHCP and DHCPv6 vendor classes, mDNS TXT models and makers, user
    agents and behaviour give the tshark engine the same role and facts as the core, or its
    limits say what it could not decode."""
    path, key = builder(tmp_path)
    core, tshark = facts(str(path), ENGINE), facts(str(path), "tshark")
    assert key in core.devices and core.devices[key][0] != "unknown"
    _same_devices(builder.__name__, core, tshark)


@requires_tshark
def test_device_parity_guard_fails_without_a_why() -> None:
    """The comparison above can fail: a device fact only one engine has, unexplained."""
    core = facts(str(DEMO), ENGINE)
    other = Facts(**{**core.__dict__, "devices": dict(core.devices), "limits": []})
    key = "44:19:b6:2e:7c:51"
    other.devices[key] = (*other.devices[key][:3], "another model", *other.devices[key][4:])
    with pytest.raises(AssertionError, match="without a why"):
        _same_devices("demo_sales_office.pcapng", core, other)


@requires_tshark
@pytest.mark.parametrize("name", ["isapi", "dahua", "zkteco", "encrypted"])
def test_same_findings_on_face_library_scenarios(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Face libraries pushed to terminals (enrolment answers the tshark engine takes from
    its second pass over the reassembled responses)."""
    from tests.analysis import test_facelib

    path = str(getattr(test_facelib, name)(tmp_path_factory.mktemp(f"facelib-{name}")))
    core, tshark = facts(path, ENGINE), facts(path, "tshark")
    assert any(f[2] == "face-library-sync" for f in core.findings)
    _same_findings(name, core, tshark)


@requires_tshark
def test_tshark_engine_says_what_it_cannot_decode() -> None:
    """Vendor discovery protocols Wireshark has no dissector for are listed in the limits,
    counted, with the first frame; the core engine decodes them and lists nothing."""
    tshark = facts(str(DEMO), "tshark")
    lines = [x for x in tshark.limits if "discovery port" in x]
    assert lines and all("were not decoded" in x and "first in frame" in x for x in lines)
    assert any("sadp" in x for x in lines)
    assert facts(str(DEMO), ENGINE).limits == []


# -- the tshark engine on its own ------------------------------------------------------


class Recorder(PlainSink):
    """A sink that keeps everything the engine hands it."""

    def __init__(self) -> None:
        self.flows: list[Flow] = []
        self.events: list[tuple[Event, Flow | None]] = []
        self.l2: list[tuple[int, int, bytes]] = []

    def on_flow(self, flow: Flow) -> None:
        self.flows.append(flow)

    def on_event(self, event: Event, flow: Flow | None) -> None:
        self.events.append((event, flow))

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        self.l2.append((file, frame, src))

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e, _ in self.events if isinstance(e, cls)]


def _run(*paths: Path) -> tuple[Any, Recorder]:
    from netscan.engine.tshark import TsharkEngine

    sink = Recorder()
    engine = TsharkEngine(sink)
    engine.run_files([str(p) for p in paths])
    return engine, sink


@requires_tshark
def test_dhcp_capture() -> None:
    engine, sink = _run(realworld("dhcp_wireshark_arkime.pcap"))
    stats = engine.file_stats[0]
    assert stats.frames == 4 and stats.first_ts is not None and stats.last_ts is not None
    assert stats.first_ts <= stats.last_ts
    dhcp = sink.of(DhcpEvent)
    assert [e.msg_type for e in dhcp] == [1, 2, 3, 5]
    assert [e.ctx.frame for e in dhcp] == [1, 2, 3, 4]
    assert {e.client_mac for e in dhcp} == {"00:0b:82:01:fc:42"}
    discover = dhcp[0]
    assert discover.client_id == "01000b8201fc42"
    assert discover.param_request_list == [1, 3, 6, 42]
    assert discover.requested_ip == "0.0.0.0"
    assert discover.ctx.transport == "udp" and discover.ctx.dport == 67
    # client (68) → server (67) on both flows, broadcast and unicast
    assert {(f.a_port, f.b_port) for f in sink.flows} == {(68, 67)}
    assert all(flow is not None and flow.proto == 17 for _, flow in sink.events)


@requires_tshark
def test_mdns_answers_and_l2() -> None:
    _, sink = _run(realworld("mdns_zeek.pcap"))
    dns = sink.of(DnsEvent)
    assert dns and {e.proto for e in dns} == {"mdns"}
    records = {(r.name, r.rtype, r.value) for e in dns for r in e.answers}
    assert ("johanna-qemu-virtual-machine.local", "A", "10.0.2.7") in records
    assert ("7.2.0.10.in-addr.arpa", "PTR", "johanna-qemu-virtual-machine.local") in records
    assert [src.hex(":") for _, _, src in sink.l2] == ["8a:3c:d6:e1:4d:c4"]


@requires_tshark
def test_quic_client_hello() -> None:
    _, sink = _run(realworld("quic_chromium_google_fragmented_zeek.pcap"))
    hellos = sink.of(TlsClientHelloEvent)
    assert len(hellos) == 1  # one per flow, like the native engine
    hello = hellos[0]
    assert hello.quic and hello.sni == "www.google.de" and hello.alpn == ["h3"]
    assert hello.versions == [0x0304]
    assert hello.ja3 and len(hello.ja3_hash) == 32


@requires_tshark
def test_tls_certificate_and_nbns() -> None:
    _, sink = _run(realworld("iot_tplink_hs110_plug_setup_iotsentinel.pcap"))
    certs = sink.of(TlsCertificateEvent)
    assert len(certs) == 1 and "CN=" in certs[0].subject and certs[0].issuer
    _, sink = _run(realworld("nbns_netbios_vlan_ndpi.pcap"))
    names = {(e.name, e.suffix) for e in sink.of(NbnsEvent)}
    assert ("GUNNAR", 0) in names and ("*", 0) in names


@requires_tshark
def test_rtsp_headers_from_second_pass() -> None:
    _, sink = _run(realworld("cam_dahua_rtsp_digest_2ic80.pcapng"))
    rtsp = sink.of(RtspEvent)
    requests = [e for e in rtsp if not e.is_response]
    responses = [e for e in rtsp if e.is_response]
    assert requests and responses
    assert requests[0].method == "OPTIONS" and requests[0].url.startswith("rtsp://")
    challenged = [e for e in responses if e.status == 401]
    assert challenged and all(e.realm for e in challenged)
    assert all(e.method for e in responses)  # matched to the request by CSeq


@requires_tshark
def test_two_files_are_merged_by_time() -> None:
    first = realworld("dhcp_wireshark_arkime.pcap")
    second = realworld("mdns_zeek.pcap")
    engine, sink = _run(first, second)
    assert [s.frames for s in engine.file_stats] == [4, 24]
    files = [e.ctx.file for e, _ in sink.events]
    assert files == sorted(files)  # the DHCP capture is years older
    assert {f.file for f in sink.flows} == {0, 1}


def test_record_types_split_nsec_bitmaps() -> None:
    from netscan.engine.tshark import _record_types

    layers = {
        "dns_resp_type": ["12", "1", "47", "12", "47", "1", "28"],
        "dns_count_answers": ["2"],
        "dns_count_auth_rr": ["0"],
        "dns_count_add_rr": ["2"],
        "dns_ptr_domain_name": ["a.local"],
        "dns_a": ["10.0.0.1"],
        "dns_nsec_next_domain_name": ["x.local", "a.local"],
    }
    assert _record_types(layers) == [12, 1, 47, 47]


def test_header_and_name_helpers() -> None:
    from netscan.engine.tshark import _headers, _nb_name, _realm

    assert _headers(["Host: a\\r\\n", "X-Long: b\r\n", " c\r\n", "bad line"]) == [
        ("host", "a"),
        ("x-long", "b c"),
    ]
    assert _nb_name("*<00><00><00>") == "*"
    assert _nb_name("PRINTER  ") == "PRINTER"
    assert _realm(['Digest realm="Login to 4K0A1B2", nonce="x"']) == "Login to 4K0A1B2"
    assert _realm(["Basic realm=cam"]) == "cam"
