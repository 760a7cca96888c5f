"""The summary a user receives from ``netscan analyze`` stays byte for byte what it was (the
references in ``summary_reference/`` were written by the CLI before the summary was made
faster): through a pipe and on a real pseudo-terminal at several widths, with colours."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.output.summary_reference import CASES, Case, render


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_summary_is_byte_for_byte_the_reference(case: Case, tmp_path: Path) -> None:
    expected = case.path.read_bytes()
    got = render(case, tmp_path)
    if got != expected:
        exp_lines, got_lines = expected.splitlines(), got.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(exp_lines, got_lines, strict=False)) if a != b),
                     min(len(exp_lines), len(got_lines)))  # fmt: skip
        pytest.fail(f"{case.name}: line {first + 1} differs:\n"
                    f"expected {exp_lines[first:first + 1]!r}\n"
                    f"got      {got_lines[first:first + 1]!r}")  # fmt: skip
