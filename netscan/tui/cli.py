"""``netscan tui``: the interactive view. Thin: parses options and starts the app."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any


def add_parser(subparsers: Any) -> None:
    from netscan.cli import EPILOG, _add_analysis_options

    p = subparsers.add_parser(
        "tui",
        help="interactive view of capture files or a live capture",
        description="Show devices, findings and the device graph while the analysis runs; "
        "mark moments of a walk test with m.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="capture files, merged by time")
    p.add_argument("-i", "--interface", metavar="IFACE", help="capture live from IFACE")
    _add_analysis_options(p)
    p.add_argument("--mark-window", type=float, default=30.0, metavar="SECONDS",
                   help="uploads this soon after a mark count as following it (default 30)")  # fmt: skip
    p.add_argument("--export-dir", default=".", metavar="DIR",
                   help="default directory for exports (default: the current one)")  # fmt: skip
    p.add_argument("--evidence", metavar="DIR",
                   help="with -i: evidence directory for the capture ring "
                   "(default evidence-YYYYmmdd-HHMMSS)")  # fmt: skip
    p.add_argument("--bpf", metavar="FILTER", help="with -i: capture filter (BPF syntax)")
    p.add_argument("--ring-size", type=float, default=100.0, metavar="MB",
                   help="with -i: start a new evidence file at this size (default 100 MB)")  # fmt: skip
    p.add_argument("--ring-files", type=int, default=0, metavar="N",
                   help="with -i: keep only the newest N evidence files (default 0: all)")  # fmt: skip
    p.add_argument("--case", metavar="NAME", help="case for analyst overrides (key o)")
    p.add_argument("--site", metavar="SITE", help="site for analyst overrides (with --case)")
    p.add_argument("--store", metavar="PATH|URL", help="case store (default under XDG data)")
    p.add_argument("--analyst", metavar="NAME", help="analyst name for overrides")
    from netscan.cliargs import add_lang_option

    add_lang_option(p, "TUI and its exported reports")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from netscan.analyze import Options
    from netscan.cliargs import EXIT_OK, UsageError, langs_of, limits_from_args
    from netscan.sources.pcapfile import CaptureFile

    if not args.files and not args.interface:
        raise UsageError("give capture files or -i IFACE")
    if args.files and args.interface:
        raise UsageError("give capture files or -i IFACE, not both")
    live = None
    if args.interface:
        from netscan.sources import live
    for path in args.files:  # fail here, on the terminal, rather than inside the app
        CaptureFile(path).close()
    if args.mark_window <= 0:
        raise UsageError("--mark-window must be positive")
    if bool(args.case) != bool(args.site):
        raise UsageError("--case and --site go together")
    case = None
    if args.case:
        import os

        case = {"store": args.store or os.environ.get("NETSCAN_CASE_STORE") or None,
                "case": args.case, "site": args.site, "analyst": args.analyst or ""}  # fmt: skip
        from netscan.case.store import CaseStore

        with CaseStore(case["store"]) as store:  # checked (and migrated) before the app starts
            store.ensure_site(args.case, args.site)
    options = Options(
        premises=args.premises,
        engine=args.engine,
        signatures=args.signatures,
        country=args.country,
        analyst=getattr(args, "analyst", None),  # from the settings file, for exports
        limits=limits_from_args(args),
        keep_duplicates=args.keep_duplicates,
    )
    from netscan.analyze import check_engine

    check_engine(args.engine)  # fail here, on the terminal, rather than inside the app
    from netscan.tui.app import NetscanApp

    app = NetscanApp(
        args.files,
        options=options,
        iface=args.interface,
        live_module=live,
        mark_window=args.mark_window,
        export_dir=args.export_dir,
        evidence_dir=args.evidence or datetime.now().strftime("evidence-%Y%m%d-%H%M%S"),
        capture_options={
            "bpf": args.bpf,
            "ring_size_mb": args.ring_size,
            "ring_files": args.ring_files,
        },  # fmt: skip
        case=case,
        lang=langs_of(args),
    )
    from netscan.tui.terminal import own_terminal

    with own_terminal():  # C libraries' writes to stderr kept off the screen
        code = app.run()
    return EXIT_OK if code is None else int(code)
