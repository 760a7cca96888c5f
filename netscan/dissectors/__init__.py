"""Dissectors: one module per protocol, each turning payload bytes into events.

Two shapes, both robust against any input (malformed bytes give no event, never an
exception escaping to the caller is the goal; the pipeline still guards every call):

* Datagram parsers (UDP): ``parse(payload: bytes, ctx: Ctx) -> list[Event]``.
  Stateless; called for every datagram on the ports they are registered for.
* Stream parsers (TCP, and stateful UDP such as QUIC): a class instantiated once per
  flow, ``feed(data: bytes, ctx: Ctx, from_client: bool) -> list[Event]`` receives the
  in-order payload of one direction (TCP data arrives reassembled and in sequence order;
  chunks may split anywhere), ``done`` (attribute or property) becomes True when the
  parser needs no more bytes from either direction, and ``close(ctx) -> list[Event]``
  flushes what is pending when the flow or the capture ends.

``registry`` maps ports and first payload bytes to parsers.
"""
