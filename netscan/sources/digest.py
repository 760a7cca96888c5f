"""The SHA-256 of an input file, for the report's chain of custody.

The Rust core hashes a capture while it reads it (``Core.file_info(i)["sha256"]``: the
file's bytes as stored, the compressed bytes of a gzip capture, the whole file even when
the capture is damaged or cut). ``sha256_file`` reads a file for its hash where the core
does not read it (the tshark engine, inputs that may repeat one another).
"""

from __future__ import annotations

import os

from netscan.util import sha256_file


def input_digest(path: str | os.PathLike[str], *known: str | None) -> str:
    """The first digest already known (given, or the core's), else the file read for it;
    "" when the file cannot be read any more."""
    for digest in known:
        if digest:
            return digest
    try:
        return sha256_file(path)
    except OSError:
        return ""


__all__ = ["input_digest", "sha256_file"]
