"""The ``netscan`` command line. Thin: parses options and hands over to the stages."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Sequence
from typing import Any

from netscan import __version__
from netscan.cliargs import (  # the option types and errors every subcommand shares
    EPILOG,
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_keep_duplicates,
    add_lang_option,
    langs_of,
    limits_from_args,
    one_line,
)
from netscan.cliargs import cidr as _cidr
from netscan.cliargs import country as _country
from netscan.cliargs import jobs as _jobs
from netscan.cliargs import positive as _positive

__all__ = ["EPILOG", "EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "UsageError", "add_lang_option",
           "build_parser", "langs_of", "limits_from_args", "main", "one_line"]  # fmt: skip


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # one line: the problem, and where the usage is (the usage itself can span lines)
        message = one_line(" ".join(message.split()))
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--premises", action="append", type=_cidr, metavar="CIDR",
                   help="premises network (repeatable); default: private, link-local and ULA ranges")  # fmt: skip
    p.add_argument("--no-premises-inference", dest="infer_premises", action="store_false",
                   help="do not add the premises ranges the link shows (Router Advertisement and "
                        "DHCPv6 prefixes, addresses of MACs on the local link); only report them")  # fmt: skip
    p.add_argument("--country", metavar="CC", type=_country,
                   help="ISO 3166-1 alpha-2 code of the premises country (e.g. CN), "
                   "for cross-border findings")  # fmt: skip
    p.add_argument("--signatures", metavar="DIR", help="signature pack directory to use")
    p.add_argument("--engine", choices=("core", "tshark"), default="core",
                   help="packet engine: core (default, the Rust packet core) or tshark "
                        "(Wireshark's dissectors, the independent reference)")  # fmt: skip
    p.add_argument("--max-flows", type=_positive, metavar="N", default=None,
                   help="live flows kept at once by the core engine (default: the flows work limit); beyond "
                        "it the idlest are evicted, their counts kept in the report")  # fmt: skip
    add_keep_duplicates(p)
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="raise or lower a work limit (repeatable), e.g. flows=500000, gunzip=8G; "
                   "names: see netscan/limits.py")  # fmt: skip


def build_parser(analyze_only: bool = False) -> argparse.ArgumentParser:
    """The command line's parser. ``analyze_only``: for a command line that starts with
    ``analyze``, without the other subcommands (their modules are not needed to run it)."""
    parser = _Parser(
        prog="netscan",
        description="Find cameras, NVRs and face-recognition terminals on a premises network, "
        "and the devices that send face data off-site.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netscan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    an = sub.add_parser("analyze", help="analyse capture files (pcap, pcapng, gzip)",
                        description="Analyse capture files and print the premises inventory.",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    an.add_argument("files", nargs="*", metavar="FILE", help="capture files, merged by time")
    _add_analysis_options(an)
    from netscan.sources.options import add_analyze_options  # --zeek, --zeek-files, --flows

    add_analyze_options(an)
    an.add_argument("--json", metavar="OUT", help="write the JSON report to OUT ('-' for stdout)")
    an.add_argument("--report", metavar="OUT.html", help="write the HTML report")
    an.add_argument("--markdown", metavar="OUT.md", help="write the Markdown report")
    an.add_argument("--analyst", metavar="NAME", help="analyst name for the chain of custody")
    add_lang_option(an)
    an.add_argument("--fail-on", choices=("possible", "likely", "confirmed"),
                    help="exit 1 when a finding at or above this level exists")  # fmt: skip
    an.add_argument("--keep-evidence", metavar="DIR",
                    help="write carved face images into DIR (never written otherwise)")  # fmt: skip
    an.add_argument("--jobs", "-j", type=_jobs, default="auto", metavar="N",
                    help="above 1: the packet core runs in a thread of its own, ahead of "
                         "the analysis (the same report); auto (default): 2 where two "
                         "CPUs are available, else 1")  # fmt: skip
    an.add_argument("--quiet", "-q", action="store_true", help="no summary on the terminal")
    an.add_argument("--marks", metavar="FILE",
                    help="walk-test marks (the TUI's .marks.json, or a JSON list of capture "
                    "times): each uploading device judged against its base rate in the reports")  # fmt: skip
    an.add_argument("--mark-window", type=float, metavar="SECONDS",
                    help="seconds after a mark judged (default: the marks file's, else 30)")  # fmt: skip
    an.add_argument("--case", metavar="NAME",
                    help="record this analysis as a visit of --site in case NAME (case store)")  # fmt: skip
    an.add_argument("--site", metavar="SITE", help="the site visited (with --case)")
    an.add_argument("--store", metavar="PATH|URL",
                    help="case store: SQLite file or postgresql://… (default under XDG data)")  # fmt: skip

    if analyze_only:
        return parser
    # every subcommand is part of netscan: a module that does not import is a broken install,
    # and must say so (a traceback), never make its subcommand quietly vanish
    from netscan import live_cli
    from netscan.case import cli as case_cli
    from netscan.fleet import cli as fleet_cli
    from netscan.report import evidence_cli
    from netscan.signatures import cli as sig_cli
    from netscan.tui import cli as tui_cli

    for module in (sig_cli, evidence_cli, tui_cli, live_cli, fleet_cli, case_cli):
        module.add_parser(sub)
    return parser


def _read_marks(args: argparse.Namespace) -> tuple[list[tuple[int, float, str]], float]:
    """The walk-test marks of ``--marks`` (read, and checked, before the analysis runs);
    without marks, none (and no window: nothing is judged)."""
    window = getattr(args, "mark_window", None)
    if window is not None and not (0 < window < 86_400):
        raise UsageError("--mark-window must be between 0 and 86400 seconds")
    if not getattr(args, "marks", None):
        if window is not None:
            raise UsageError("--mark-window goes with --marks")
        return [], 0.0
    from netscan.report import walk_section

    try:
        marks, file_window = walk_section.read_marks(args.marks)
    except walk_section.MarksError as exc:
        raise UsageError(f"--marks: {exc}") from None
    return marks, window or file_window or walk_section.DEFAULT_WINDOW


def cmd_analyze(args: argparse.Namespace) -> int:
    from netscan.analyze import Analyzer, Options
    from netscan.output.summary import print_summary, progress_bar
    from netscan.report import json_report

    if bool(args.case) != bool(args.site):
        raise UsageError("--case and --site go together")
    from netscan.sources import options as source_options

    source_options.check(args, UsageError)
    marks, window = _read_marks(args)
    store = None
    if args.case:
        from netscan.case.cli import open_store

        store = open_store(args)  # opened (and checked) before the analysis runs
    opts = Options(
        premises=args.premises,
        engine=args.engine,
        signatures=args.signatures,
        country=args.country,
        jobs=args.jobs,
        keep_duplicates=args.keep_duplicates,
        keep_evidence=args.keep_evidence,
        analyst=args.analyst,
        limits=limits_from_args(args),
        max_flows=getattr(args, "max_flows", None),
        infer_premises=getattr(args, "infer_premises", True),
    )
    analyzer = Analyzer(opts)
    quiet = args.quiet or args.json == "-"
    with progress_bar(enabled=not quiet and sys.stderr.isatty()) as progress:
        result = source_options.run(analyzer, args, progress)
    # the interpreter's last collections at exit would walk every object of the analysis
    # (a tenth of the stress mix's run) only to free them; frozen, they are just freed
    atexit.unregister(gc.freeze)  # once, however many analyses a process runs
    atexit.register(gc.freeze)
    report = json_report.build(result)
    if marks:
        from netscan.report import walk_section

        walk_section.attach(report, result, marks, window)
    store_error: Exception | None = None
    if store is not None:
        # recorded before the reports are written, so they carry the case section; a store
        # that fails now costs the case record, never the reports
        store_error = _record_visit(store, args, report)
    # the reports first: nothing displayed afterwards can lose them
    langs = langs_of(args)
    if args.json:
        json_report.emit(report, args.json)
    if args.report:
        from netscan.report import html_report

        html_report.write(report, args.report, analyst=args.analyst, lang=langs)
    if args.markdown:
        from netscan.report import markdown_report

        markdown_report.write(report, args.markdown, analyst=args.analyst, lang=langs)
    source_options.write_outputs(result, args)
    from netscan.untrusted import TEXT_LIMIT, display

    for w in result.warnings:
        print(f"netscan: warning: {display(w, TEXT_LIMIT)}", file=sys.stderr)
    if not quiet:
        from netscan import i18n

        with i18n.use(langs[0]):
            print_summary(result)
            if "case" in report:
                from netscan.report.case_section import terminal_lines

                print("\n".join(terminal_lines(report)))
    if store_error is not None:
        raise store_error
    if args.fail_on:
        from netscan.analysis.finding import level_rank

        worst = max((f.level.rank for f in result.findings), default=0)
        if worst >= level_rank(args.fail_on):
            return EXIT_FINDINGS
    return EXIT_OK


def _record_visit(store: Any, args: argparse.Namespace, report: dict[str, Any]) -> Exception | None:
    """Record the analysis as a visit (adds the case section to ``report``); the error, if
    the store failed, to raise once the reports are written."""
    import sqlalchemy

    from netscan.case.casework import record
    from netscan.case.errors import StoreError

    try:
        with store:
            record(store, args.case, args.site, report, analyst=args.analyst or "")
    except StoreError as exc:
        return exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return StoreError(f"the visit was not recorded in the case store: {first}")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # what argparse's version action prints, without importing every subcommand
        print(f"netscan {__version__}")
        return EXIT_OK
    given = list(sys.argv[1:] if argv is None else argv)
    # an analysis needs none of the other subcommands' modules (each loads its own stack)
    parser = build_parser(analyze_only=given[:1] == ["analyze"])
    args = parser.parse_args(argv)
    if not args.command:
        print("netscan: error: missing command (analyze, evidence, tui, capture, interfaces, "
              "signatures; see 'netscan --help')", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    from netscan.case.errors import StoreError
    from netscan.engine import EngineError
    from netscan.settings import SettingsError, apply, load_settings
    from netscan.signatures.pack import PackError
    from netscan.sources.pcapfile import CaptureError

    try:
        apply(args, load_settings())
        if args.command == "analyze":
            return cmd_analyze(args)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_USAGE
        return int(handler(args))
    except (CaptureError, UsageError, PackError, SettingsError, EngineError, StoreError) as exc:
        print(f"netscan: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("netscan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"netscan: error: {one_line(where + str(exc.strerror or exc))}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
