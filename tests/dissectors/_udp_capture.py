"""Test helper: UDP payloads of a capture, keyed by Wireshark frame number."""

from __future__ import annotations

from pathlib import Path

from scapy.all import UDP, PcapReader


def udp_payloads(path: Path, ports: set[int]) -> dict[int, bytes]:
    """Payloads of the UDP datagrams with a source or destination port in `ports`."""
    out: dict[int, bytes] = {}
    with PcapReader(str(path)) as reader:
        for frame, pkt in enumerate(reader, 1):
            if UDP in pkt:
                udp = pkt[UDP]
                if udp.sport in ports or udp.dport in ports:
                    out[frame] = bytes(udp.payload)
    return out
