"""The case store's error (importable without the database libraries)."""

from __future__ import annotations


class StoreError(Exception):
    """A problem with the case store or what was asked of it: one line, exit 2."""
