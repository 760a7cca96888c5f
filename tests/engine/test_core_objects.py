"""The Python objects the Rust core hands over: events and their contexts are filled in
directly (without a Python ``__init__`` per event), and are the very objects the classes'
own ``__init__`` makes from the same values."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from netscan import _core, events
from netscan.analyze import load_signatures
from netscan.engine.core import BATCH, OP_EVENTS, _nets, _udp_table
from netscan.events import Ctx
from netscan.inventory.enrich import DEFAULT_PREMISES, LOCAL_SCOPE
from tests.conftest import PCAPS

REALWORLD = PCAPS.parent.parent / "shared" / "realworld"


def core_events(path: Path) -> list[Any]:
    """Every event the core hands over for ``path``."""
    matcher, _ = load_signatures(None)
    ports, _keys = _udp_table(matcher.marker_ports("udp"))
    core = _core.Core(ports, _nets(list(DEFAULT_PREMISES)), _nets(LOCAL_SCOPE))
    core.open(str(path))
    out: list[Any] = []
    ops: list[Any] = []
    while True:
        batch, n = core.run(BATCH)
        ops.extend(batch)
        if n < BATCH:
            break
    ops.extend(core.finish())
    for op in ops:
        if op[0] == OP_EVENTS:
            out.extend(op[2])
    return out


def rebuilt(obj: Any) -> Any:
    """``obj`` made again through its class's own ``__init__``."""
    if isinstance(obj, list):
        return [rebuilt(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(rebuilt(x) for x in obj)
    if not dataclasses.is_dataclass(obj):
        return obj
    vals = {f.name: rebuilt(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if type(obj) is Ctx:
        return Ctx(*vals.values())
    return type(obj)(**vals)


def test_core_objects_equal_the_classes_own() -> None:
    captures = [PCAPS / "demo_sales_office.pcapng"] + sorted(REALWORLD.glob("*.pcap*"))
    kinds: set[str] = set()
    for path in captures:
        for ev in core_events(path):
            kinds.add(ev.kind)
            again = rebuilt(ev)
            assert again == ev
            assert repr(again) == repr(ev)
            # every slot filled: asdict reads each field
            assert dataclasses.asdict(again) == dataclasses.asdict(ev)
    assert {"dns", "tls_client_hello", "http_request", "dhcp", "ssdp"} <= kinds, kinds


def test_events_are_built_without_their_init(monkeypatch: pytest.MonkeyPatch) -> None:
    # a DNS response: DnsEvent with a DnsRecord, in the Ctx the core makes
    msg = (
        b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
        b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22"
    )
    ctx = Ctx(0, 1, 2.0, "aa:bb:cc:dd:ee:ff", None, "10.0.0.53", "10.0.0.9", 53, 5353, "udp")
    want = _core.dissect_dns(msg, ctx, "dns")

    def no_init(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a Python __init__ ran for a core object")

    for cls in (events.DnsEvent, events.DnsRecord, events.Ctx):
        monkeypatch.setattr(cls, "__init__", no_init)
    got = _core.dissect_dns(msg, ctx, "dns")
    assert got == want
    assert got[0].kind == "dns" and got[0].answers[0].value == "93.184.216.34"
