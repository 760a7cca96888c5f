#!/usr/bin/env python3
"""Write pcaps/assets/face_astronaut.jpg, the face image carried by the demo capture.

The picture is the public-domain NASA portrait of astronaut Eileen Collins that ships with
scikit-image (``skimage.data.astronaut()``), cropped to the face and JPEG-encoded.  The result
is committed so that ``make_demo.py`` does not depend on scikit-image, Pillow or a particular
JPEG encoder build; run this script only to recreate the asset.

Needs: scikit-image, pillow.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

ASSET = Path(__file__).resolve().parent / "assets" / "face_astronaut.jpg"

# Face region of the 512x512 astronaut image (rows, columns) and the output edge length.
CROP_ROWS = (8, 216)
CROP_COLS = (122, 330)
SIZE = 176
QUALITY = 82


def face_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    pixels = data.astronaut()
    face = pixels[CROP_ROWS[0] : CROP_ROWS[1], CROP_COLS[0] : CROP_COLS[1]]
    image = Image.fromarray(face).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=QUALITY)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ASSET)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    blob = face_jpeg()
    args.output.write_bytes(blob)
    print(f"wrote {args.output} ({len(blob)} bytes)")


if __name__ == "__main__":
    main()
