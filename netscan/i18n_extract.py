"""A Babel extraction method that reads Python through its syntax tree.

Babel's own Python extractor works on tokens, and before Python 3.12 an f-string is a single
token: ``f"<h2>{_('Findings')}</h2>"`` hides its message. This one walks the ``ast`` instead,
so messages inside f-strings are found too. ``babel.cfg`` names it::

    [netscan.i18n_extract:extract: **.py]
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

# the translation functions of netscan.i18n, and the Markdown reports' "translate and fill" helpers
FUNCTIONS = {
    "_": "_",
    "N_": "N_",
    "_t": "_",
    "_mt": "_",
    "ngettext": "ngettext",
    "pgettext": "pgettext",
}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def messages(source: str) -> Iterator[tuple[int, str, tuple[str | None, ...]]]:
    """(line, function, string arguments) of every call of a translation function."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name not in FUNCTIONS:
            continue
        args = tuple(
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
            for a in node.args
        )
        if args and any(a is not None for a in args):
            yield node.lineno, FUNCTIONS[name], args


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any] | Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str | tuple[str | None, ...], list[str]]]:
    """The Babel extraction-method interface."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, func, args in messages(source):
        if func not in keywords:
            continue
        yield line, func, args if len(args) > 1 else args[0] or "", []
