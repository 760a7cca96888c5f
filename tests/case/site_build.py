"""Two visits of one generated premises (deterministic pcaps, written with scapy).

Visit 1: two Hikvision cameras stream to the NVR on the premises; the NVR uploads media to
its vendor cloud in China (pbdev.ys7.com, an Alibaba Hangzhou address); a ZKTeco face
terminal pushes attendance photos to its ADMS server in China.

Visit 2 (the premises say they removed the system): the face terminal is gone; the NVR's
uploads now go to an address in Singapore under another name; the cameras still stream
to the NVR.
"""

from __future__ import annotations

from pathlib import Path

from tests.analysis.scenarios.build import (
    HIK_CAM1,
    HIK_CAM2,
    HIK_NVR,
    VENDOR_CLOUD,
    ZK_TERMINAL,
    Capture,
    dns_lookup,
    iclock_attphoto,
    rtp_stream,
    tls_like_upload,
)

SINGAPORE_CLOUD = "47.74.128.10"  # an Alibaba Cloud Singapore address (geoip2fast: SG)


def _common(cap: Capture, cloud_name: str, cloud_ip: str) -> None:
    rtp_stream(cap, 0.5, HIK_CAM1, HIK_NVR, 10)
    rtp_stream(cap, 0.6, HIK_CAM2, HIK_NVR, 10)
    dns_lookup(cap, 0.7, HIK_NVR, cloud_name, cloud_ip, 31)
    bursts = [(1.0 + 2.0 * k, 40_000) for k in range(40)]
    tls_like_upload(cap, 0.8, HIK_NVR, cloud_ip, bursts, down_each=80)


def visit1(d: Path) -> list[Path]:
    cap = Capture(101)
    _common(cap, "pbdev.ys7.com", VENDOR_CLOUD)
    return [cap.write(d / "site_visit1.pcap"), iclock_attphoto(d)]


def visit2(d: Path) -> list[Path]:
    cap = Capture(102)
    _common(cap, "sgp-dev.ezvizlife.com", SINGAPORE_CLOUD)
    for p in cap.packets:  # a month later
        p.time = round(float(p.time) + 30 * 86400, 6)
    return [cap.write(d / "site_visit2.pcap")]


__all__ = ["SINGAPORE_CLOUD", "ZK_TERMINAL", "HIK_NVR", "visit1", "visit2"]
