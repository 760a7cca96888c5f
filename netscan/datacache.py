"""Compact indexes of the offline registries, kept in the user's cache directory.

Parsing the IEEE MAC registry (a 3 MB Wireshark ``manuf`` file) or unpickling the geo/AS
database costs a noticeable part of every run and tens of MB of Python objects. Each is
turned once into a few flat sorted arrays (``array`` and UTF-8 blobs) and written as one
file; later runs map that file and look addresses up by binary search, touching a few
pages instead of building every object.

An index is tied to the exact source it was built from: its header records the format
version, the machine's byte order, and the source's path, size, modification time (ns)
and SHA-256. Any difference, or a file that does not read back whole, and the index is
rebuilt from the source; the answers are the same either way (the cache only saves the
parse). Where: ``$NETSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/netscan``, else
``~/.cache/netscan``. The directory is created ``0700`` and the files ``0600``, written
through a temporary name and renamed; a directory that is not the user's, or that others
can write to, is not used (the index is then built in memory on each run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import secrets
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MAGIC = b"netscan-index\n"
ALIGN = 8
MAX_HEADER = 64 * 1024
Sections = dict[str, memoryview]


def cache_dir() -> Path | None:
    """The cache directory (created 0700), or None when there is none fit for use."""
    env = os.environ.get("NETSCAN_CACHE_DIR")
    if env:
        d = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
        d = base / "netscan"
    try:
        if not os.path.lexists(d):
            d.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(d, 0o700)
        st = os.lstat(d)
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return d


def source_key(path: Path) -> dict[str, Any]:
    """What ties an index to its source: path, size, mtime (ns) and SHA-256."""
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return {
        "source": str(path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": h.hexdigest(),
    }


def _header(kind: str, version: int, key: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "version": version, "byteorder": sys.byteorder, **key}


def _read(path: Path, want: dict[str, Any]) -> Sections | None:
    """The index at ``path`` if it was built from the source ``want`` describes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        head = os.pread(fd, MAX_HEADER, 0)
        if not head.startswith(MAGIC):
            return None
        end = head.find(b"\n", len(MAGIC))
        if end < 0:
            return None
        meta = json.loads(head[len(MAGIC) : end])
        sections = meta.pop("sections")
        if meta != want:
            return None
        layout = _layout(end + 1, [(str(name), int(n)) for name, n in sections])
        if (layout[-1][1] + layout[-1][2] if layout else end + 1) != st.st_size:
            return None
        mm = mmap.mmap(fd, st.st_size, access=mmap.ACCESS_READ) if st.st_size else b""
    except (OSError, ValueError, TypeError, KeyError):
        return None
    finally:
        os.close(fd)
    view = memoryview(mm)
    return {name: view[off : off + n] for name, off, n in layout}


def _layout(start: int, sections: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(name, offset, length) of each section after a header of ``start`` bytes, each
    section aligned to ``ALIGN`` bytes."""
    out = []
    pos = start
    for name, n in sections:
        pos = -(-pos // ALIGN) * ALIGN
        out.append((name, pos, n))
        pos += n
    return out


def _write(path: Path, header: dict[str, Any], parts: Mapping[str, bytes]) -> None:
    """Write the index through a temporary name (0600) renamed over ``path``."""
    meta = dict(header, sections=[[name, len(data)] for name, data in parts.items()])
    head = MAGIC + json.dumps(meta, sort_keys=True).encode() + b"\n"
    layout = _layout(len(head), [(name, len(data)) for name, data in parts.items()])
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(head)
            for name, off, _n in layout:
                fh.write(b"\0" * (off - fh.tell()))
                fh.write(parts[name])
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(
    kind: str, version: int, source: Path, build: Callable[[], Mapping[str, bytes]]
) -> Sections:
    """The sections of the index of ``source``: from the cache when it holds one built
    from this very source, else from ``build()`` (then written to the cache)."""
    key = source_key(source)
    want = _header(kind, version, key)
    d = cache_dir()
    name = f"{kind}-{hashlib.sha256(key['source'].encode()).hexdigest()[:16]}.idx"
    if d is not None:
        got = _read(d / name, want)
        if got is not None:
            return got
    parts = {k: bytes(v) for k, v in build().items()}
    if d is not None:
        with contextlib.suppress(OSError):
            _write(d / name, want, parts)
    return {k: memoryview(v) for k, v in parts.items()}


def known(d: Path | None, kind: str, key: str) -> bool:
    """Whether a fact named by ``key`` (a digest of everything it depends on) was recorded
    in the cache directory ``d`` by an earlier run (``remember``)."""
    if d is None:
        return False
    try:
        st = os.lstat(d / f"{kind}-{key}.ok")
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def remember(d: Path | None, kind: str, key: str) -> None:
    """Record the fact ``key`` (an empty 0600 file); best effort."""
    if d is None:
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with contextlib.suppress(OSError):
        os.close(os.open(d / f"{kind}-{key}.ok", flags, 0o600))
