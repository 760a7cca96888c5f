"""The vendor UDP port table."""

from __future__ import annotations

from netscan.dissectors.discovery import dhip, sadp, xiongmai
from netscan.dissectors.discovery.registry import DISCOVERY_UDP_PARSERS


def test_every_port_is_registered() -> None:
    for module in (sadp, dhip, xiongmai):
        for port in module.PORTS:
            assert DISCOVERY_UDP_PARSERS[port] is module.parse


def test_known_ports() -> None:
    assert set(DISCOVERY_UDP_PARSERS) == {37020, 37810, 5050, 34569, 34571}
