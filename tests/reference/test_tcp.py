"""TCP reassembly of the first bytes of a stream."""

from __future__ import annotations

from tests.reference.decode.tcp import TcpReassembly


def _feed(segments: list[tuple[int, int, bytes]]) -> bytes:
    r = TcpReassembly()
    out = b"".join(b"".join(r.segment(0, seq, flags, data)) for seq, flags, data in segments)
    return out + b"".join(r.flush(0))


def test_in_order_after_syn() -> None:
    assert (
        _feed([(99, 0x02, b""), (100, 0x10, b"GET "), (104, 0x10, b"/ HTTP/1.1\r\n")])
        == b"GET / HTTP/1.1\r\n"
    )


def test_out_of_order_and_retransmission() -> None:
    segs = [
        (99, 0x02, b""),
        (104, 0x10, b"/x"),
        (100, 0x10, b"GET "),
        (100, 0x10, b"GET "),
        (106, 0x10, b" ok"),
    ]
    assert _feed(segs) == b"GET /x ok"


def test_overlap_trimmed() -> None:
    segs = [(1, 0x10, b"abcdef"), (4, 0x10, b"defghi")]
    assert _feed(segs) == b"abcdefghi"


def test_sequence_wraparound() -> None:
    segs = [(0xFFFFFFFE, 0x10, b"ab"), (0, 0x10, b"cd")]
    assert _feed(segs) == b"abcd"


def test_gap_is_skipped_at_flush() -> None:
    segs = [(1, 0x10, b"abc"), (10, 0x10, b"xyz")]
    assert _feed(segs) == b"abcxyz"


def test_directions_are_independent() -> None:
    r = TcpReassembly()
    assert r.segment(0, 10, 0x10, b"req") == [b"req"]
    assert r.segment(1, 500, 0x10, b"resp") == [b"resp"]
    assert r.segment(0, 13, 0x10, b"2") == [b"2"]
