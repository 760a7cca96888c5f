"""The JSON report's short cuts give what the plain helpers give: the timestamps of many rows
(``iso_utc``), the order of endpoint addresses (``ipaddress``), one flow row and many."""

from __future__ import annotations

import ipaddress
import json
import random

import pytest

from netscan.inventory.model import Conversation
from netscan.report import json_report
from netscan.util import iso_utc


def test_timestamps_as_iso_utc_writes_them() -> None:
    rng = random.Random(11)
    values: list[object] = [0.0, 0.5, 1e-7, 5e-7, 1.5e-6, 2.5e-6, 1.0000005, 1.0000015,
                            1700000000.9999995, 1700000000.9999994, 1700000000.0000005,
                            253402300799.999999, 253402300799.9999996, 253402300800.0, -1.0,
                            -0.5, float("nan"), float("inf"), 0, 1700000000, None]  # fmt: skip
    for _ in range(50_000):
        values.append(rng.uniform(0, 2e9))
        values.append(round(rng.uniform(1e9, 2e9), 6))
        values.append(rng.randrange(10**9, 2 * 10**9) + (rng.randrange(10**6) + 0.5) / 1e6)
    iso = json_report._Iso()
    for v in values:
        assert iso(v) == iso_utc(v), v  # type: ignore[arg-type]


def _reference(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    return (addr.version, int(addr))


@pytest.mark.parametrize("ip", ["1.2.3.4", "0.0.0.0", "255.255.255.255", "::", "::1",
                                "2001:DB8::1", "fe80::1%eth0", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8",
                                "2001:db8:0:0:0:0:0:1", "010.1.1.1", "1.2.3", "256.1.1.1",
                                " 1.2.3.4", "1::2::3", "", "１.2.3.4"])  # fmt: skip
def test_address_order_is_ipaddress_order(ip: str) -> None:
    try:
        expected: object = _reference(ip)
    except ValueError:
        with pytest.raises(ValueError):
            json_report._ip_key(ip)
        return
    assert json_report._ip_key(ip) == expected


def test_random_addresses_order_as_ipaddress() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        ip = ".".join(str(rng.randrange(256)) for _ in range(4))
        assert json_report._ip_key(ip) == _reference(ip)
        ip6 = str(ipaddress.IPv6Address(rng.getrandbits(128)))
        assert json_report._ip_key(ip6) == _reference(ip6)


def test_flow_rows() -> None:
    c = Conversation("aa:bb:cc:dd:ee:ff", "8.8.8.8", "udp", 53, bytes_up=10, first_ts=1.25,
                     last_ts=2.0000005, first_frame=(0, 7), protocols={"dns", "a"})  # fmt: skip
    row = json_report._flows([c], {"aa:bb:cc:dd:ee:ff": "aa:bb:cc:dd:ee:ff"}, ["f.pcap"],
                             json_report._Iso())[0]  # fmt: skip
    assert row == {
        "mac": "aa:bb:cc:dd:ee:ff", "device": "aa:bb:cc:dd:ee:ff", "ip": "8.8.8.8",
        "peer_mac": None, "peer_device": None, "transport": "udp", "port": 53,
        "device_is_client": True, "bytes_up": 10, "bytes_down": 0, "packets_up": 0,
        "packets_down": 0, "first_ts": iso_utc(1.25), "last_ts": iso_utc(2.0000005),
        "first_frame": 7, "file": "f.pcap", "protocols": ["a", "dns"], "flows": 0,
        "missed_bytes_up": 0, "missed_bytes_down": 0,
    }  # fmt: skip
    assert list(row) == list(json_report.flow_json(c, {}, ["f.pcap"]))
    # what the capture missed, when the engine measured it (not Zeek's logs)
    c.missed_up, c.missed_down = 1400, 3
    row = json_report._flows([c], {}, ["f.pcap"], json_report._Iso())[0]
    assert (row["missed_bytes_up"], row["missed_bytes_down"]) == (1400, 3)
    row = json_report._flows([c], {}, ["f.pcap"], json_report._Iso(), missed=False)[0]
    assert "missed_bytes_up" not in row and "missed_bytes_down" not in row
    assert json_report.flow_json(c, {}, ["f.pcap"])["mac"] is None
    c.first_frame = (3, 1)
    assert json_report.flow_json(c, {}, ["f.pcap"])["file"] == ""


def _one_by_one(report: dict[str, object]) -> bytes:
    """The report written with one serialiser call per list item (the batches' reference)."""
    out = [b"{\n"]
    items = list(report.items())
    for i, (key, value) in enumerate(items):
        out.append(b"  " + json.dumps(str(key)).encode() + b": ")
        if isinstance(value, list) and value:
            out.append(b"[\n")
            for j, item in enumerate(value):
                end = b",\n" if j < len(value) - 1 else b"\n"
                out.append(b"    " + json_report._dumps(item, 2) + end)
            out.append(b"  ]")
        else:
            out.append(json_report._dumps(value, 1))
        out.append(b",\n" if i < len(items) - 1 else b"\n")
    out.append(b"}\n")
    return b"".join(out)


def test_batched_lists_are_written_as_item_by_item() -> None:
    rng = random.Random(7)
    tricky = ['a,\n  b', ",\\n  {", "caf\u00e9 \u202e\x1b[31m", "\U0001f600\x7f", " lead", "",
              "\udcff lone surrogate"]  # fmt: skip

    def item(i: int) -> object:
        kind = i % 7
        if kind == 0:
            return {"i": i, "s": rng.choice(tricky), "nested": {"l": [1, [2, {}], []]}}
        if kind == 1:
            return rng.choice(tricky)
        if kind == 2:
            return [i, 1.5, None, True, {"set": {"b", "a"}, "raw": b"\x00\xff"}]
        if kind == 3:
            return {}
        if kind == 4:
            return i * 1e16
        return {"k": i, "v": [rng.random() for _ in range(3)], "t": rng.choice(tricky)}

    report = {
        "schema_version": "1.0",
        "empty": [],
        "flows": [item(i) for i in range(2000)],
        "few": [item(i) for i in range(5)],
        "bad": [item(i) for i in range(600)] + ["\udcff"] + [item(i) for i in range(10)],
        "tail": {"a": [1, 2]},
    }
    chunks: list[bytes] = []
    json_report.stream(report, chunks.append)
    assert b"".join(chunks) == _one_by_one(report)
