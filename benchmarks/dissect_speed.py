"""Per-payload parse time: the Rust dissectors (netscan._core) against the Python ones.

    python benchmarks/dissect_speed.py [--repeat 20] [--files F ...]

The payloads are the ones the Python dissectors see when the pure-Python reference engine
(tests/reference) reads the public captures in ../shared/realworld and
pcaps/demo_sales_office.pcapng (recorded by tests/dissectors/parity_payloads.py, the same
inputs as the parity test). For each protocol it prints the mean time per payload (or per
flow for stream parsers) of

* ``python``: the Python dissector, events included;
* ``rust+py``: the Rust dissector called from Python, events built as the same Python
  dataclasses (what a Python caller pays);
* ``rust``: the Rust parser alone, no Python objects (what the Rust engine pays),

and the speed-ups. Certificates are timed without the Python side's LRU cache.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from netscan import _core  # noqa: E402
from netscan.dissectors import (  # noqa: E402
    dhcp,
    dhcpv6,
    dns,
    http,
    nbns,
    ntp,
    quic,
    rtsp,
    sip,
    ssdp,
    tls,
)
from netscan.dissectors.registry import HTTP_MAX_MESSAGES  # noqa: E402
from netscan.events import Ctx  # noqa: E402
from tests.dissectors.parity_payloads import (  # noqa: E402
    Recording,
    pack_response_prefixes,
    record,
)

PY: dict[str, Callable[[bytes, Ctx], Any]] = {
    "dns": dns.parse,
    "mdns": dns.parse_mdns,
    "llmnr": dns.parse_llmnr,
    "nbns": nbns.parse,
    "dhcp": dhcp.parse,
    "dhcpv6": dhcpv6.parse,
    "ntp": ntp.parse,
    "ssdp": ssdp.parse,
    "sip": sip.parse,
}
RUST: dict[str, Callable[[bytes, Ctx], Any]] = {
    "dns": lambda p, c: _core.dissect_dns(p, c, "dns"),
    "mdns": _core.dissect_mdns,
    "llmnr": _core.dissect_llmnr,
    "nbns": _core.dissect_nbns,
    "dhcp": _core.dissect_dhcp,
    "dhcpv6": _core.dissect_dhcpv6,
    "ntp": _core.dissect_ntp,
    "ssdp": _core.dissect_ssdp,
    "sip": _core.dissect_sip,
}
STREAMS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "tls": (tls.TlsStream, _core.TlsStream),
    "quic": (quic.QuicInitialParser, _core.QuicInitialParser),
    "dns": (dns.DnsTcpStream, _core.DnsTcpStream),
    "http": (
        # as the engine makes them: the pack's polls answered with records are kept
        lambda: http.HttpStream(
            max_messages=HTTP_MAX_MESSAGES, response_prefixes=pack_response_prefixes()
        ),
        lambda: _core.HttpStream(
            max_messages=HTTP_MAX_MESSAGES, response_prefixes=pack_response_prefixes()
        ),
    ),
    "rtsp": (rtsp.RtspStream, _core.RtspStream),
    "sip": (sip.SipStream, _core.SipStream),
}
# the core's own timing of a stream parser over each flow's client bytes
BENCH_STREAM = {"tls": "tls", "http": "http", "rtsp": "rtsp", "sip": "tcp-sip"}


def _time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / repeat


def _row(name: str, n: int, py: float, rpy: float, rust: float | None) -> str:
    us = 1e6 / n
    core = f"{rust * us:9.2f}" if rust is not None else "        -"
    core_x = f"{py / rust:8.0f}x" if rust else "        -"
    return f"{name:<14}{n:>7}  {py * us:9.2f}  {rpy * us:9.2f}  {core}   {py / rpy:7.1f}x {core_x}"


def _certificates(recs: list[Recording]) -> list[bytes]:
    from tests.dissectors.test_rust_parity import _certificates as certs

    out: set[bytes] = set()
    for r in recs:
        out.update(certs(r))
    return sorted(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--files", nargs="*", type=Path)
    args = ap.parse_args(argv)
    files = args.files or sorted(
        p
        for p in (ROOT.parent / "shared" / "realworld").iterdir()
        if p.suffix in (".pcap", ".pcapng")
    ) + [ROOT / "pcaps" / "demo_sales_office.pcapng"]
    recs = [record(p) for p in files if p.exists()]
    r = args.repeat
    print(f"{len(recs)} captures; mean per payload (datagrams) or per flow (streams), best of 3")
    print(
        f"{'parser':<14}{'n':>7}  {'python µs':>9}  {'rust+py µs':>9}  {'rust µs':>9}   "
        f"{'vs py':>8} {'core vs py':>9}"
    )
    total_py = total_rust = 0.0
    for name in PY:
        items = [(d.payload, d.ctx) for rec in recs for d in rec.datagrams if d.parser == name]
        if not items:
            continue
        py_fn, rust_fn = PY[name], RUST[name]
        py = _time(lambda py_fn=py_fn, items=items: [py_fn(p, c) for p, c in items], r)
        rpy = _time(lambda rust_fn=rust_fn, items=items: [rust_fn(p, c) for p, c in items], r)
        payloads = [p for p, _ in items]
        core, _ = _core.dissect_bench(name, payloads, r)
        total_py += py
        total_rust += core / r
        print(_row(name, len(items), py, rpy, core / r))
    for name, (py_cls, rust_cls) in STREAMS.items():
        flows = [
            s.calls
            for rec in recs
            for s in rec.streams
            if s.parser == name and s.calls and (name != "dns" or s.ports[1] == 53)
        ]
        if not flows:
            continue

        def replay(cls: Callable[[], Any], flows: list[Any] = flows) -> None:
            for calls in flows:
                parser = cls()
                for op, data, ctx, from_client, _ in calls:
                    if op == "feed":
                        parser.feed(data, ctx, from_client)

        py = _time(lambda py_cls=py_cls: replay(py_cls), r)
        rpy = _time(lambda rust_cls=rust_cls: replay(rust_cls), r)
        core = None
        if name in BENCH_STREAM:
            sent = [b"".join(c[1] for c in calls if c[0] == "feed" and c[3]) for calls in flows]
            core = _core.dissect_bench(BENCH_STREAM[name], sent, r)[0] / r
        print(_row(f"{name} stream", len(flows), py, rpy, core))
    blocks = sorted({b for rec in recs for b, v, _ in rec.heads if v == ("HTTP/",)})
    if blocks:
        from netscan.dissectors._text import NONE, BodyMode, parse_head

        ctx = Ctx(0, 1, 0.0)
        stream = http.HttpStream()
        mode = BodyMode(NONE)

        def py_heads() -> None:
            for b in blocks:
                head = parse_head(b, ("HTTP/",))
                if head is not None:
                    stream._head_event(head, mode, ctx)

        py = _time(py_heads, r)
        rpy = _time(lambda: [_core.dissect_http_head(b, ctx) for b in blocks], r)
        print(_row("http head", len(blocks), py, rpy, None))
    ders = _certificates(recs)
    if ders:
        py = _time(lambda: [tls.describe_der.__wrapped__(d) for d in ders], r)
        rpy = _time(lambda: [_core.describe_der(d) for d in ders], r)
        core = _core.dissect_bench("certificate", ders, r)[0] / r
        print(_row("certificate", len(ders), py, rpy, core))
    if total_rust:
        print(f"datagram parsers together: {total_py / total_rust:.0f}x faster in the Rust core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
