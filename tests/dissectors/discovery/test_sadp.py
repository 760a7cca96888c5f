"""Hikvision SADP parser.

The messages below are written by hand after the public descriptions cited in
``netscan/dissectors/discovery/sadp.py``: the probe layout of julienblitte/UniversalScanner
``Hikvision.cs`` and the ProbeMatch element names of cameronnewman/hikvision-tooling
``internal/sadp/scanner.go``. Values (serial, addresses) are invented.
"""

from __future__ import annotations

from netscan.dissectors.discovery import sadp
from netscan.events import Ctx, VendorDiscoveryEvent
from tests.dissectors.discovery._fuzz import assert_never_raises

CTX = Ctx(file=0, frame=1, ts=0.0, src_ip="192.168.1.64", sport=37020, dport=37020, transport="udp")

PROBE = (
    b'<?xml version="1.0" encoding="utf-8"?><Probe>'
    b"<Uuid>8E4C2A39-5B1D-4C6E-9F20-3A7B1C0D2E4F</Uuid><Types>inquiry</Types></Probe>"
)

PROBE_MATCH = b"""<?xml version="1.0" encoding="UTF-8"?>
<ProbeMatch>
<Uuid>8E4C2A39-5B1D-4C6E-9F20-3A7B1C0D2E4F</Uuid>
<Types>inquiry</Types>
<DeviceType>139555</DeviceType>
<DeviceDescription>DS-K1T671MF</DeviceDescription>
<DeviceSN>DS-K1T671MF0120210101CCRRF12345678</DeviceSN>
<CommandPort>8000</CommandPort>
<HttpPort>80</HttpPort>
<MAC>bc-ad-28-12-34-56</MAC>
<IPv4Address>192.168.1.64</IPv4Address>
<IPv4SubnetMask>255.255.255.0</IPv4SubnetMask>
<IPv4Gateway>192.168.1.1</IPv4Gateway>
<IPv6Address>::</IPv6Address>
<IPv6Gateway>::</IPv6Gateway>
<IPv6MaskLen>64</IPv6MaskLen>
<DHCP>false</DHCP>
<AnalogChannelNum>0</AnalogChannelNum>
<DigitalChannelNum>1</DigitalChannelNum>
<SoftwareVersion>V3.2.30build 210409</SoftwareVersion>
<DSPVersion>V1.0.0</DSPVersion>
<BootTime>2024-03-01 08:12:44</BootTime>
<Encrypt>true</Encrypt>
<ResetAbility>false</ResetAbility>
<DiskNumber>0</DiskNumber>
<Activated>true</Activated>
<PasswordResetAbility>true</PasswordResetAbility>
<PasswordResetModeSecond>true</PasswordResetModeSecond>
<SupportSecurityQuestion>false</SupportSecurityQuestion>
<SDKOverTLSPort>8443</SDKOverTLSPort>
<OEMInfo>hikvision</OEMInfo>
</ProbeMatch>
"""


def _one(payload: bytes) -> VendorDiscoveryEvent:
    events = sadp.parse(payload, CTX)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, VendorDiscoveryEvent)
    assert event.protocol == "sadp"
    assert event.ctx is CTX
    return event


def test_probe_is_a_request() -> None:
    event = _one(PROBE)
    assert event.is_response is False
    assert event.fields == {"uuid": "8E4C2A39-5B1D-4C6E-9F20-3A7B1C0D2E4F", "types": "inquiry"}


def test_probe_v32() -> None:
    event = _one(PROBE.replace(b">inquiry<", b">inquiry_v32<"))
    assert event.fields["types"] == "inquiry_v32"


def test_probe_match_fields() -> None:
    event = _one(PROBE_MATCH)
    assert event.is_response is True
    f = event.fields
    assert f["vendor"] == "Hikvision"
    assert f["model"] == "DS-K1T671MF"
    assert f["serial"] == "DS-K1T671MF0120210101CCRRF12345678"
    assert f["mac"] == "bc:ad:28:12:34:56"
    assert f["ip"] == "192.168.1.64"
    assert f["netmask"] == "255.255.255.0"
    assert f["gateway"] == "192.168.1.1"
    assert "ipv6" not in f  # "::" means unset
    assert f["dhcp"] is False
    assert f["activated"] is True
    assert f["command_port"] == 8000
    assert f["http_port"] == 80
    assert f["sdk_tls_port"] == 8443
    assert f["software_version"] == "V3.2.30build 210409"
    assert f["dsp_version"] == "V1.0.0"
    assert f["device_type"] == "139555"
    assert f["digital_channels"] == 1
    assert f["oem"] == "hikvision"


def test_inactive_device_with_trailing_nuls() -> None:
    payload = PROBE_MATCH.replace(b"<Activated>true", b"<Activated>false") + b"\x00\x00"
    assert _one(payload).fields["activated"] is False


def test_sparse_probe_match() -> None:
    event = _one(
        b"<ProbeMatch><DeviceSN>X1</DeviceSN><MAC>bad</MAC><HttpPort>99999</HttpPort></ProbeMatch>"
    )
    assert event.fields == {"vendor": "Hikvision", "serial": "X1"}


def test_namespaced_root_is_accepted() -> None:
    payload = b'<ProbeMatch xmlns="urn:x"><DeviceDescription>DS-2CD2143G2-I</DeviceDescription></ProbeMatch>'
    assert _one(payload).fields["model"] == "DS-2CD2143G2-I"


def test_entity_declarations_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE ProbeMatch [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<ProbeMatch><DeviceDescription>&b;</DeviceDescription></ProbeMatch>"
    )
    assert sadp.parse(bomb, CTX) == []
    external = (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<ProbeMatch><DeviceSN>&e;</DeviceSN></ProbeMatch>"
    )
    assert sadp.parse(external, CTX) == []
    assert sadp.parse(b'<?xml-stylesheet href="x"?><ProbeMatch/>', CTX) == []


def test_other_xml_and_text_give_nothing() -> None:
    assert sadp.parse(b"<Envelope><Body/></Envelope>", CTX) == []
    assert sadp.parse(b"M-SEARCH * HTTP/1.1\r\n\r\n", CTX) == []
    assert sadp.parse(b"<ProbeMatch><unclosed></ProbeMatch>", CTX) == []
    assert sadp.parse(b"", CTX) == []


def test_deep_nesting_does_not_raise() -> None:
    payload = b"<ProbeMatch>" + b"<a>" * 20000 + b"</a>" * 20000 + b"</ProbeMatch>"
    assert isinstance(sadp.parse(payload, CTX), list)


def test_oversized_datagram_is_ignored() -> None:
    payload = PROBE_MATCH.replace(
        b"</ProbeMatch>", b"<Pad>" + b"x" * 70000 + b"</Pad></ProbeMatch>"
    )
    assert sadp.parse(payload, CTX) == []


def test_long_values_are_capped() -> None:
    payload = (
        b"<ProbeMatch><DeviceDescription>" + b"M" * 5000 + b"</DeviceDescription></ProbeMatch>"
    )
    assert len(_one(payload).fields["model"]) == 256


def test_truncation_and_garbage_never_raise() -> None:
    assert_never_raises(sadp.parse, PROBE_MATCH, CTX)
    assert_never_raises(sadp.parse, PROBE, CTX)


def test_encoding_label_is_never_looked_up() -> None:
    for label in (b"UTF-p", b"rot13", b"hex", b"utf-16"):
        payload = PROBE_MATCH.replace(b'encoding="UTF-8"', b'encoding="' + label + b'"')
        assert _one(payload).fields["model"] == "DS-K1T671MF"
