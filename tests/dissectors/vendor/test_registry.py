"""The vendor UDP port table."""

from __future__ import annotations

from netscan.dissectors.vendor import dhip, sadp, xiongmai
from netscan.dissectors.vendor.registry import VENDOR_UDP_PARSERS


def test_every_port_is_registered() -> None:
    for module in (sadp, dhip, xiongmai):
        for port in module.PORTS:
            assert VENDOR_UDP_PARSERS[port] is module.parse


def test_known_ports() -> None:
    assert set(VENDOR_UDP_PARSERS) == {37020, 37810, 5050, 34569, 34571}
