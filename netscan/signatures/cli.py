"""``netscan signatures``: list, show, validate, test and describe the signature pack.

``update`` and ``rollback`` come from ``netscan.signatures.update`` when it is present.
Errors are one line on stderr and a non-zero exit code, never a traceback: 1 when the
check asked for failed (``validate``, ``test``) or an update or rollback was refused, 2
for bad usage or unreadable input (unknown id, missing directory, unloadable pack, bad
``--from`` source).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from netscan.signatures.pack import (
    CATEGORIES,
    Pack,
    PackError,
    load_active_pack,
    load_pack,
    resolve_pack_source,
    run_examples,
    validate_pack,
)
from netscan.untrusted import TEXT_LIMIT, display

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

EPILOG = """exit codes:
  0  done
  1  validate/test: the pack has problems; update/rollback: refused (nothing changed)
  2  bad usage or unreadable input (unknown id, missing directory, unloadable pack,
     bad update source)
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``signatures`` command and its subcommands."""
    p = subparsers.add_parser(
        "signatures",
        help="inspect, validate and test the signature pack",
        description="Inspect, validate and test the signature pack in use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--signatures",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="signature pack directory to use (default: $NETSCAN_SIGNATURES, the user's "
        "copy under $XDG_DATA_HOME/netscan/signatures, then the bundled pack)",
    )
    p.set_defaults(handler=run, sig_command=None)
    sub = p.add_subparsers(dest="sig_command", metavar="SUBCOMMAND")

    p_list = sub.add_parser("list", help="list every signature (id, category, name, vendor)")
    p_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_list.add_argument("--category", choices=CATEGORIES, help="only this category")

    p_show = sub.add_parser("show", help="show one signature in full")
    p_show.add_argument("id", metavar="ID", help="signature id, e.g. face-cloud.kairos")
    p_show.add_argument("--json", action="store_true", help="print JSON")

    p_val = sub.add_parser("validate", help="check a pack against its schema and rules")
    p_val.add_argument("dir", nargs="?", metavar="DIR", help="pack directory (default: active)")

    p_test = sub.add_parser("test", help="run every example and near-miss of the pack")
    p_test.add_argument("dir", nargs="?", metavar="DIR", help="pack directory (default: active)")

    p_info = sub.add_parser("info", help="where the active pack comes from, version, counts")
    p_info.add_argument("--json", action="store_true", help="print JSON")

    from netscan.signatures import update

    update.add_update_parsers(sub)


def _err(message: str) -> None:
    print(f"netscan signatures: error: {message}", file=sys.stderr)


def _active(args: argparse.Namespace) -> Pack:
    return load_active_pack(getattr(args, "signatures", None))


def _cmd_list(args: argparse.Namespace) -> int:
    pack = _active(args)
    sigs = [s for s in pack.signatures if not args.category or s.category == args.category]
    rows = [{"id": s.id, "category": s.category, "name": s.name, "vendor": s.vendor} for s in sigs]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    # a pack can come from a remote repository: its strings are shown as safe lines
    shown_rows = [{k: display(v) for k, v in r.items()} for r in rows]
    width = max((len(r["id"]) for r in shown_rows), default=2)
    for r in shown_rows:
        print(f"{r['id']:<{width}}  {r['category']:<12}  {r['name']}  [{r['vendor']}]")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    pack = _active(args)
    sig = pack.by_id.get(args.id)
    if sig is None:
        _err(f"no signature with id {args.id!r} (see 'netscan signatures list')")
        return EXIT_USAGE
    data = sig.to_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    for key in ("id", "name", "category", "vendor", "jurisdiction", "role", "confidence"):
        if data[key] is not None:
            print(f"{key + ':':<14}{display(data[key])}")
    if data["notes"]:
        print(f"{'notes:':<14}{display(data['notes'], TEXT_LIMIT)}")
    print(f"{'defined at:':<14}{display(data['file'], TEXT_LIMIT)}:{data['line']}")
    for block in ("match", "match_all"):
        if data[block]:
            print(f"{block}:" + ("  (every field must match)" if block == "match_all" else ""))
            for e in data[block]:
                extra = f"  conf {display(e['confidence'])}" if "confidence" in e else ""
                proto = (
                    f"  [{display(e['protocol'])}: {display(e.get('image_field', ''))}]"
                    if "protocol" in e
                    else ""
                )
                field, mode = display(e["field"]), display(e["mode"])
                print(f"  {field:<18} {mode:<8} {display(e['value'], TEXT_LIMIT)}{extra}{proto}")
    print("sources:")
    for s in data["sources"]:
        print(f"  - {display(s, TEXT_LIMIT)}")
    return EXIT_OK


def _pack_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "dir", None):
        path = Path(args.dir).expanduser()
        if not path.is_dir():
            raise PackError(f"pack directory not found: {path}")
        return path
    return resolve_pack_source(getattr(args, "signatures", None))[0]


def _cmd_validate(args: argparse.Namespace) -> int:
    path = _pack_dir(args)
    errors = validate_pack(path)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        _err(f"{len(errors)} problem(s) in {path}")
        return EXIT_FAIL
    print(f"{path}: valid")
    return EXIT_OK


def _cmd_test(args: argparse.Namespace) -> int:
    path = _pack_dir(args)
    pack = load_pack(path)
    failures = run_examples(pack)
    for f in failures:
        print(f, file=sys.stderr)
    n_ex = sum(len(s.examples) for s in pack.signatures)
    n_nm = sum(len(s.near_misses) for s in pack.signatures)
    if failures:
        _err(f"{len(failures)} of {n_ex + n_nm} example checks failed")
        return EXIT_FAIL
    print(f"{n_ex} examples and {n_nm} near-misses passed ({len(pack.signatures)} signatures)")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    pack = _active(args)
    v = pack.version
    info: dict[str, Any] = {
        "source_dir": str(v.source_dir),
        "origin": v.origin,
        "name": v.name,
        "format_version": v.format_version,
        "pack_version": v.pack_version,
        "git_commit": v.git_commit,
        "git_date": v.git_date,
        "git_dirty": v.git_dirty,
        "counts": pack.counts,
        "total": len(pack.signatures),
        "settings_file": (getattr(args, "from_settings", None) or {}).get("signatures"),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    origins = {
        "cli": "--signatures option",
        "env": "NETSCAN_SIGNATURES",
        "user": "user copy",
        "bundled": "bundled with netscan",
        "source": "source checkout",
        "explicit": "explicit path",
    }
    print(f"pack:      {v.name} {v.pack_version} (format {v.format_version})")
    where = origins.get(v.origin, v.origin)
    settings_file = (getattr(args, "from_settings", None) or {}).get("signatures")
    if v.origin == "cli" and settings_file:
        where = f"signatures = in {settings_file}"
    print(f"directory: {v.source_dir} ({where})")
    if v.git_commit:
        dirty = " + local changes" if v.git_dirty else ""
        print(f"git:       {v.git_commit} {v.git_date}{dirty}")
    else:
        print("git:       not a git working copy")
    counts = ", ".join(f"{c} {n}" for c, n in pack.counts.items())
    print(f"counts:    {counts} (total {len(pack.signatures)})")
    return EXIT_OK


_COMMANDS = {
    "list": _cmd_list,
    "show": _cmd_show,
    "validate": _cmd_validate,
    "test": _cmd_test,
    "info": _cmd_info,
}


def run(args: argparse.Namespace) -> int:
    """Run a ``netscan signatures`` subcommand; returns the exit code."""
    func = getattr(args, "func", None)
    if callable(func):  # update / rollback, registered by netscan.signatures.update
        return int(func(args))
    command = _COMMANDS.get(getattr(args, "sig_command", None) or "")
    if command is None:
        _err("missing subcommand (list, show, validate, test, info)")
        return EXIT_USAGE
    try:
        return command(args)
    except PackError as exc:
        _err(_one_line(str(exc)))
        return EXIT_USAGE
    except OSError as exc:
        _err(_one_line(f"{exc.filename or ''}: {exc.strerror or exc}"))
        return EXIT_USAGE


def _one_line(text: str) -> str:
    from netscan.cliargs import one_line

    return one_line(text)
