"""While the TUI runs, what C libraries write to descriptor 2 stays off its screen.

Textual draws on stderr; libjpeg (in OpenCV) prints a warning there for each damaged or cut
picture a device sends, from the analysis thread, in the middle of the screen. ``own_terminal``
gives Textual the terminal on a descriptor of its own and sends descriptor 2 to /dev/null."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import os, sys
from netscan.tui.terminal import own_terminal
os.write(2, b"before\\n")
with own_terminal():
    os.write(2, b"libjpeg warning\\n")
    sys.__stderr__.write("screen\\n")
    sys.__stderr__.flush()
    print("python", file=sys.stderr)
os.write(2, b"after\\n")
print("python after", file=sys.stderr)
"""


def test_descriptor_2_is_off_the_terminal_while_the_app_runs() -> None:
    run = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "before\nscreen\npython\nafter\npython after\n"
