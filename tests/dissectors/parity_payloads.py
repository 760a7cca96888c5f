"""Test helper: every payload the Python dissectors see, with the events they made.

The pure-Python reference engine (``tests/reference``) runs over a capture with the
registry's parser choices wrapped, so that each datagram parser call and each stream
parser's sequence of ``feed`` calls is recorded together with the events the Python
dissector returned. The Rust dissectors are then replayed on exactly the same inputs (see
test_rust_parity.py and benchmarks/dissect_speed.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from netscan.dissectors import _text, registry
from netscan.dissectors.registry import Datagrams
from netscan.events import Ctx, Event
from netscan.flow import Flow
from netscan.sources.pcapfile import CaptureError, CaptureFile
from tests.reference.native import Engine


@dataclass
class Datagram:
    parser: str  # registry name: "dns", "mdns", "nbns", ...
    payload: bytes
    ctx: Ctx
    events: list[Event]


@dataclass
class Stream:
    parser: str  # "tls", "quic", "dns" (over TCP), "http", ...
    ports: tuple[int, int]
    # (op, data, ctx, from_client, events the Python parser returned for this call); op is
    # "feed", "gap" or "close"
    calls: list[tuple[str, bytes, Ctx, bool, list[Event]]] = field(default_factory=list)


@dataclass
class Choice:
    transport: str  # "udp" | "tcp"
    a_port: int
    b_port: int
    first: bytes
    name: str | None  # the Python registry's choice


@dataclass
class Recording:
    datagrams: list[Datagram] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    # header blocks of the text protocols: (block, versions, SIP compact names in use)
    heads: list[tuple[bytes, tuple[str, ...], bool]] = field(default_factory=list)


class _Tee:
    """Stands in for a stream parser and records what it is fed and what it returns."""

    def __init__(self, inner: Any, record: Stream) -> None:
        self.inner = inner
        self.record = record

    @property
    def done(self) -> bool:
        return bool(self.inner.done)

    def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
        events = self.inner.feed(data, ctx, from_client)
        self.record.calls.append(("feed", bytes(data), ctx, from_client, list(events)))
        return events

    def close(self, ctx: Ctx) -> list[Event]:
        events = self.inner.close(ctx)
        self.record.calls.append(("close", b"", ctx, False, list(events)))
        return events

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name != "gap":
            return attr

        def gap(ctx: Ctx, from_client: bool) -> list[Event]:
            events = attr(ctx, from_client)
            self.record.calls.append(("gap", b"", ctx, from_client, list(events)))
            return events

        return gap


class _Sink:
    def on_flow(self, flow: Flow) -> None:
        pass

    def on_event(self, event: Event, flow: Flow | None) -> None:
        pass

    def on_frame_l2(self, file: int, frame: int, ts: float, src: bytes, wirelen: int) -> None:
        pass


def record(path: Path) -> Recording:
    rec = Recording()
    orig_udp = registry.udp_parser
    orig_tcp = registry.tcp_parser

    def udp_parser(a_port: int, b_port: int, first: bytes) -> Any:
        hit = orig_udp(a_port, b_port, first)
        rec.choices.append(Choice("udp", a_port, b_port, bytes(first), hit and hit[0]))
        if hit is None:
            return None
        name, parser = hit
        if type(parser) is Datagrams:
            fn = parser.fn

            def recorded(payload: bytes, ctx: Ctx) -> list[Event]:
                events = fn(payload, ctx)
                rec.datagrams.append(Datagram(name, bytes(payload), ctx, list(events)))
                return events

            parser.fn = recorded
            return name, parser
        stream = Stream(name, (a_port, b_port))
        rec.streams.append(stream)
        return name, _Tee(parser, stream)

    def tcp_parser(first: bytes, a_port: int, b_port: int) -> Any:
        hit = orig_tcp(first, a_port, b_port)
        rec.choices.append(Choice("tcp", a_port, b_port, bytes(first), hit and hit[0]))
        if hit is None:
            return None
        name, parser = hit
        stream = Stream(name, (a_port, b_port))
        rec.streams.append(stream)
        return name, _Tee(parser, stream)

    orig_head = _text.parse_head

    def parse_head(block: Any, versions: tuple[str, ...], name_map: Any = None) -> Any:
        if len(rec.heads) < 20_000:
            rec.heads.append((bytes(block), tuple(versions), name_map is not None))
        return orig_head(block, versions, name_map)

    try:
        capture = CaptureFile(path)
    except CaptureError:
        return rec
    with (
        mock.patch.object(registry, "udp_parser", udp_parser),
        mock.patch.object(registry, "tcp_parser", tcp_parser),
        mock.patch.object(_text, "parse_head", parse_head),
    ):
        engine = Engine(_Sink())
        engine.run(capture.records())
        engine.finish()
    capture.close()
    return rec


@functools.cache
def recording(path: str) -> Recording:
    return record(Path(path))
