"""Benchmark: the content analysis costs time in proportion to the body, whatever its shape.

    python benchmarks/content_scaling.py [--size 200000] [--show 15]

Request bodies are built from one repeated unit (picture signatures, JPEG markers, quotes,
brackets, boundaries, key=value pairs, XML tags, base64 runs, ...) after a prefix that steers
them to each body parser (JSON, multipart, ISAPI alert, ZKTeco lines, Dahua codes), and sent
down every route: ``parse_body`` on the generic, GA/T 1400, ZKTeco and ISAPI paths with each
content type, and the face-library parsers on the pack's paths. Each shape is timed at
``--size`` bytes and at four times that; the table lists the largest growth. A cost in
proportion to the size grows about 4x; one in its square grows 16x. The exit status is 1
when any shape grows more than 8x (or raises), so a regression shows.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netscan.analysis import facelib  # noqa: E402
from netscan.analysis.content import parse_body  # noqa: E402
from netscan.events import Ctx, HttpBodyEvent  # noqa: E402
from netscan.signatures.pack import load_active_pack  # noqa: E402

UNITS: dict[str, bytes] = {
    "letters": b"a",
    "newlines": b"\n",
    "tabs": b"\t",
    "blanks": b" ",
    "key=value": b"a=b\t",
    "quotes": b'"',
    "tags": b"<",
    "braces": b"{",
    "brackets": b"[",
    "colons": b":",
    "boundaries": b"--x\r\n",
    "line ends": b"\r\n",
    "head ends": b"\r\n\r\n",
    "0xff": b"\xff",
    "JPEG starts": b"\xff\xd8\xff",
    "JPEG restarts": b"\xff\xd0",
    "JPEG scans": b"\xff\xd8\xff\xda\x00\x02",
    "PNG signatures": b"\x89PNG\r\n\x1a\n",
    "base64": b"QUFB",
    "Dahua codes": b"Code=",
    "Dahua events": b"Events[0].Code=",
    "ZKTeco templates": b"BIODATA Pin=1\tTmp=",
    "ZKTeco faces": b"FACE PIN=1\tTMP=",
    "percents": b"%",
    "form fields": b"&a=",
    "JSON keys": b'"k":"',
    "data URIs": b'"data:image/jpeg;base64,',
    "ISAPI alerts": b"<EventNotificationAlert><eventType>",
    "part types": b"Content-Type: image/jpeg\r\n",
    "part names": b'Content-Disposition: form-data; name="a"; filename="',
    "semicolons": b";",
}
PREFIXES: dict[str, bytes] = {
    "": b"",
    "multipart ": b"--x\r\n\r\n",
    "JSON ": b'{"a":"',
    # a base64 picture first: a JSON text the decoder refuses is then scanned token by token
    "JSON with a picture ": b'[{"p":"' + base64.b64encode(b"\xff\xd8\xff" + bytes(300)) + b'"},',
    "ISAPI ": b"EventNotificationAlert ",
    "ZKTeco ": b"C:1:DATA UPDATE USERINFO PIN=1\t",
}
PATHS = {
    "generic": "/api/upload",
    "GA/T 1400": "/VIID/Faces",
    "ZKTeco": "/iclock/cdata?table=BIODATA&SN=1",
    "ZKTeco photo": "/iclock/cdata?table=ATTPHOTO&SN=1",
    "ISAPI": "/ISAPI/Event/notification/alertStream",
}
CTYPES = [
    "application/json",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "image/jpeg",
    "",
]
LIBRARY_PATHS = ["/iclock/getrequest", "/ISAPI/Intelligent/FDLib/FaceDataRecord", "/cgi-bin/x"]
CTX = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="203.0.113.4", transport="tcp")


def _timed(fn: Callable[[bytes], object], body: bytes) -> float:
    t = time.perf_counter()
    fn(body)
    return time.perf_counter() - t


def routes() -> list[tuple[str, Callable[[bytes], object]]]:
    out: list[tuple[str, Callable[[bytes], object]]] = []
    for pname, path in PATHS.items():
        for ctype in CTYPES:

            def body_parse(b: bytes, path: str = path, ctype: str = ctype) -> object:
                return parse_body(HttpBodyEvent(ctx=CTX, method="POST", path=path,
                                                content_type=ctype, body=b))  # fmt: skip

            out.append((f"{pname} ({ctype or 'no type'})", body_parse))
    specs = facelib.specs_from_pack(load_active_pack())
    for path in LIBRARY_PATHS:
        for ctype in ("application/json", "multipart/form-data; boundary=x", "text/plain"):

            def push(b: bytes, path: str = path, ctype: str = ctype) -> object:
                return [facelib.parse_push(m, path, ctype, b, specs) for m in ("POST", "RESPONSE")]

            out.append((f"face library {path} ({ctype})", push))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=200_000, help="bytes of the smaller body")
    ap.add_argument("--show", type=int, default=15, help="rows of the table")
    args = ap.parse_args()
    rows: list[tuple[float, float, float, str]] = []
    failures: list[str] = []
    started = time.perf_counter()
    for route, fn in routes():
        for uname, unit in UNITS.items():
            for pname, prefix in PREFIXES.items():
                n = args.size // len(unit) + 1
                shape = f"{route}: {pname}{uname}"
                try:
                    small = _timed(fn, prefix + unit * n)
                    if small < 0.005:  # too quick to time: a whole pass of nothing
                        continue
                    big = _timed(fn, prefix + unit * (4 * n))
                except Exception as exc:  # the analysis must never raise on a body
                    failures.append(f"{shape}: {type(exc).__name__}: {exc}")
                    continue
                rows.append((big / small, small, big, shape))
    rows.sort(reverse=True)
    print(f"{len(rows)} shapes timed in {time.perf_counter() - started:.0f} s; body of "
          f"{args.size:,} bytes, then four times that")  # fmt: skip
    print(f"{'growth':>7} {'small s':>8} {'4x s':>8}  shape")
    for growth, small, big, shape in rows[: args.show]:
        print(f"{growth:7.1f} {small:8.3f} {big:8.3f}  {shape}")
    over = [r for r in rows if r[0] > 8]
    for f in failures:
        print(f"RAISED {f}")
    for growth, _s, _b, shape in over:
        print(f"SUPERLINEAR {growth:.1f}x {shape}")
    return 1 if over or failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
