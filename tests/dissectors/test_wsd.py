from __future__ import annotations

import random
import time

from netscan.dissectors import wsd
from netscan.events import Ctx, WsdEvent
from tests.conftest import realworld
from tests.dissectors._textproto_pcap import udp_datagrams

CTX = Ctx(file=0, frame=1, ts=0.0, transport="udp", sport=3702, dport=3702)

PROBE_MATCHES = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
    xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
    xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
    xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
  <env:Header>
    <wsa:MessageID>uuid:3e4d9a61-1dd2-11b2-a105-F4B5C1D2E3F4</wsa:MessageID>
    <wsa:RelatesTo>uuid:6a5c2b1e-0f44-4c6e-9b1a-2d3c4e5f6a7b</wsa:RelatesTo>
    <wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
    <wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
    <d:AppSequence InstanceId="1700000000" MessageNumber="12"/>
  </env:Header>
  <env:Body>
    <d:ProbeMatches>
      <d:ProbeMatch>
        <wsa:EndpointReference>
          <wsa:Address>urn:uuid:3e4d9a61-1dd2-11b2-a105-bcad28a1b2c3</wsa:Address>
        </wsa:EndpointReference>
        <d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
        <d:Scopes>onvif://www.onvif.org/type/video_encoder
          onvif://www.onvif.org/hardware/DS-2CD2143G0-I onvif://www.onvif.org/name/HIKVISION
          onvif://www.onvif.org/location/city/hangzhou</d:Scopes>
        <d:XAddrs>http://192.168.1.64/onvif/device_service</d:XAddrs>
        <d:MetadataVersion>10</d:MetadataVersion>
      </d:ProbeMatch>
    </d:ProbeMatches>
  </env:Body>
</env:Envelope>
"""

HELLO = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    b'xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    b'xmlns:tdn="http://www.onvif.org/ver10/network/wsdl">'
    b"<SOAP-ENV:Header><wsa:MessageID>urn:uuid:1</wsa:MessageID>"
    b"<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
    b"<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</wsa:Action>"
    b"</SOAP-ENV:Header><SOAP-ENV:Body><wsdd:Hello><wsa:EndpointReference>"
    b"<wsa:Address>urn:uuid:4c4c4544-0001-0002-0003-00123e4f5a6b</wsa:Address>"
    b"</wsa:EndpointReference><wsdd:Types>tdn:NetworkVideoTransmitter</wsdd:Types>"
    b"<wsdd:Scopes>onvif://www.onvif.org/Profile/Streaming "
    b"onvif://www.onvif.org/name/Dahua onvif://www.onvif.org/hardware/IPC-HDW2431T</wsdd:Scopes>"
    b"<wsdd:XAddrs>http://192.168.1.108/onvif/device_service "
    b"http://[fe80::3ae:29ff:febb:bcab]/onvif/device_service</wsdd:XAddrs>"
    b"<wsdd:MetadataVersion>1</wsdd:MetadataVersion></wsdd:Hello></SOAP-ENV:Body>"
    b"</SOAP-ENV:Envelope>"
)

PROBE_NO_ACTION = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    b"<s:Header/><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>"
    b"</d:Probe></s:Body></s:Envelope>"
)


def one(payload: bytes) -> WsdEvent:
    events = wsd.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, WsdEvent)
    return event


def test_onvif_probe_matches() -> None:
    event = one(PROBE_MATCHES)
    assert event.kind == "wsd"
    assert event.action == "ProbeMatches"
    assert event.types == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert event.scopes == [
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/hardware/DS-2CD2143G0-I",
        "onvif://www.onvif.org/name/HIKVISION",
        "onvif://www.onvif.org/location/city/hangzhou",
    ]
    assert event.xaddrs == ["http://192.168.1.64/onvif/device_service"]
    assert event.endpoint == "urn:uuid:3e4d9a61-1dd2-11b2-a105-bcad28a1b2c3"


def test_hello() -> None:
    event = one(HELLO)
    assert event.action == "Hello"
    assert event.types == ["tdn:NetworkVideoTransmitter"]
    assert "onvif://www.onvif.org/name/Dahua" in event.scopes
    assert event.xaddrs == [
        "http://192.168.1.108/onvif/device_service",
        "http://[fe80::3ae:29ff:febb:bcab]/onvif/device_service",
    ]
    assert event.endpoint == "urn:uuid:4c4c4544-0001-0002-0003-00123e4f5a6b"


def test_action_from_body_element_and_bye() -> None:
    event = one(PROBE_NO_ACTION)
    assert event.action == "Probe"
    assert event.types == ["dn:NetworkVideoTransmitter"]
    assert event.endpoint is None and event.scopes == [] and event.xaddrs == []
    bye = HELLO.replace(b"/Hello<", b"/Bye<").replace(b"wsdd:Hello>", b"wsdd:Bye>")
    assert one(bye).action == "Bye"
    assert one(b"\xef\xbb\xbf\r\n" + PROBE_MATCHES).action == "ProbeMatches"  # BOM, blank line


def test_not_discovery() -> None:
    fault = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault/>'
        b"</s:Body></s:Envelope>"
    )
    for payload in (fault, b"<html/>", b"", b"NOTIFY * HTTP/1.1\r\n\r\n", PROBE_MATCHES[:300]):
        assert wsd.parse(payload, CTX) == []


def test_hostile_xml_is_rejected_quickly() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'.encode() for i in range(1, 10)
        ).replace(b"&lol0;", b"&lol;")
        + b"]><Envelope><Body><Probe><Types>&lol9;</Types></Probe></Body></Envelope>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Envelope><Body><Probe><Types>&x;</Types></Probe></Body></Envelope>"
    )
    utf16 = (
        '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16")
        + external.decode().encode("utf-16")[2:]
    )
    # a declared single-byte encoding must not let markup hide from the DOCTYPE check
    ebcdic = b'<?xml version="1.0" encoding="cp037"?>' + external[21:].decode().encode("cp037")
    oversized = PROBE_MATCHES.replace(b"<d:MetadataVersion>", b" " * 70000 + b"<d:MetadataVersion>")
    deep = b"<Envelope>" + b"<a>" * 20000 + b"</a>" * 20000 + b"</Envelope>"
    # even a harmless internal DTD is refused: no DTD processing at all
    harmless = b"<!DOCTYPE Envelope>" + PROBE_NO_ACTION
    assert len(wsd.parse(PROBE_NO_ACTION, CTX)) == 1
    assert wsd.parse(harmless, CTX) == []
    start = time.monotonic()
    for payload in (laughs, external, utf16, ebcdic, oversized, laughs.lower()):
        assert wsd.parse(payload, CTX) == []
    assert wsd.parse(deep, CTX) == []
    assert time.monotonic() - start < 2.0


def test_garbage_never_raises() -> None:
    rng = random.Random(3702)
    for _ in range(300):
        mutated = bytearray(PROBE_MATCHES)
        for _ in range(rng.randint(1, 10)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out = wsd.parse(bytes(mutated), CTX)
        assert all(isinstance(e, WsdEvent) for e in out)
        wsd.parse(rng.randbytes(rng.randint(0, 300)), CTX)
        cut = rng.randrange(len(PROBE_MATCHES))
        wsd.parse(PROBE_MATCHES[:cut], CTX)


def test_windows_discovery_capture_ipv4_and_ipv6() -> None:
    events: list[WsdEvent] = []
    for payload, ctx in udp_datagrams(realworld("wsd_ssdp_discovery_ndpi.pcap"), 3702):
        events.extend(e for e in wsd.parse(payload, ctx) if isinstance(e, WsdEvent))
    assert len(events) == 14
    # despite the capture's description these are Resolve messages (tshark shows the XML)
    assert {e.action for e in events} == {"Resolve"}
    assert {e.endpoint for e in events} == {"urn:uuid:e3248000-80ce-11db-8000-001ba99ec956"}
    assert {e.ctx.dst_ip for e in events} == {"239.255.255.250", "ff02::c"}
    assert all(e.types == [] and e.xaddrs == [] for e in events)
