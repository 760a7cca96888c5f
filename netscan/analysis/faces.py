"""Local face detection for carved pictures, and the optional evidence store.

A picture counts as holding a face when OpenCV's bundled frontal-face Haar cascades agree:
the ``alt2`` cascade finds a face that the ``default`` cascade also finds (boxes overlapping),
or the profile cascade finds one. Requiring two detectors to agree keeps textures such as
coins from being taken for faces. Everything runs locally on the bundled cascade files; no
picture is sent anywhere.

Pictures are written to disk only when the analyst asked for it (``--keep-evidence DIR``):
the directory is created with mode 0700 (an existing one is used only when nobody else can
write into it, and never re-moded) and every file is created new, never through a link,
with mode 0600 (``netscan.safefile``).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from netscan.safefile import PrivateDir, safe_name

DETECTOR = "opencv-haar frontalface_alt2+default, profileface"
MIN_FACE = 24  # pixels
MAX_PIXELS = 40_000_000  # refuse absurd decoded sizes


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
        }


@lru_cache(maxsize=1)
def _cascades() -> tuple[Any, dict[str, Any]] | None:
    try:
        import cv2
    except ImportError:
        return None
    base = Path(cv2.data.haarcascades)
    out: dict[str, Any] = {}
    for name in ("frontalface_alt2", "frontalface_default", "profileface"):
        path = base / f"haarcascade_{name}.xml"
        if not path.exists():
            return None
        clf = cv2.CascadeClassifier(str(path))
        if clf.empty():
            return None
        out[name] = clf
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


def _detect(data: bytes) -> tuple[int | None, int | None, int | None, list[list[int]]]:
    loaded = _cascades()
    if loaded is None:
        return None, None, None, []
    cv2, clf = loaded
    import numpy as np

    if data.startswith(PNG_MAGIC) and not _png_intact(data):
        return None, None, None, []  # damaged: the decoder would only complain on stderr
    arr = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(arr, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None, None, None, []
    h, w = img.shape[:2]
    if w * h > MAX_PIXELS:
        return w, h, None, []
    gray = cv2.equalizeHist(img)
    side = max(MIN_FACE, min(w, h) // 12)

    def run(name: str) -> list[list[int]]:
        found = clf[name].detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
        )
        return sorted([int(v) for v in box] for box in found)

    alt2, default = run("frontalface_alt2"), run("frontalface_default")
    boxes = [a for a in alt2 if any(_overlap(a, d) >= 0.3 for d in default)]
    if not boxes:
        boxes = run("profileface")
    return w, h, len(boxes), boxes


class FaceChecker:
    """Checks carved pictures once each (by sha256) and keeps them only when told to.

    ``keep_dir`` is a directory path, or a :class:`~netscan.safefile.PrivateDir` already
    opened (and checked) by the caller; its ``warnings`` say what could not be kept where.
    """

    def __init__(self, keep_dir: str | os.PathLike[str] | PrivateDir | None = None) -> None:
        self._keep_arg = keep_dir
        self.keep_dir: Path | None = None
        if isinstance(keep_dir, PrivateDir):
            self.keep_dir = keep_dir.path
        elif keep_dir:
            self.keep_dir = Path(keep_dir)
        self._store: PrivateDir | None = keep_dir if isinstance(keep_dir, PrivateDir) else None
        self._seen: dict[str, ImageCheck] = {}
        self.detector = DETECTOR if detector_available() else None

    def check(self, data: bytes, fmt: str) -> ImageCheck:
        digest = hashlib.sha256(data).hexdigest()
        hit = self._seen.get(digest)
        if hit is not None:
            return hit
        w, h, faces, boxes = _detect(data)
        chk = ImageCheck(digest, len(data), fmt, w, h, faces, self.detector, boxes)
        if self.keep_dir is not None:
            kept = self._keep(data, digest, fmt)
            chk.kept_as = str(kept) if kept is not None else None
        self._seen[digest] = chk
        return chk

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
