"""The Python dissectors' own unit tests, re-run with the Rust dissectors beside them.

Every crafted case in test_dns.py, test_nbns.py, test_dhcp.py, ... (compression loops,
length lies, truncations, odd encodings) goes through both implementations: each dissector
call made by those tests is also made on the Rust port, and the results must be equal. The
Python result is what the original test sees, so its own assertions keep their meaning.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from unittest import mock

import pytest

from netscan import _core
from netscan.dissectors import dhcp, dhcpv6, dns, nbns, ntp, quic, sip, ssdp, tls
from netscan.events import Ctx, Event

Mismatch = list[str]


def _both(py_fn: Callable[..., Any], rust_fn: Callable[..., Any], out: Mismatch) -> Any:
    def call(payload: bytes, ctx: Ctx, *args: Any) -> list[Event]:
        expected = py_fn(payload, ctx, *args)
        got = rust_fn(bytes(payload), ctx, *args)
        if got != expected:
            out.append(
                f"{py_fn.__module__}.{py_fn.__name__}({bytes(payload)[:60]!r}): "
                f"{expected!r} / {got!r}"
            )
        return expected

    return call


def _tee_class(py_cls: type, rust_cls: Callable[..., Any], out: Mismatch) -> type:
    """A stream parser class that runs both and answers with the Python one."""

    class Tee:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._py = py_cls(*args, **kwargs)
            self._rust = rust_cls(*args, **kwargs)

        def feed(self, data: bytes, ctx: Ctx, from_client: bool) -> list[Event]:
            expected = self._py.feed(data, ctx, from_client)
            got = self._rust.feed(bytes(data), ctx, from_client)
            if got != expected:
                out.append(f"{py_cls.__name__}.feed: {expected!r} / {got!r}")
            if self._py.done != self._rust.done:
                out.append(f"{py_cls.__name__}.done: {self._py.done} / {self._rust.done}")
            return expected

        def close(self, ctx: Ctx) -> list[Event]:
            self._rust.close(ctx)
            return self._py.close(ctx)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._py, name)

    Tee.__name__ = py_cls.__name__
    return Tee


def _patches(module: Any, out: Mismatch) -> list[Any]:
    """mock.patch objects for the dissector entry points a test module uses."""
    fns: dict[Any, list[tuple[str, Callable[..., Any]]]] = {
        dns: [("parse", lambda p, c, proto="dns": _core.dissect_dns(p, c, proto)),
              ("parse_mdns", _core.dissect_mdns), ("parse_llmnr", _core.dissect_llmnr)],
        nbns: [("parse", _core.dissect_nbns)],
        dhcp: [("parse", _core.dissect_dhcp)],
        dhcpv6: [("parse", _core.dissect_dhcpv6)],
        ntp: [("parse", _core.dissect_ntp)],
        ssdp: [("parse", _core.dissect_ssdp)],
        sip: [("parse", _core.dissect_sip)],
    }  # fmt: skip
    patches = []
    for mod, entries in fns.items():
        for name, rust_fn in entries:
            original = getattr(mod, name)
            patches.append(mock.patch.object(mod, name, _both(original, rust_fn, out)))
    classes = {
        "TlsStream": (tls.TlsStream, _core.TlsStream),
        "QuicInitialParser": (quic.QuicInitialParser, _core.QuicInitialParser),
        "DnsTcpStream": (dns.DnsTcpStream, _core.DnsTcpStream),
    }
    for name, (py_cls, rust_cls) in classes.items():
        if getattr(module, name, None) is py_cls:
            patches.append(mock.patch.object(module, name, _tee_class(py_cls, rust_cls, out)))
    return patches


MODULES = ["dns", "nbns", "dhcp", "dhcpv6", "ntp", "ssdp", "sip", "tls", "quic"]


@pytest.mark.parametrize("name", MODULES)
def test_unit_cases_agree(name: str) -> None:
    module = importlib.import_module(f"tests.dissectors.test_{name}")
    tests = [
        fn
        for attr, fn in vars(module).items()
        if attr.startswith("test_")
        and inspect.isfunction(fn)
        and not inspect.signature(fn).parameters
        and not getattr(fn, "pytestmark", None)
    ]
    mismatches: Mismatch = []
    ran = 0
    for fn in tests:
        with ExitStack() as stack:
            for p in _patches(module, mismatches):
                stack.enter_context(p)
            try:
                fn()
                ran += 1
            except AssertionError:
                pass  # a test that inspects the parser's private state; Python still answered
            except pytest.skip.Exception:
                pass
    assert ran >= len(tests) // 2, f"only {ran} of {len(tests)} unit tests ran"
    assert not mismatches, f"{len(mismatches)} differences, first: " + "\n".join(mismatches[:5])
