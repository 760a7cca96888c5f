"""Work limits: every input costs bounded memory and CPU, whatever it claims or holds.

One table of caps, one place. The packet engines, the inventory, the content analysis and
the report read them from a ``Limits`` value; a future engine (the Rust core) mirrors
the same names and meanings. Each cap, when reached, is reported as a warning that says
what was dropped or folded and how much, and how to raise the cap.

Set them with ``--limit NAME=VALUE`` (repeatable) or ``NETSCAN_LIMITS="NAME=VALUE,..."``;
the command line wins. Sizes take K, M, G suffixes (binary: 1K = 1024).

============== =============== ===============================================================
name            default         what
============== =============== ===============================================================
gunzip          4G              decompressed bytes read from one gzip capture
gunzip-ratio    100             ... and at most this many times its compressed size (judged
                                past the first 256M: real captures compress a few times)
flows           200000          live flows in the engine's table; the idlest are retired
                                (their totals are kept in the conversations)
conversations   50000           conversation rows held; the smallest are folded into one
                                row per device and transport (totals kept); at the end of
                                the input the live flows are folded in too when needed
report-flows    20000           conversation rows listed in the JSON report (largest first;
                                the rest are counted in ``summary.flows_omitted``)
endpoints       20000           off-site endpoints held (beyond: only named/matched ones)
devices         50000           premises devices held
bodies          2000            HTTP request bodies kept for the face analysis
body-bytes      256M            bytes of those bodies
image-pixels    40000000        pixels of one picture (read from its header before decoding)
images          5000            pictures decoded per run
image-budget    2000000000      pixels decoded per run
============== =============== ===============================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

ENV = "NETSCAN_LIMITS"

_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_VALUE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.I)


class LimitError(ValueError):
    """A ``--limit`` or ``NETSCAN_LIMITS`` setting that cannot be used."""


@dataclass(frozen=True, slots=True)
class Limits:
    gunzip: int = 4 << 30
    gunzip_ratio: int = 100
    flows: int = 200_000
    conversations: int = 50_000
    report_flows: int = 20_000
    endpoints: int = 20_000
    devices: int = 50_000
    bodies: int = 2000
    body_bytes: int = 256 << 20
    image_pixels: int = 40_000_000
    images: int = 5000
    image_budget: int = 2_000_000_000

    @classmethod
    def names(cls) -> list[str]:
        return [f.name.replace("_", "-") for f in fields(cls)]

    def with_settings(self, settings: Iterable[str]) -> Limits:
        """These limits with ``NAME=VALUE`` settings applied (raises ``LimitError``)."""
        changes: dict[str, int] = {}
        known = {f.name for f in fields(self)}
        for item in settings:
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            key = name.strip().lower().replace("-", "_")
            if not sep or key not in known:
                raise LimitError(
                    f"unknown limit {name.strip()!r} (known: {', '.join(self.names())})"
                )
            m = _VALUE.match(value)
            if m is None:
                raise LimitError(f"limit {name.strip()}: not a size or count: {value.strip()!r}")
            n = int(m.group(1)) * _SUFFIX[m.group(2).upper()]
            if n < 1:
                raise LimitError(f"limit {name.strip()} must be at least 1")
            changes[key] = n
        return replace(self, **changes)


def from_env(settings: Iterable[str] = ()) -> Limits:
    """The defaults, then ``NETSCAN_LIMITS``, then ``settings`` (the command line)."""
    env = os.environ.get(ENV, "")
    return Limits().with_settings(env.split(",")).with_settings(settings)


def resolve(limits: Limits | None) -> Limits:
    return limits if limits is not None else from_env()


def human(n: int) -> str:
    """A byte count the way the limits are written: 4G, 256M, 1500."""
    for suffix in ("T", "G", "M", "K"):
        unit = _SUFFIX[suffix]
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)
