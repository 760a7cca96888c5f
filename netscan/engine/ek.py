"""The values of tshark's ``-T ek`` output: per frame, each field's list of values, one per
layer that has it (an encapsulated frame's outer and inner layers alike), as text."""

from __future__ import annotations

Layers = dict[str, list[str]]


def first(layers: Layers, key: str) -> str | None:
    """The field's first value (its outermost layer's), None without one."""
    values = layers.get(key)
    return values[0] if values else None


def to_int(value: str | None, default: int = 0) -> int:
    """A number tshark wrote (decimal, 0x hexadecimal, or with a fraction, cut); ``default``
    for none or for anything else."""
    if value is None or value == "":
        return default
    try:
        return int(value, 0)
    except ValueError:
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return default


def flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")
