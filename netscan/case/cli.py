"""``netscan case``: cases, sites, visits, diffs, analyst overrides and notes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from netscan.untrusted import display

HELP = """Keeps an audit that spans visits: cases, their sites, each visit's captures (by sha256),
inventory and findings, and the analyst's overrides and notes. SQLite by default (one file
under $XDG_DATA_HOME/netscan, 0600), PostgreSQL with --store postgresql://USER@HOST/DB.
Record a visit with: netscan analyze FILE... --case NAME --site SITE"""


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH|URL",
                   help="case store: a SQLite file, sqlite:///PATH or postgresql://… "
                   "(default $NETSCAN_CASE_STORE, else $XDG_DATA_HOME/netscan/cases.sqlite)")  # fmt: skip


def add_parser(sub: Any) -> None:
    p = sub.add_parser("case", help="cases, sites, visits, diffs, overrides and notes",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _store_arg(p)
    cs = p.add_subparsers(dest="case_command", metavar="SUBCOMMAND")
    p.set_defaults(handler=lambda a: _help(p))

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        q = cs.add_parser(name, help=help_, description=help_)
        _store_arg(q)
        return q

    q = add("create", "create a case")
    q.add_argument("name", metavar="CASE")
    q.add_argument("--description", default="")
    q.add_argument("--by", metavar="NAME", default="")
    q.set_defaults(handler=cmd_create)

    q = add("list", "list the cases")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_list)

    q = add("site-add", "add a site to a case")
    q.add_argument("case", metavar="CASE")
    q.add_argument("site", metavar="SITE")
    q.add_argument("--description", default="")
    q.set_defaults(handler=cmd_site_add)

    q = add("sites", "list a case's sites")
    q.add_argument("case", metavar="CASE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_sites)

    q = add("visits", "list a site's visits")
    q.add_argument("site", metavar="SITE")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_visits)

    q = add("show", "show a visit (the newest by default)")
    q.add_argument("site", metavar="SITE")
    q.add_argument("visit", metavar="VISIT", type=int, nargs="?")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", action="store_true", help="the visit's stored JSON report")
    q.set_defaults(handler=cmd_show)

    q = add("report", "write a visit's reports again from the store (with the changes since "
            "the visit before it and the overrides as they stand now)")  # fmt: skip
    q.add_argument("site", metavar="SITE")
    q.add_argument("visit", metavar="VISIT", type=int, nargs="?")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", metavar="OUT", help="the JSON report ('-' for stdout)")
    q.add_argument("--report", metavar="OUT.html", help="the HTML report")
    q.add_argument("--markdown", metavar="OUT.md", help="the Markdown report")
    q.add_argument("--analyst", metavar="NAME", help="analyst named in the chain of custody")
    from netscan.cliargs import add_lang_option

    add_lang_option(q, "HTML and Markdown reports")
    q.set_defaults(handler=cmd_report)

    q = add("diff", "what changed between two visits (default: the last two)")
    q.add_argument("site", metavar="SITE")
    q.add_argument("visits", metavar="VISIT", type=int, nargs="*")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_diff)

    q = add("override", "override a device's role, name or manufacturer, or set a "
            "finding's status (accepted, disputed, resolved)")  # fmt: skip
    q.add_argument("site", metavar="SITE")
    q.add_argument("kind", choices=("device", "finding"))
    q.add_argument("target", metavar="DEVICE|FINDING", help="device key (MAC) or finding ID")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--role")
    q.add_argument("--name")
    q.add_argument("--manufacturer")
    q.add_argument("--status", choices=("accepted", "disputed", "resolved"))
    q.add_argument(
        "--by",
        "--analyst",
        dest="analyst",
        metavar="NAME",
        help="who (default: analyst from the settings)",
    )
    q.add_argument("--why", metavar="REASON", default="", help="why (kept with the override)")
    q.set_defaults(handler=cmd_override)

    q = add("overrides", "list a site's overrides (the chain of custody keeps them all)")
    q.add_argument("site", metavar="SITE")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_overrides)

    q = add("note", "add an analyst note to a site (optionally about a device or finding)")
    q.add_argument("site", metavar="SITE")
    q.add_argument("text", metavar="TEXT")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--device", metavar="KEY")
    q.add_argument("--finding", metavar="ID")
    q.add_argument("--by", "--analyst", dest="analyst", metavar="NAME")
    q.set_defaults(handler=cmd_note)

    q = add("notes", "list a site's notes")
    q.add_argument("site", metavar="SITE")
    q.add_argument("--case", metavar="CASE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_notes)


def _help(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def open_store(args: argparse.Namespace) -> Any:
    import os

    from netscan.case.store import CaseStore

    return CaseStore(getattr(args, "store", None) or os.environ.get("NETSCAN_CASE_STORE") or None)


def _site(store: Any, args: argparse.Namespace) -> tuple[str, str]:
    return store.find_site(args.site, getattr(args, "case", None))


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def cmd_create(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        s.create_case(args.name, args.description, args.by)
    _out(f"case {display(args.name)} created")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        rows = s.cases()
    if args.json:
        _json(rows)
        return 0
    for r in rows:
        _out(f"{display(r['name'])}\t{r['sites']} site(s)\tcreated {r['created_at']}")
    return 0


def cmd_site_add(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        s.add_site(args.case, args.site, args.description)
    _out(f"site {display(args.site)} added to case {display(args.case)}")
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        rows = s.sites(args.case)
    if args.json:
        _json(rows)
        return 0
    for r in rows:
        _out(f"{display(r['name'])}\t{r['visits']} visit(s)\t{display(r['description'])}")
    return 0


def cmd_visits(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        case, site = _site(s, args)
        vs = s.visits(case, site)
    if args.json:
        _json([v.__dict__ for v in vs])
        return 0
    for v in vs:
        caps = ", ".join(f"{display(c['path'], 60)} ({c['sha256'][:12]})" for c in v.captures)
        _out(f"visit {v.number}\trecorded {v.recorded_at}\tcaptured {v.captured_from} .. "
             f"{v.captured_to}\tby {display(v.analyst) or '-'}\t{caps}")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        case, site = _site(s, args)
        v = s.visit(case, site, args.visit)
        if args.json:
            _json(s.report(v))
            return 0
        facts = s.facts(v)
    _out(f"case {display(case)}, site {display(site)}, visit {v.number} (recorded "
         f"{v.recorded_at} by {display(v.analyst) or '-'})")  # fmt: skip
    for c in v.captures:
        _out(f"  capture {display(c['path'])} sha256 {c['sha256']} ({c['packets']} packets)")
    _out(f"devices ({len(facts['devices'])}):")
    for d in facts["devices"].values():
        _out(f"  {display(d['key'], 40)}  {display(d['role'], 20)}  "
             f"{display(', '.join(d['ips']), 60)}  {display(d['vendor'] or '', 60)}")  # fmt: skip
    _out(f"findings ({len(facts['findings'])}):")
    for f in facts["findings"].values():
        _out(f"  {f['finding_id']}  {f['level']}  {display(f['device_key'], 40)} -> "
             f"{display(f['destination'], 80)} ({display(f['country'] or '?', 8)})")  # fmt: skip
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from netscan.case.casework import annotate
    from netscan.case.errors import StoreError

    if not (args.json or args.report or args.markdown):
        raise StoreError("give --json, --report or --markdown")
    with open_store(args) as s:
        case, site = _site(s, args)
        v = s.visit(case, site, args.visit)
        report = s.report(v)
        annotate(s, v, report)
    analyst = args.analyst or v.analyst or None
    from netscan.cliargs import langs_of

    langs = langs_of(args)
    if args.json:
        from netscan.report import json_report

        json_report.emit(report, args.json)
    if args.report:
        from netscan.report import html_report

        html_report.write(report, args.report, analyst=analyst, lang=langs)
    if args.markdown:
        from netscan.report import markdown_report

        markdown_report.write(report, args.markdown, analyst=analyst, lang=langs)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from netscan.case.casework import diff

    if len(args.visits) not in (0, 2):
        from netscan.cliargs import UsageError

        raise UsageError("give two visit numbers, or none for the last two")
    with open_store(args) as s:
        case, site = _site(s, args)
        if args.visits:
            va, vb = (s.visit(case, site, n) for n in args.visits)
        else:
            vb = s.visit(case, site)
            prev = s.previous(vb)
            if prev is None:
                from netscan.case.errors import StoreError

                raise StoreError(f"site {site!r} has only one visit: nothing to compare")
            va = prev
        d = diff(s.facts(va), s.facts(vb), va.__dict__, vb.__dict__)
    if args.json:
        _json(d)
        return 0
    _out(f"site {display(site)}: visit {va.number} -> visit {vb.number}")
    print_diff_lines(d)
    return 0


def print_diff_lines(d: dict[str, Any]) -> None:
    if not d["lines"]:
        _out("  no change")
    for line in d["lines"]:
        _out("  " + display(line, 400))


def cmd_override(args: argparse.Namespace) -> int:
    from netscan.case.errors import StoreError

    by = args.analyst or ""
    if args.kind == "finding":
        if not args.status or args.role or args.name or args.manufacturer:
            raise StoreError("a finding override is --status accepted|disputed|resolved")
        sets = [("status", args.status)]
    else:
        if args.status:
            raise StoreError("--status is for findings")
        sets = [(f, getattr(args, f)) for f in ("role", "name", "manufacturer")
                if getattr(args, f) is not None]  # fmt: skip
        if not sets:
            raise StoreError("give --role, --name or --manufacturer")
    with open_store(args) as s:
        case, site = _site(s, args)
        for field, value in sets:
            s.add_override(case, site, args.kind, args.target, field, value, by, args.why)
            _out(f"{args.kind} {display(args.target)}: {field} = {display(value)} "
                 f"(by {display(by)})")  # fmt: skip
    return 0


def cmd_overrides(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        case, site = _site(s, args)
        rows = s.overrides(case, site)
    if args.json:
        _json(rows)
        return 0
    for o in rows:
        _out(f"{o['created_at']}  {o['target_kind']} {display(o['target'], 60)}  {o['field']} = "
             f"{display(o['value'])}  by {display(o['author'])}  why: {display(o['reason'], 400)}")  # fmt: skip
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    by = args.analyst or ""
    kind, target = ("device", args.device) if args.device else (
        ("finding", args.finding) if args.finding else (None, None))  # fmt: skip
    with open_store(args) as s:
        case, site = _site(s, args)
        s.add_note(case, site, args.text, by, kind, target)
    _out("note added")
    return 0


def cmd_notes(args: argparse.Namespace) -> int:
    with open_store(args) as s:
        case, site = _site(s, args)
        rows = s.notes(case, site)
    if args.json:
        _json(rows)
        return 0
    for n in rows:
        about = f" [{n['target_kind']} {display(n['target'], 60)}]" if n["target_kind"] else ""
        _out(f"{n['created_at']}  {display(n['author'])}{about}: {display(n['text'], 4000)}")
    return 0
