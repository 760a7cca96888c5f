"""The committed demo capture and the large-capture generator: determinism and dissection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PCAPS, ROOT, requires_tshark

DEMO = PCAPS / "demo_sales_office.pcapng"
MAKE_DEMO = PCAPS / "make_demo.py"
GEN_LARGE = ROOT / "benchmarks" / "gen_large.py"

# ZKTeco ADMS runs on 8081, which tshark does not map to HTTP by itself
DECODE_AS = ["-d", "tcp.port==8081,http"]
BAD = "_ws.malformed || _ws.expert.severity >= error || tcp.analysis.flags"


def run_script(script: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)


def tshark(path: Path, *args: str) -> list[str]:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


def field_values(path: Path, display_filter: str, field: str) -> set[str]:
    lines = tshark(path, *DECODE_AS, "-Y", display_filter, "-T", "fields", "-e", field)
    return {value for line in lines for value in line.split(",") if value}


@pytest.mark.slow
def test_demo_regenerates_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "demo.pcapng"
    run_script(MAKE_DEMO, "-o", str(out))
    assert out.read_bytes() == DEMO.read_bytes()


def test_demo_size_budget() -> None:
    assert DEMO.stat().st_size < 3_200_000


@requires_tshark
@pytest.mark.tshark
def test_demo_dissects_cleanly() -> None:
    assert tshark(DEMO, "-Y", BAD) == []
    assert tshark(DEMO, *DECODE_AS, "-Y", BAD) == []


@requires_tshark
@pytest.mark.tshark
def test_demo_names_and_hosts() -> None:
    dns = field_values(DEMO, "dns.flags.response == 0 && udp.dstport == 53", "dns.qry.name")
    assert {
        "pbdev.ys7.com",
        "api-cn.faceplusplus.com",
        "www.microsoft.com",
        "connectivitycheck.gstatic.com",
    } <= dns

    sni = field_values(DEMO, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
    assert {"pbdev.ys7.com", "api-cn.faceplusplus.com", "www.microsoft.com"} <= sni

    hosts = field_values(DEMO, "http.request", "http.host")
    assert {
        "121.40.167.52:8081",
        "61.155.108.34:8088",
        "192.168.1.64",
        "connectivitycheck.gstatic.com",
    } <= hosts

    uris = field_values(DEMO, "http.request", "http.request.uri")
    assert "/VIID/Faces" in uris
    assert any("table=ATTPHOTO" in u for u in uris)
    assert any(u.startswith("/iclock/getrequest") for u in uris)

    rtsp = field_values(DEMO, "rtsp.request", "rtsp.url")
    assert "rtsp://192.168.1.64:554/Streaming/Channels/101" in rtsp
    assert any("/cam/realmonitor" in u for u in rtsp)
    assert len(tshark(DEMO, "-Y", "rtp")) > 500


@pytest.mark.slow
def test_gen_large_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    run_script(GEN_LARGE, "--packets", "20000", "-o", str(a))
    run_script(GEN_LARGE, "--packets", "20000", "-o", str(b))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")  # classic pcap, little endian


@requires_tshark
@pytest.mark.tshark
def test_gen_large_reads_in_tshark(tmp_path: Path) -> None:
    out = tmp_path / "large.pcap"
    run_script(GEN_LARGE, "--packets", "20000", "-o", str(out))
    assert len(tshark(out, "-T", "fields", "-e", "frame.number")) == 20000
    assert tshark(out, "-Y", "_ws.malformed || _ws.expert.severity >= error") == []
    sni = field_values(out, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
    assert len(sni) > 20
    assert len(tshark(out, "-Y", "rtp")) > 5000
