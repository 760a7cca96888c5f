"""The terminal for the TUI alone: nothing else the process writes lands on its screen.

Textual draws on the process's stderr (descriptor 2). C libraries write there too: libjpeg,
inside OpenCV, prints a warning for each damaged or cut picture a device sends, and the
analysis decodes pictures in a thread while the screen is drawn; those lines would land in
the middle of the screen. While the app runs, Textual gets a descriptor of its own for the
terminal (``sys.__stderr__`` and ``sys.stderr`` are that one) and descriptor 2 goes to
/dev/null; both come back when it ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def own_terminal() -> Iterator[None]:
    err = sys.__stderr__
    try:
        if err is None:
            raise ValueError("no stderr")
        err.flush()
        terminal = os.dup(err.fileno())
    except (OSError, ValueError, AttributeError):  # no descriptor to move: nothing to do
        yield
        return
    stream = os.fdopen(terminal, "w", buffering=1, encoding=err.encoding, errors=err.errors)
    saved = sys.__stderr__, sys.stderr
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
    finally:
        os.close(null)
    sys.__stderr__ = sys.stderr = stream
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
        os.dup2(terminal, 2)
        sys.__stderr__, sys.stderr = saved
        with contextlib.suppress(OSError):
            stream.close()
