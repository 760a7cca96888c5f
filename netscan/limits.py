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
body-reassembly 256M            body bytes the packet core reassembles at once (all HTTP uploads
                                in progress together); past it, the upload that grew is cut
                                short and analysed as far as it went
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
    body_reassembly: int = 256 << 20
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


# -- fixed bounds ------------------------------------------------------------------------------
# Not settable: each bounds one list in the results, and its name says which. (The Rust core
# mirrors FLOW_MAX_BURSTS as ``flow::MAX_BURSTS`` in src/flow.rs.)

FLOW_MAX_BURSTS = 2000  # upload bursts one flow keeps (its later bursts are only summed)
FINDING_MAX_BURSTS = 100  # upload bursts one finding lists in the report
INVENTORY_MAX_EVIDENCE = 200  # evidence facts kept per device or endpoint
FINDING_MAX_EVIDENCE = 40  # evidence lines one finding lists

# -- analysis thresholds -----------------------------------------------------------------------
# What a traffic shape must reach to count; one name per threshold, even where two thresholds
# share a value today.

IMAGE_BURST_MIN = 20_000  # bytes: an upload burst this size or more may be a picture ...
IMAGE_BURST_MAX = 2_000_000  # ... and this size or less
MEDIA_UP_DOWN_RATIO = 3.0  # a media stream sends at least this many times what it receives
OFFSITE_MEDIA_MIN_BYTES = 1_000_000  # findings: sustained upstream media to an off-site host
OFFSITE_IMAGE_UPLOADS_MIN = 3  # findings: repeated picture-sized uploads to an off-site host
LOCAL_FEED_MIN_BYTES = 200_000  # findings: a premises stream worth calling a feed of a path
VENDOR_CLOUD_UPLOAD_MIN_BYTES = 1_000_000  # roles: sustained upload to a camera vendor's cloud
LOCAL_STREAM_MIN_BYTES = 200_000  # roles: a media stream between premises devices
WLAN_VIDEO_MIN_BYTES = 1_000_000  # encrypted 802.11: upstream bytes of a video-shaped stream
WLAN_VIDEO_MIN_RATE = 30_000  # ... bytes/s averaged over the conversation
WLAN_VIDEO_MIN_SECONDS = 30.0  # ... lasting at least this long (findings)
WLAN_VIDEO_MIN_PACKET = 400  # ... mean upstream packet size (findings)
LIBRARY_BULK_DOWN_MIN_BYTES = 1_000_000  # face library: encrypted download of at least this ...
LIBRARY_BULK_DOWN_RATIO = 4.0  # ... and this many times what went up
