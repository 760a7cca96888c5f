"""Every netscan module imports, and no first-party import failure is ever swallowed.

A module that cannot be imported (a renamed name, a missing hard dependency) must fail here,
loudly, instead of making a subcommand, an engine or a report section quietly disappear.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import netscan

PACKAGE = Path(netscan.__file__).parent
# third-party extras netscan may run without; each must tell the user when its feature is asked
# for (none today: every dependency netscan imports is a hard one, in pyproject.toml)
OPTIONAL_EXTRAS: frozenset[str] = frozenset()


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(netscan.__path__, "netscan.")]
    assert "netscan.analyze" in names and "netscan.sources.pcapng" in names
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_every_module_imports(name: str) -> None:
    if name == "netscan.__main__":  # runs the command line when imported
        assert importlib.util.find_spec(name) is not None
        return
    importlib.import_module(name)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return (
        any(
            isinstance(k, ast.Name) and k.id in ("ImportError", "ModuleNotFoundError")
            for k in kinds
        )
        or handler.type is None
    )


def _imported(body: list[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                out.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                out.add("." * sub.level + (sub.module or ""))
            elif isinstance(sub, ast.Call) and getattr(sub.func, "id", "") == "__import__":
                out.add("<dynamic>")
    return out


def test_no_import_error_is_swallowed() -> None:
    """No ``except ImportError`` (nor a bare ``except``) around an import of netscan or of a
    hard dependency: only the optional extras above may be caught."""
    bad: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            imported = _imported(node.body)
            if not imported:
                continue
            for handler in node.handlers:
                if not _catches_import_error(handler):
                    continue
                top = {m.lstrip(".").split(".")[0] for m in imported}
                if not top <= OPTIONAL_EXTRAS:
                    where = path.relative_to(PACKAGE.parent)
                    bad.append(f"{where}:{handler.lineno} catches the import of {sorted(imported)}")
    assert bad == [], "\n".join(bad)


def test_the_guard_sees_a_swallowed_import() -> None:
    code = "try:\n    from netscan import findings\nexcept ImportError:\n    findings = None\n"
    handler = ast.parse(code).body[0].handlers[0]  # type: ignore[attr-defined]
    assert _catches_import_error(handler)
    assert _imported(ast.parse(code).body[0].body) == {"netscan"}  # type: ignore[attr-defined]


def test_a_broken_first_party_import_fails_loudly() -> None:
    """The command line with a netscan subcommand module that cannot be imported: a
    traceback naming it, not a netscan without that subcommand."""
    code = (
        "import sys, importlib.machinery\n"
        "class Broken(importlib.machinery.PathFinder):\n"
        "    @classmethod\n"
        "    def find_spec(cls, name, path=None, target=None):\n"
        "        if name == 'netscan.report.evidence_cli':\n"
        "            raise ImportError('evidence_cli is broken')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Broken)\n"
        "from netscan.cli import main\n"
        "sys.exit(main(['--help']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "evidence_cli is broken" in out.stderr


def test_evidence_does_not_need_the_command_line_module() -> None:
    code = "import sys, netscan.report.evidence_cli; print('netscan.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
