"""Local face detection for carved pictures, and the optional evidence store.

A picture counts as holding a face when OpenCV's bundled frontal-face Haar cascades agree:
the ``alt2`` cascade finds a face that the ``default`` cascade also finds (boxes overlapping),
or the profile cascade finds one. Requiring two detectors to agree keeps textures such as
coins from being taken for faces. Everything runs locally on the bundled cascade files; no
picture is sent anywhere.

Every picture's dimensions are read from its header (PNG IHDR, JPEG SOF) before anything is
decoded: a picture above the per-picture pixel limit, or beyond the run's decoding budget
(pictures and pixels), is not decoded, and ``FaceChecker.limit_warnings()`` counts what was left.
What the detector found is remembered by the picture's SHA-256 for the process (a bounded
set, in memory only): a later analysis that meets the same bytes (the next snapshot of a
step-by-step or live run) does not decode them again, though it counts them in its budget.

Pictures are written to disk only when the analyst asked for it (``--keep-evidence DIR``):
the directory is created with mode 0700 (an existing one is used only when nobody else can
write into it, and never re-moded) and every file is created new, never through a link,
with mode 0600 (``netscan.safefile``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from netscan import limits as _limits
from netscan.analysis.content import is_cut, nested_pictures
from netscan.limits import Limits
from netscan.safefile import PrivateDir, safe_name

DETECTOR = "opencv-haar frontalface_alt2+default, profileface"
MIN_FACE = 24  # pixels
MAX_PIXELS = Limits().image_pixels  # refuse absurd decoded sizes (the default limit)


@dataclass(slots=True)
class ImageCheck:
    sha256: str
    size: int
    format: str
    width: int | None
    height: int | None
    faces: int | None  # None when the detector is not available or the picture undecodable
    detector: str | None
    boxes: list[list[int]]
    kept_as: str | None = None
    not_decoded: str | None = None  # why the picture was not decoded, when it was refused
    # the picture did not decode, and width, height and faces are those of the picture
    # nested in it at this byte (``nested_pictures``); None: of the picture itself
    decoded_at: int | None = None
    cut: bool = False  # a JPEG cut short (by the capture): decoded as far as it goes

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "faces": self.faces,
            "detector": self.detector,
            "boxes": self.boxes,
            "kept_as": self.kept_as,
            "not_decoded": self.not_decoded,
            "decoded_at": self.decoded_at,
            "cut": self.cut,
        }


CASCADES = ("frontalface_alt2", "frontalface_default", "profileface")


class _Cascades:
    """OpenCV's Haar cascades, each loaded on its first use (loading one parses a large
    XML file: the profile cascade is only needed when no frontal face is found)."""

    def __init__(self, cv2: Any, base: Path) -> None:
        self.cv2 = cv2
        self.base = base
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        clf = self._loaded.get(name)
        if clf is None:
            clf = self._loaded[name] = self.cv2.CascadeClassifier(
                str(self.base / f"haarcascade_{name}.xml")
            )
        return clf


@lru_cache(maxsize=1)
def _cascades() -> tuple[Any, _Cascades] | None:
    import cv2

    base = Path(cv2.data.haarcascades)
    if not all((base / f"haarcascade_{name}.xml").is_file() for name in CASCADES):
        return None
    out = _Cascades(cv2, base)
    if out[CASCADES[0]].empty():  # a file OpenCV cannot read: no detector
        return None
    return cv2, out


def detector_available() -> bool:
    return _cascades() is not None


def _overlap(a: list[int], b: list[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_intact(data: bytes) -> bool:
    """Every chunk of a PNG has the CRC it claims (a cut or damaged upload has not)."""
    pos = len(PNG_MAGIC)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 8 + length
        if end + 4 > len(data):
            return False
        if zlib.crc32(data[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            return False
        if data[pos + 4 : pos + 8] == b"IEND":
            return True
        pos = end + 4
    return False


# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman and
# arithmetic coded): their segment carries the frame's height and width
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the picture's header declares them, read without decoding
    anything: the PNG IHDR chunk, or the first JPEG start-of-frame segment. None when
    the header does not say (such a picture is not decoded either)."""
    if data.startswith(PNG_MAGIC):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
    if not data.startswith(b"\xff\xd8"):
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:  # stray bytes: the decoder skips to the next marker, so do we
            i = data.find(b"\xff", i)
            if i < 0:
                return None
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        seglen = int.from_bytes(data[i + 2 : i + 4], "big")
        if seglen < 2:
            return None
        if marker in _SOF:
            if seglen < 7 or i + 9 > n:
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + seglen
    return None


def _detect(
    data: bytes, size: tuple[int, int]
) -> tuple[int | None, int | None, int | None, list[list[int]]]:
    """Decode (grey) and look for faces; ``size`` is what the header declared."""
    loaded = _cascades()
    if loaded is None:
        return size[0], size[1], None, []
    cv2, clf = loaded
    import numpy as np

    if data.startswith(PNG_MAGIC) and not _png_intact(data):
        return None, None, None, []  # damaged: the decoder would only complain on stderr
    if is_cut(data, "jpeg") and data.startswith(b"\xff\xd8"):
        data += b"\xff\xd9"  # cut short: ended, so that the decoder shows what there is
    arr = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_stderr():  # its warnings on a damaged picture go nowhere
            img = cv2.imdecode(arr, cv2.IMREAD_GRAYSCALE)
    except cv2.error:  # the decoder refusing a picture is an undecodable picture
        img = None
    if img is None:
        return None, None, None, []
    h, w = img.shape[:2]
    gray = cv2.equalizeHist(img)
    side = max(MIN_FACE, min(w, h) // 12)

    def run(name: str) -> list[list[int]]:
        found = clf[name].detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
        )
        return sorted([int(v) for v in box] for box in found)

    # a face is a box both frontal cascades agree on (the second is not run when the
    # first finds nothing), else what the profile cascade finds
    alt2 = run("frontalface_alt2")
    default = run("frontalface_default") if alt2 else []
    boxes = [a for a in alt2 if any(_overlap(a, d) >= 0.3 for d in default)]
    if not boxes:
        boxes = run("profileface")
    return w, h, len(boxes), boxes


_STDERR = threading.Lock()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """The process's descriptor 2 sent to /dev/null for the block: libjpeg, inside OpenCV,
    prints a warning there for a damaged or cut picture (a device's bytes), which would land
    in the middle of the summary or the screen. (While the TUI runs, descriptor 2 is not the
    terminal at all: ``netscan.tui.terminal``.)"""
    with _STDERR:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


Detection = tuple[int | None, int | None, int | None, tuple[tuple[int, ...], ...]]
DETECTIONS_KEPT = 256  # pictures (by SHA-256) whose detection result a process remembers


class _Detections:
    """What ``_detect`` found in recent pictures, by their SHA-256: the same bytes give the
    same answer, so a picture seen again by a later analysis in the process (each snapshot
    of a step-by-step or live analysis checks every picture so far) is not decoded again.
    Bounded (least recently used first out); held in memory only."""

    def __init__(self, size: int = DETECTIONS_KEPT) -> None:
        self.size = size
        self._found: OrderedDict[str, Detection] = OrderedDict()
        self._lock = threading.Lock()

    def detect(self, digest: str, data: bytes, dims: tuple[int, int]) -> Detection:
        with self._lock:
            hit = self._found.get(digest)
            if hit is not None:
                self._found.move_to_end(digest)
                return hit
        w, h, faces, boxes = _detect(data, dims)
        found = (w, h, faces, tuple(tuple(b) for b in boxes))
        with self._lock:
            self._found[digest] = found
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return found


_DETECTIONS = _Detections()


class FaceChecker:
    """Checks carved pictures once each (by sha256) and keeps them only when told to.

    ``keep_dir`` is a directory path, or a :class:`~netscan.safefile.PrivateDir` already
    opened (and checked) by the caller; its ``warnings`` say what could not be kept where.

    Decoding is bounded: one picture may hold at most ``limits.image_pixels`` pixels (as
    its header declares, checked before decoding), and one run decodes at most
    ``limits.images`` pictures and ``limits.image_budget`` pixels in all."""

    def __init__(
        self,
        keep_dir: str | os.PathLike[str] | PrivateDir | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._keep_arg = keep_dir
        self.keep_dir: Path | None = None
        if isinstance(keep_dir, PrivateDir):
            self.keep_dir = keep_dir.path
        elif keep_dir:
            self.keep_dir = Path(keep_dir)
        self._store: PrivateDir | None = keep_dir if isinstance(keep_dir, PrivateDir) else None
        self._seen: dict[str, ImageCheck] = {}
        self.limits = _limits.resolve(limits)
        self.decoded = 0  # pictures decoded
        self.pixels = 0  # their pixels
        self.too_large = 0  # pictures above the per-picture limit
        self.largest: tuple[int, int] = (0, 0)
        self.over_budget = 0  # pictures left once the run's budget was spent

    @property
    def detector(self) -> str | None:
        """The face detector's name, None without OpenCV; OpenCV (a large import) and its
        cascades load on the first picture, not for runs without pictures."""
        return DETECTOR if detector_available() else None

    def _refusal(self, size: tuple[int, int] | None) -> str | None:
        """Why a picture of this declared size is not decoded (None: decode it)."""
        if size is None:
            return "no dimensions in its header"
        w, h = size
        px = w * h
        lim = self.limits
        if px > lim.image_pixels:
            self.too_large += 1
            if px > self.largest[0] * self.largest[1]:
                self.largest = (w, h)
            return f"{w}x{h} is above the limit of {lim.image_pixels:,} pixels"
        if self.decoded >= lim.images or self.pixels + px > lim.image_budget:
            self.over_budget += 1
            return "the run's picture decoding budget was spent"
        self.decoded += 1
        self.pixels += px
        return None

    def limit_warnings(self) -> list[str]:
        """What the decoding limits left undone, one line each (none when nothing was)."""
        out: list[str] = []
        lim = self.limits
        if self.too_large:
            w, h = self.largest
            out.append(
                f"{self.too_large} picture(s) above the limit of {lim.image_pixels:,} pixels "
                f"(largest {w}x{h}) were not decoded for faces (--limit image-pixels=N)"
            )
        if self.over_budget:
            out.append(
                f"{self.over_budget} picture(s) were not decoded for faces: the run's budget of "
                f"{lim.images:,} pictures / {lim.image_budget:,} pixels was spent "
                "(--limit images=N, --limit image-budget=N)"
            )
        return out

    def check(self, data: bytes, fmt: str) -> ImageCheck:
        digest = hashlib.sha256(data).hexdigest()
        hit = self._seen.get(digest)
        if hit is not None:
            return hit
        size = image_size(data)
        refused = self._refusal(size)
        boxes: list[list[int]] = []
        at: int | None = None
        if refused is None and size is not None:
            w, h, faces, found = _DETECTIONS.detect(digest, data, size)
            boxes = [list(b) for b in found]
        else:
            w, h = size if size is not None else (None, None)
            faces = None
        if w is None and self.detector is not None:
            # undecodable, or no dimensions in its header: a picture nested in it may decode
            nested = self._nested(data)
            if nested is not None:
                at, (w, h, faces, found) = nested
                boxes = [list(b) for b in found]
        chk = ImageCheck(digest, len(data), fmt, w, h, faces, self.detector, boxes)
        chk.decoded_at = at
        chk.cut = is_cut(data, fmt)
        if refused is not None and size is not None:
            chk.not_decoded = refused
        if self.keep_dir is not None:
            kept = self._keep(data, digest, fmt)
            chk.kept_as = str(kept) if kept is not None else None
        self._seen[digest] = chk
        return chk

    def _nested(self, data: bytes) -> tuple[int, Detection] | None:
        """The first picture nested in ``data`` (which did not decode), innermost first,
        that decodes: its offset and what was found in it. Each one tried counts in the
        run's decoding budget."""
        for off, inner, _fmt in nested_pictures(data):
            size = image_size(inner)
            if self._refusal(size) is not None or size is None:
                continue
            found = _DETECTIONS.detect(hashlib.sha256(inner).hexdigest(), inner, size)
            if found[0] is not None:
                return off, found
        return None

    @property
    def warnings(self) -> list[str]:
        return self._store.warnings if self._store is not None else []

    def _keep(self, data: bytes, digest: str, fmt: str) -> Path | None:
        assert self.keep_dir is not None
        if self._store is None:
            self._store = PrivateDir.open(self.keep_dir, "--keep-evidence directory")
        ext = safe_name("jpg" if fmt == "jpeg" else fmt, "bin")[:8]
        name = self._store.write_unique(f"{digest}.{ext}", data)
        return None if name is None else self.keep_dir / name
