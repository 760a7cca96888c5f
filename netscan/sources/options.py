"""``netscan analyze`` options for other sources and outputs: ``--zeek``, ``--zeek-files``,
``--flows``. Kept beside the core CLI so the analyze command gains them in one call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_analyze_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zeek", metavar="DIR",
                   help="read a Zeek log directory (conn, dns, ssl, x509, http, dhcp, files, ...) "
                   "instead of, or besides, capture files")  # fmt: skip
    p.add_argument("--zeek-files", metavar="DIR",
                   help="files Zeek extracted (extract-*-FUID): uploads are checked for faces")  # fmt: skip
    p.add_argument("--flows", metavar="OUT.parquet",
                   help="write every flow as Parquet (addresses, ports, bytes each way, names, ...)")  # fmt: skip


def check(args: argparse.Namespace, error: Callable[[str], Exception]) -> None:
    if not args.files and not args.zeek:
        raise error("give capture files, or a Zeek log directory with --zeek DIR")
    if args.files and args.zeek:
        raise error("give capture files or --zeek DIR, not both (analyse them as two runs)")
    if args.zeek_files and not args.zeek:
        raise error("--zeek-files needs --zeek DIR")
    for opt in ("zeek", "zeek_files"):
        d = getattr(args, opt)
        if d and not Path(d).is_dir():
            raise error(f"--{opt.replace('_', '-')}: not a directory: {d}")
    if args.zeek and args.engine != "core":  # the default is core
        raise error("--engine does not apply to --zeek (the logs are already dissected)")


def run(analyzer: Any, args: argparse.Namespace, progress: Any) -> Any:
    if args.zeek:
        from netscan.sources.zeek import analyze_zeek

        result = analyze_zeek(analyzer, args.zeek, args.zeek_files)
        if not (args.quiet or args.json == "-"):
            print(f"netscan: read {result.zeek_records:,} Zeek log records", file=sys.stderr)
            for note in result.limits:
                print(f"netscan: note: from logs alone, {note}", file=sys.stderr)
        return result
    return analyzer.run(args.files, progress=progress)


def write_outputs(result: Any, args: argparse.Namespace) -> None:
    if getattr(args, "flows", None):
        from netscan.report import flows_parquet

        flows_parquet.write(result, args.flows)
