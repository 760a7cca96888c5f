"""Writing files that can hold captured content: user-private, never through a link.

Everything netscan writes that can hold what was captured (kept face images, the live
evidence ring and its manifest, evidence pcapng files, reports and TUI exports) goes
through this module:

* evidence directories are created ``0700``; an existing one is used as it is (never
  re-moded) if it belongs to the user and nobody else can write into it, refused
  otherwise; a warning says when others can list it;
* files inside an evidence directory are created with ``O_CREAT | O_EXCL | O_NOFOLLOW``
  and mode ``0600``, relative to the directory's file descriptor, so a name planted
  in advance (a symbolic link towards a victim file, say) is never followed or reused;
* a file the user names (``--json``, ``--report``, ``-o``, TUI exports) is written
  ``0600`` into a fresh temporary file beside it and renamed over the name at the end:
  a symbolic link or hard link at that name is replaced, never written through, and a
  failed write leaves whatever was there before. Terminals, pipes and ``/dev/null``
  named by the user are written in place.

File names built from network data go through :func:`safe_name`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 120
DIVERSIONS = 9  # other names tried when a planted file holds the one an image should get


class UnsafePathError(OSError):
    """netscan refuses to write there; ``str()`` is one line naming the path and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(errno.EPERM, reason, str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def safe_name(name: str, default: str = "file") -> str:
    """A file name made only of ``A-Za-z0-9._-``, no leading dot, at most MAX_NAME long."""
    out = _SAFE_CHARS.sub("_", name).lstrip(".")[:MAX_NAME]
    return out if out.strip("_") else default


def _make_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents, each ``0700``."""
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, PRIVATE_DIR)


class PrivateDir:
    """A directory fit for captured content, held open by file descriptor.

    ``PrivateDir.open(path)`` creates the directory (``0700``) when it does not exist and
    checks an existing one: owned by the user and writable by nobody else, or
    :class:`UnsafePathError`. ``warnings`` collects what the user should know (a
    directory that others may list, names that were found taken).
    """

    def __init__(self, path: Path, fd: int, created: bool) -> None:
        self.path = path
        self.fd = fd
        self.created = created
        self.warnings: list[str] = []
        self._written: dict[str, str] = {}  # name -> sha256 of what this run wrote there

    @classmethod
    def open(cls, path: str | os.PathLike[str], what: str = "evidence directory") -> PrivateDir:
        p = Path(path)
        created = False
        if not os.path.lexists(p):
            _make_dirs(p)
            created = True
        try:
            fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except NotADirectoryError:
            raise UnsafePathError(p, f"{what} is not a directory") from None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid():
                raise UnsafePathError(
                    p,
                    f"{what} belongs to another user (uid {st.st_uid}); refusing to write "
                    "captured content into it",
                )
            if st.st_mode & 0o022:
                raise UnsafePathError(
                    p,
                    f"{what} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
                    "; refusing to write captured content into it (use a new directory, "
                    "or chmod 700 it)",
                )
        except BaseException:
            os.close(fd)
            raise
        self = cls(p, fd, created)
        if st.st_mode & 0o055:
            self.warnings.append(
                f"{p}: {what} is readable by group or others (mode "
                f"{stat.S_IMODE(st.st_mode):o}); its files are 0600 but their names are visible"
            )
        return self

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PrivateDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- files ----------------------------------------------------------------------

    def create(self, name: str) -> int:
        """A new file ``name`` (0600) opened for writing; FileExistsError if taken."""
        if name != safe_name(name):
            raise ValueError(f"unsafe file name {name!r}")
        return os.open(name, _NEW, PRIVATE_FILE, dir_fd=self.fd)

    def open_new(self, name: str) -> IO[bytes]:
        """:meth:`create` as a binary file object."""
        return os.fdopen(self.create(name), "wb")

    def open_append(self, name: str) -> IO[str]:
        """``name`` for appending text (created 0600); refused when it is a link, not a
        regular file or not the user's."""
        if name != safe_name(name):
            raise ValueError(f"unsafe file name {name!r}")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_NONBLOCK  # a FIFO planted under the name must not block the open
        try:
            fd = os.open(name, flags, PRIVATE_FILE, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(self.path / name, "is a symbolic link; refusing") from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
            os.close(fd)
            raise UnsafePathError(
                self.path / name, "is not a regular file of this user; refusing to append"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "a", encoding="utf-8")

    def _holds(self, name: str, digest: str, size: int) -> bool:
        """Whether ``name`` is already a regular file of ours with exactly this content."""
        if self._written.get(name) == digest:
            return True
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=self.fd)  # fmt: skip
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_size != size:
                return False
            h = hashlib.sha256()
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
            return h.hexdigest() == digest
        finally:
            os.close(fd)

    def write_unique(self, name: str, data: bytes) -> str | None:
        """Write ``data`` as a new file ``name`` and return the name used.

        A name already holding exactly ``data`` (an earlier run into the same directory)
        is reused. A name taken by anything else (a planted link, another file) is left
        untouched: the data goes to ``<stem>-N<ext>`` instead, with a warning, or is not
        written at all (``None``, with a warning) when those are taken too.
        """
        name = safe_name(name)
        digest = hashlib.sha256(data).hexdigest()
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidates = [name] + [
            f"{stem}-{i}.{ext}" if ext else f"{stem}-{i}" for i in range(1, DIVERSIONS + 1)
        ]
        for cand in candidates:
            if self._holds(cand, digest, len(data)):
                return cand
            try:
                fd = self.create(cand)
            except FileExistsError:
                continue
            try:
                with os.fdopen(fd, "wb", closefd=False) as fh:
                    fh.write(data)
            finally:
                os.close(fd)
            self._written[cand] = digest
            if cand != name:
                self.warnings.append(
                    f"{self.path / name} already exists and is not this image (left "
                    f"untouched); kept as {cand}"
                )
            return cand
        self.warnings.append(
            f"{self.path / name} and its alternative names are taken by other files (left "
            "untouched); this image was not kept"
        )
        return None


# -- files the user names ----------------------------------------------------------------


_TTY_MAJORS = frozenset({4, 5, *range(136, 144)})  # virtual consoles, ttys, pseudo-terminals


def _stream(st: os.stat_result) -> bool:
    """A pipe, a terminal or /dev/null: a stream that may be written in place."""
    if stat.S_ISFIFO(st.st_mode):
        return True
    if not stat.S_ISCHR(st.st_mode):
        return False
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return major in _TTY_MAJORS or (major, minor) == (1, 3)


def _standard_stream(p: Path) -> bool:
    """``/dev/stdout`` and friends: names of this process's open files, written in place."""
    streams = ("/proc/", "/dev/fd/")
    if str(p).startswith(streams) or str(p) in ("/dev/stdout", "/dev/stderr"):
        return True
    try:
        return os.readlink(p).startswith(streams)
    except OSError:
        return False


@contextlib.contextmanager
def private_output(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing a whole new file that only the user can read (0600).

    The content goes to a temporary file beside ``path`` (created exclusively, never
    through a link) and replaces ``path`` when the block ends without an exception; on
    an exception the temporary file is removed and ``path`` is left as it was. A
    terminal, pipe or other device named by the user is written in place.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"unsupported mode {mode!r}")
    enc = None if "b" in mode else encoding
    p = Path(path)
    try:
        st: os.stat_result | None = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(p))
    if st is not None and (_standard_stream(p) or not stat.S_ISREG(st.st_mode)):
        if not _standard_stream(p) and not _stream(st):
            raise UnsafePathError(p, "is a device; refusing to write into it")
        with open(p, mode, encoding=enc) as fh:  # /dev/stdout, a FIFO: a stream the user chose
            yield fh
        return
    parent = p.parent
    tmp = parent / f".{safe_name(p.name)[:60]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, _NEW, PRIVATE_FILE)
    try:
        with os.fdopen(fd, mode, encoding=enc) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_private(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` as a new user-private file (see :func:`private_output`)."""
    if isinstance(data, bytes):
        with private_output(path, "wb") as fh:
            fh.write(data)
    else:
        with private_output(path, "w") as fh:
            fh.write(data)
