"""Matcher: one test group per field type, event dispatch, and lookup cost vs pack size."""

from __future__ import annotations

import pytest

from netscan import events as ev
from netscan.observations import Subject
from netscan.signatures import matcher as matcher_mod
from netscan.signatures.matcher import Matcher, SigMatch
from netscan.signatures.pack import load_pack
from tests.signatures.helpers import make_pack, sig_yaml

PACK_FILES = {
    "face-cloud/a.yaml": "signatures:\n"
    + sig_yaml("face-cloud.exact-host", "dns_name: [api.face.example]")
    + sig_yaml("face-cloud.suffix-host", "dns_name: [.suffix.example]")
    + sig_yaml("face-cloud.below-host", 'dns_name: ["*.below.example"]')
    + sig_yaml("face-cloud.inner-wild", 'dns_name: ["rek.*.cloud.example"]')
    + sig_yaml("face-cloud.sni-only", "tls_sni: [sni.only.example]")
    + sig_yaml(
        "face-cloud.host-regex", 'dns_name:\n  - {regex: "^p2p[0-9]{1,2}\\\\.rx\\\\.example$"}'
    )
    + sig_yaml(
        "face-cloud.path",
        "http_path_prefix: [/face/v1/]\ncontent_marker:\n"
        "  - {text: FaceListObject, protocol: test, image_field: Data}\n"
        "  - {hex: ffd8ffe0, protocol: bin}",
    )
    + sig_yaml(
        "face-cloud.both",
        "http_host: [.both.example]",
        extra="    match_all:\n      http_host: [.both.example]\n"
        "      http_path_prefix: [/upload/]\n",
    ).replace("    match:\n      http_host: [.both.example]\n", ""),
    "vendor-cloud/b.yaml": "signatures:\n"
    + sig_yaml(
        "vendor-cloud.nets",
        'ip_cidr: ["10.1.0.0/16", "10.1.2.0/24", "2001:db8::/32"]\nasn: [64500]',
    )
    + sig_yaml("vendor-cloud.ports", "port: [udp/32100, {value: tcp/8000, confidence: 0.2}]"),
    "device/c.yaml": "signatures:\n"
    + sig_yaml(
        "device.oui",
        'oui_prefix: ["38:af:29", "40:2c:76:1", "70:b3:d5:12:3"]\noui_vendor: [Zhejiang Dahua]',
        role="video-device",
    )
    + sig_yaml(
        "device.dhcp",
        "dhcp_hostname:\n  - {prefix: chuangmi_camera_}\n  - {regex: '^camera_[0-9a-f]{4}$'}\n"
        "dhcp_vendor_class: [TRENDnet]\ndhcp_prl: ['1,3,6,15']",
        role="camera",
    )
    + sig_yaml(
        "device.mdns",
        "mdns_service: [_axis-video._tcp]\nmdns_name: [DCS-]",
        role="camera",
    )
    + sig_yaml(
        "device.banners",
        "ssdp_server: [UPnP/1.0 DCS-]\nssdp_nt: [urn:test:device:cam]\nssdp_usn: [uuid:cam-]\n"
        "wsd_type: [NetworkVideoTransmitter]\nwsd_scope: [onvif://www.onvif.org/type/video]\n"
        "http_server: [App-webs/]\nhttp_user_agent: [CamAgent]\nhttp_content_type: [application/viid]\n"
        "rtsp_server: [H264DVR]\nrtsp_path: [/Streaming/Channels/]\nrtsp_realm: [Login to]\n"
        "tls_cert_subject: [CN=IPC]\ntls_cert_issuer: [O=Hikvision]\n"
        "ja3: [0123456789abcdef0123456789abcdef]\nja4: [t13d1516h2_8daaf6152771_02713d6af862]\n"
        "vendor_discovery: [sadp]",
        role="camera",
    ),
}

CTX = ev.Ctx(file=0, frame=1, ts=0.0)


@pytest.fixture(scope="module")
def m(tmp_path_factory) -> Matcher:
    pack = make_pack(tmp_path_factory.mktemp("m"), PACK_FILES)
    return Matcher(load_pack(pack))


def ids(hits: list[SigMatch]) -> set[str]:
    return {h.sig_id for h in hits}


# --- host names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api.face.example", {"face-cloud.exact-host"}),
        ("API.Face.Example.", {"face-cloud.exact-host"}),
        ("api.face.example:443", {"face-cloud.exact-host"}),
        ("x.api.face.example", set()),
        ("suffix.example", {"face-cloud.suffix-host"}),
        ("a.b.suffix.example", {"face-cloud.suffix-host"}),
        ("notsuffix.example", set()),
        ("below.example", set()),
        ("x.below.example", {"face-cloud.below-host"}),
        ("x.y.below.example", {"face-cloud.below-host"}),
        ("rek.eu-west-1.cloud.example", {"face-cloud.inner-wild"}),
        ("rek.a.b.cloud.example", set()),
        ("rek.cloud.example", set()),
        ("p2p7.rx.example", {"face-cloud.host-regex"}),
        ("p2p7x.rx.example", set()),
        ("", set()),
    ],
)
def test_domain_patterns(m, name, expected):
    assert ids(m.match_name(name)) == expected


def test_layer_specific_name_fields(m):
    assert ids(m.match_name("sni.only.example", "tls_sni")) == {"face-cloud.sni-only"}
    assert ids(m.match_name("sni.only.example", "dns_name")) == set()
    assert ids(m.match_name("sni.only.example")) == {"face-cloud.sni-only"}
    assert ids(m.match_name("api.face.example", "http_host")) == {"face-cloud.exact-host"}
    with pytest.raises(ValueError):
        m.match_name("x", "ssdp_server")


# --- MAC, IP, ports -----------------------------------------------------------------------


def test_oui_prefixes_of_three_lengths_and_vendor_names(m):
    assert ids(m.match_mac("38:AF:29:BB:BC:AB")) == {"device.oui"}
    assert ids(m.match_mac("38-af-29-bb-bc-ab")) == {"device.oui"}
    assert ids(m.match_mac("40:2c:76:1f:00:01")) == {"device.oui"}  # MA-M /28
    assert ids(m.match_mac("40:2c:76:2f:00:01")) == set()
    assert ids(m.match_mac("70:b3:d5:12:3a:bc")) == {"device.oui"}  # MA-S /36
    assert ids(m.match_mac("70:b3:d5:12:4a:bc")) == set()
    hits = m.match_mac("00:11:22:33:44:55", "Zhejiang Dahua Technology Co., Ltd.")
    assert [(h.sig_id, h.field) for h in hits] == [("device.oui", "oui_vendor")]
    assert hits[0].role == "video-device"


def test_cidrs_overlapping_and_ipv6(m):
    assert ids(m.match_ip("10.1.2.3")) == {"vendor-cloud.nets"}
    assert len(m.match_ip("10.1.2.3")) == 1  # two overlapping networks, one hit
    assert ids(m.match_ip("10.1.255.255")) == {"vendor-cloud.nets"}
    assert ids(m.match_ip("10.2.0.0")) == set()
    assert ids(m.match_ip("10.0.255.255")) == set()
    assert ids(m.match_ip("2001:db8:1::5")) == {"vendor-cloud.nets"}
    assert ids(m.match_ip("2001:db9::1")) == set()
    assert ids(m.match_ip("not an ip")) == set()
    assert ids(m.match_ip("192.0.2.1", asn=64500)) == {"vendor-cloud.nets"}


def test_ports_with_entry_confidence(m):
    assert ids(m.match_port("udp", 32100)) == {"vendor-cloud.ports"}
    assert ids(m.match_port("UDP", 32100)) == {"vendor-cloud.ports"}
    assert ids(m.match_port("tcp", 32100)) == set()
    (hit,) = m.match_port("tcp", 8000)
    assert hit.confidence == 0.2 and hit.value == "tcp/8000"


# --- text fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dhcp_hostname": "chuangmi_camera_ipc019"}, {"device.dhcp"}),
        ({"dhcp_hostname": "x_chuangmi_camera_ipc019"}, set()),  # prefix, not substring
        ({"dhcp_hostname": "camera_7A3F"}, {"device.dhcp"}),  # regex, case-insensitive
        ({"dhcp_hostname": "camera_7a3f0"}, set()),
        ({"dhcp_vendor_class": "trendnet-ip"}, {"device.dhcp"}),
        ({"dhcp_prl": "1, 3, 6, 15"}, {"device.dhcp"}),
        ({"dhcp_prl": "1,3,6"}, set()),
        ({"dhcp_prl": "garbage"}, set()),
        ({"mdns_service": "_axis-video._tcp.local."}, {"device.mdns"}),
        ({"mdns_name": "DCS-935L-B0C554255B0E._dhnap._tcp.local"}, {"device.mdns"}),
        ({"ssdp_server": "Linux, UPnP/1.0 DCS-935L/1.0"}, {"device.banners"}),
        ({"ssdp_nt": "urn:test:device:cam:1"}, {"device.banners"}),
        ({"ssdp_usn": "uuid:cam-1234::upnp:rootdevice"}, {"device.banners"}),
        ({"wsd_type": "dn:NetworkVideoTransmitter"}, {"device.banners"}),
        ({"wsd_scope": "onvif://www.onvif.org/type/video_encoder"}, {"device.banners"}),
        ({"http_server": "App-webs/"}, {"device.banners"}),
        ({"http_user_agent": "Mozilla CamAgent/2"}, {"device.banners"}),
        ({"http_content_type": "application/VIID+JSON"}, {"device.banners"}),
        ({"rtsp_server": "H264DVR rtspd 1.0"}, {"device.banners"}),
        ({"rtsp_path": "/Streaming/Channels/101"}, {"device.banners"}),
        ({"rtsp_path": "/x/Streaming/Channels/101"}, set()),
        ({"rtsp_realm": "Login to 4H01D66PAJ2FA64"}, {"device.banners"}),
        ({"tls_cert_subject": "CN=IPC,O=x"}, {"device.banners"}),
        ({"tls_cert_issuer": "CN=ca,O=Hikvision"}, {"device.banners"}),
        ({"ja3": "0123456789ABCDEF0123456789ABCDEF"}, {"device.banners"}),
        ({"ja4": "t13d1516h2_8daaf6152771_02713d6af862"}, {"device.banners"}),
        ({"ja4": "t13d1516h2_8daaf6152771_02713d6af863"}, set()),
        ({"vendor_discovery": "SADP"}, {"device.banners"}),
        ({"http_path_prefix": "/face/v1/detect"}, {"face-cloud.path"}),
        ({"content_marker": '{"FaceListObject":{}}'}, {"face-cloud.path"}),
        ({"content_marker": "facelistobjec"}, set()),
    ],
)
def test_text_fields(m, fields, expected):
    assert ids(m.match_fields(fields)) == expected


def test_match_all_needs_every_field(m):
    both = {"http_host": "up.both.example", "http_path_prefix": "/upload/x"}
    hits = m.match_fields(both)
    assert ids(hits) == {"face-cloud.both"}
    assert {h.field for h in hits} == {"http_host", "http_path_prefix"}
    assert ids(m.match_fields({"http_host": "up.both.example"})) == set()
    assert ids(m.match_fields({"http_path_prefix": "/upload/x"})) == set()
    assert ids(m.match_name("up.both.example")) == set()


def test_unknown_field_is_an_error(m):
    with pytest.raises(ValueError, match="unknown field"):
        m.match_fields({"colour": "red"})


def test_regex_fallback_without_re2(tmp_path, monkeypatch):
    monkeypatch.setattr(matcher_mod, "_re2", None)
    fallback = Matcher(load_pack(make_pack(tmp_path, PACK_FILES)))
    assert ids(fallback.match_fields({"dhcp_hostname": "camera_00ff"})) == {"device.dhcp"}
    assert ids(fallback.match_name("p2p1.rx.example")) == {"face-cloud.host-regex"}
    assert ids(fallback.match_fields({"dhcp_hostname": "camera_00fff"})) == set()


# --- events ----------------------------------------------------------------------------------


def test_dhcp_event(m):
    e = ev.DhcpEvent(
        ctx=CTX,
        msg_type=3,  # a request: the client speaks
        client_mac="38:af:29:00:00:01",
        hostname="chuangmi_camera_ipc019",
        param_request_list=[1, 3, 6, 15],
    )
    hits = m.match_event(e)
    assert {(h.sig_id, h.field) for h in hits} == {
        ("device.dhcp", "dhcp_hostname"),
        ("device.dhcp", "dhcp_prl"),
        ("device.oui", "oui_prefix"),
    }


def test_dhcp_server_answers_say_nothing_of_the_client(m):
    offer = ev.DhcpEvent(ctx=CTX, msg_type=2, client_mac="38:af:29:00:00:01", hostname="x")
    assert m.match_event(offer) == []


def test_dns_queries_are_observed_answers_reach_endpoints_by_passive_dns(m):
    query = ev.DnsEvent(ctx=CTX, queries=[("API.face.example.", "A")])
    hits = m.match_event(query)
    assert {(h.sig_id, h.field, h.value) for h in hits} == {
        ("face-cloud.exact-host", "dns_name", "API.face.example.")
    }
    assert {h.subject for h in hits} == {Subject.ASKER}  # describes the asker only
    answer = ev.DnsEvent(
        ctx=CTX,
        is_response=True,
        queries=[("www.unrelated.example", "A")],
        answers=[
            ev.DnsRecord(name="www.unrelated.example", rtype="CNAME", value="api.face.example"),
            ev.DnsRecord(name="api.face.example", rtype="A", value="10.1.2.3"),
        ],
    )
    assert m.match_event(answer) == []  # the resolver is not the names it gives
    llmnr = ev.DnsEvent(
        ctx=CTX,
        proto="llmnr",
        is_response=True,
        answers=[ev.DnsRecord(name="api.face.example", rtype="A", value="10.1.2.3")],
    )
    assert {(h.sig_id, h.subject) for h in m.match_event(llmnr)} == {
        ("face-cloud.exact-host", Subject.SENDER)  # an LLMNR answer names its sender
    }


def test_mdns_browsing_is_not_device_evidence(m):
    browse = ev.DnsEvent(ctx=CTX, proto="mdns", queries=[("_axis-video._tcp.local", "PTR")])
    assert m.match_event(browse) == []
    answer = ev.DnsEvent(
        ctx=CTX,
        proto="mdns",
        is_response=True,
        answers=[
            ev.DnsRecord(
                name="_axis-video._tcp.local",
                rtype="PTR",
                value="AXIS M1065 - ACCC8E._axis-video._tcp.local",
            )
        ],
    )
    assert ids(m.match_event(answer)) == {"device.mdns"}
    probe = ev.DnsEvent(
        ctx=CTX, proto="mdns", queries=[("DCS-935L-B0C554255B0E._dhnap._tcp.local", "ANY")]
    )
    assert {(h.sig_id, h.field) for h in m.match_event(probe)} == {("device.mdns", "mdns_name")}


def test_tls_events(m):
    hello = ev.TlsClientHelloEvent(
        ctx=CTX,
        sni="sni.only.example",
        ja3_hash="0123456789abcdef0123456789abcdef",
    )
    assert {(h.sig_id, h.field) for h in m.match_event(hello)} == {
        ("face-cloud.sni-only", "tls_sni"),
        ("device.banners", "ja3"),
    }
    cert = ev.TlsCertificateEvent(
        ctx=CTX, subject="CN=IPC", issuer="O=Other", san=["api.face.example", "*.x.example"]
    )
    assert {(h.sig_id, h.field) for h in m.match_event(cert)} == {
        ("device.banners", "tls_cert_subject"),
        ("face-cloud.exact-host", "tls_cert_san"),
    }


def test_http_events_and_body_markers(m):
    req = ev.HttpRequestEvent(ctx=CTX, method="POST", path="/upload/1", host="a.both.example:8080")
    assert ids(m.match_event(req)) == {"face-cloud.both"}
    resp = ev.HttpResponseEvent(ctx=CTX, status=200, server="App-webs/")
    assert ids(m.match_event(resp)) == {"device.banners"}
    body = ev.HttpBodyEvent(ctx=CTX, method="POST", path="/x", body=b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert ids(m.match_event(body)) == {"face-cloud.path"}
    upper = ev.HttpBodyEvent(ctx=CTX, method="POST", path="/x", body=b"\xff\xd8\xff\xe0".upper())
    assert ids(m.match_event(upper)) == {"face-cloud.path"}  # no letters: unchanged
    late = ev.HttpBodyEvent(
        ctx=CTX, body=b"x" * (matcher_mod.BODY_SCAN_LIMIT + 10) + b"FaceListObject"
    )
    assert m.match_event(late) == []


def test_rtsp_ssdp_wsd_and_vendor_discovery_events(m):
    rtsp = ev.RtspEvent(
        ctx=CTX, method="DESCRIBE", url="rtsp://10.0.0.5:554/Streaming/Channels/101"
    )
    assert {(h.field, h.value) for h in m.match_event(rtsp)} == {
        ("rtsp_path", "/Streaming/Channels/101")
    }
    search = ev.SsdpEvent(ctx=CTX, method="M-SEARCH", nt="urn:test:device:cam:1")
    assert m.match_event(search) == []
    notify = ev.SsdpEvent(ctx=CTX, method="NOTIFY", nt="urn:test:device:cam:1")
    assert ids(m.match_event(notify)) == {"device.banners"}
    probe = ev.WsdEvent(ctx=CTX, action="Probe", types=["dn:NetworkVideoTransmitter"])
    assert m.match_event(probe) == []
    match = ev.WsdEvent(ctx=CTX, action="ProbeMatches", types=["dn:NetworkVideoTransmitter"])
    assert ids(m.match_event(match)) == {"device.banners"}
    inquiry = ev.VendorDiscoveryEvent(ctx=CTX, protocol="sadp", is_response=False)
    assert m.match_event(inquiry) == []
    reply = ev.VendorDiscoveryEvent(ctx=CTX, protocol="sadp", is_response=True)
    assert ids(m.match_event(reply)) == {"device.banners"}


def test_sigmatch_is_frozen(m):
    (hit,) = m.match_name("api.face.example")
    with pytest.raises(AttributeError):
        hit.confidence = 1.0  # type: ignore[misc]
    assert (hit.category, hit.vendor, hit.jurisdiction, hit.role) == (
        "face-cloud",
        "Test Vendor",
        "ZZ",
        None,
    )


# --- lookup cost does not grow with the number of signatures --------------------------


def _big_pack_files(n: int) -> dict[str, str]:
    """PACK_FILES plus `n` unrelated signatures of every index type."""
    extra = []
    for i in range(n):
        extra.append(
            sig_yaml(
                f"device.filler-{i}",
                f"dns_name: [h{i}.filler{i}.example, .zone{i}.example]\n"
                f'oui_prefix: ["{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}:ee"]\n'
                f"ip_cidr: [172.{16 + i % 16}.{i // 16 % 256}.0/24]\n"
                f"port: [tcp/{20000 + i}]\n"
                f"http_server: [FillerServer{i}]\n"
                f"http_path_prefix: [/filler/{i}/]\n"
                f"dhcp_prl: ['{i},{i + 1}']",
                role="camera",
            )
        )
    files = dict(PACK_FILES)
    files["device/filler.yaml"] = "signatures:\n" + "".join(extra)
    return files


LOOKUPS = [
    ("name", "a.b.suffix.example"),
    ("name", "nothing.at.all.example"),
    ("mac", "38:af:29:bb:bc:ab"),
    ("port", 32100),
    ("server", "Linux App-webs/ 1.0 with a long banner string"),
    ("path", "/face/v1/detect?x=1"),
    ("prl", "1,3,6,15"),
]


def _probes(matcher: Matcher, kind: str, value: object) -> int:
    matcher.reset_probes()
    if kind == "name":
        matcher.match_name(str(value))
    elif kind == "mac":
        matcher.match_mac(str(value))
    elif kind == "port":
        matcher.match_port("udp", int(value))  # type: ignore[call-overload]
    elif kind == "server":
        matcher.match_fields({"http_server": str(value)})
    elif kind == "path":
        matcher.match_fields({"http_path_prefix": str(value)})
    elif kind == "prl":
        matcher.match_fields({"dhcp_prl": str(value)})
    return matcher.probes


def test_probes_per_lookup_do_not_grow_with_pack_size(tmp_path):
    small = Matcher(load_pack(make_pack(tmp_path / "s", _big_pack_files(5))))
    large = Matcher(load_pack(make_pack(tmp_path / "l", _big_pack_files(600))))
    assert len(large.pack.signatures) > 100 * len(small.pack.signatures) // 10
    for kind, value in LOOKUPS:
        if kind == "server":
            # Aho-Corasick: at most two steps per input character, whatever the pattern count.
            for mm in (small, large):
                assert _probes(mm, kind, value) <= 2 * len(str(value))
        else:
            assert _probes(small, kind, value) == _probes(large, kind, value), (kind, value)


def test_ip_lookup_is_one_bisect_over_elementary_intervals(tmp_path):
    large = Matcher(load_pack(make_pack(tmp_path, _big_pack_files(300))))
    large.reset_probes()
    assert ids(large.match_ip("172.16.0.9")) == {"device.filler-0"}
    assert large.probes == 1
    starts = large._v4._starts
    assert starts == sorted(starts) and len(starts) == len(large._v4._refs)


def test_body_markers_are_every_marker_in_the_body() -> None:
    """A body's markers are exactly the pack's markers that occur in it (text markers in
    any case, byte markers as they are), whether they overlap, contain one another or
    repeat; checked against that definition on bodies built from the real pack's markers."""
    import random

    from netscan.analyze import load_signatures

    mat, _pack = load_signatures(None)
    markers = list(mat._marker_refs)
    assert len(markers) > 5
    rnd = random.Random(7)
    for _ in range(300):
        parts = []
        for _ in range(rnd.randrange(0, 6)):
            mk = rnd.choice(markers)
            cut = rnd.randrange(0, 3)  # whole, or a marker's head or tail cut off
            piece = mk if cut == 0 else (mk[: len(mk) // 2] if cut == 1 else mk[len(mk) // 2 :])
            if rnd.random() < 0.5:
                piece = piece.upper()
            parts.append(piece)
            parts.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 4))))
        body = b"".join(parts)
        expect = set()
        for mk, refs in mat._marker_refs.items():
            hay = body.lower() if not refs[0].entry.binary else body
            if (mk.lower() if not refs[0].entry.binary else mk) in hay:
                expect.add(mk)
        got = mat._body_refs(body)
        want = [r for mk in sorted(expect) for r in mat._marker_refs[mk]]
        assert got == want, body


def test_body_markers_the_same_with_and_without_re2(monkeypatch) -> None:
    """The one-pass marker scan (an RE2 set over Latin-1 text) finds what searching each
    marker on its own finds (the way without RE2): bodies built from the real pack's
    markers in mixed case, cut, overlapping, with every byte value around them, and
    non-ASCII letters whose case ``bytes.lower`` does not fold."""
    import random

    from netscan.analyze import load_signatures
    from netscan.signatures.pack import load_active_pack

    fast, _pack = load_signatures(None)
    monkeypatch.setattr(matcher_mod, "_re2", None)
    slow = Matcher(load_active_pack())
    assert fast._marker_match is not None and slow._marker_match is None
    markers = list(fast._marker_refs)
    rnd = random.Random(11)
    noise = [b"\xc0", b"\xe0", b"\xff", b"\x00", b"\n", b"A", b"z", b"[", b"`", b"{", b"@"]
    for _ in range(2000):
        parts = []
        for _ in range(rnd.randrange(0, 8)):
            mk = rnd.choice(markers)
            a, b = sorted(rnd.randrange(len(mk) + 1) for _ in range(2))
            piece = mk if rnd.random() < 0.5 else mk[a:b]
            piece = bytes(c ^ 0x20 if chr(c).isalpha() and rnd.random() < 0.4 else c
                          for c in piece)  # fmt: skip
            parts.append(piece)
            parts.extend(rnd.choice(noise) for _ in range(rnd.randrange(0, 3)))
        body = b"".join(parts)
        got = fast._body_refs(body)
        assert got == slow._body_refs(body), body
    # beyond the scanned head nothing counts, with or without RE2
    tail = b"x" * matcher_mod.BODY_SCAN_LIMIT + markers[0]
    assert fast._body_refs(tail) == slow._body_refs(tail) == []


def test_lookup_caches_are_bounded_by_the_text_they_hold(
    m: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed values are network text: a host sending distinct 16 KiB paths must not
    keep them all alive in the matcher's caches (bounded by characters, not only entries),
    and the answers stay right across the clearing."""
    monkeypatch.setattr(matcher_mod, "CACHE_CHARS", 200_000)
    filler = "x" * 16_000
    for i in range(100):
        path = f"/face/v1/{filler}{i}"
        hits = m.match_observations([("http_path_prefix", path, Subject.SENDER)])
        assert {h.sig_id for h in hits} == {"face-cloud.path"}, i
        for cache in (m._text_cache, m._hit_cache, m._obs_cache, m._name_cache):
            held = sum(_text_in(k) for k in cache)
            assert held <= 200_000 + 16_100, (i, held)


def _text_in(key: object) -> int:
    """The characters of the strings in a cache key (keys are tuples, nested or not)."""
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return sum(_text_in(k) for k in key)
    return 0
