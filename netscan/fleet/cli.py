"""``netscan fleet SITES --out DIR``: one audit over many premises, on Dask distributed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from netscan.untrusted import display


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fleet",
        help="audit many premises at once on a Dask cluster; one fleet report",
        description="Analyse every site of a fleet (a directory with one folder per site, or a "
        "CSV/TOML manifest) as tasks on Dask distributed, and write each site's reports plus "
        "a fleet report under --out. Finished sites are not re-analysed unless their inputs "
        "or the signature pack changed.",
    )
    p.add_argument(
        "sites", metavar="SITES", help="directory of site folders, or manifest .csv/.toml"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="existing Dask scheduler (tcp://HOST:PORT or a scheduler file); "
                   "default: a local cluster")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local cluster (default 2)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="re-analyse every site")
    p.add_argument("--no-flows", action="store_true",
                   help="do not write the flows dataset (OUT/flows/site=ID/flows.parquet)")  # fmt: skip
    p.add_argument("--country", metavar="CC", help="fleet default country of the premises")
    p.add_argument("--premises", action="append", metavar="CIDR", help="fleet default premises")
    p.add_argument("--analyst", metavar="NAME", help="fleet default analyst")
    p.add_argument("--signatures", metavar="DIR", help="signature pack directory to use")
    p.add_argument("--fail-on", choices=("possible", "likely", "confirmed"),
                   help="exit 1 when any site has a finding at or above this level")  # fmt: skip
    from netscan.cliargs import add_lang_option

    add_lang_option(p, "site reports (fleet default)")
    p.set_defaults(handler=cmd_fleet)


def cmd_fleet(args: argparse.Namespace) -> int:
    from netscan.cliargs import UsageError
    from netscan.fleet import report as fleet_report
    from netscan.fleet.runner import FleetError, FleetRun, Progress, run_fleet
    from netscan.fleet.sites import SitesError, load_sites, premises_list

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    defaults: dict[str, Any] = {}
    if args.country:
        from netscan.countries import CountryError, country_code

        try:
            defaults["country"] = country_code(args.country)
        except CountryError as exc:
            raise UsageError(f"--country: {exc}") from None
    if args.premises:
        try:
            defaults["premises"] = premises_list(args.premises, "--premises")
        except SitesError as exc:
            raise UsageError(str(exc)) from None
    if args.analyst:
        defaults["analyst"] = args.analyst
    if getattr(args, "lang", None):
        defaults["lang"] = list(args.lang)
    if args.signatures:
        defaults["signatures"] = str(Path(args.signatures).resolve())
    try:
        sites = load_sites(args.sites, defaults)
    except SitesError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: not a directory: {out}")
    run = FleetRun(out=out, scheduler=args.scheduler, workers=args.workers, force=args.force,
                   flows=not args.no_flows, signatures=defaults.get("signatures"))  # fmt: skip
    try:
        run_fleet(sites, run, Progress(len(sites), sys.stderr))
    except FleetError as exc:
        raise UsageError(str(exc)) from None
    fleet = fleet_report.build(out, sites, run.states, {
        "seconds": round(run.seconds, 3), "cluster": run.cluster, "packets": run.packets,
        "workers": args.workers if not args.scheduler else None,
    })  # fmt: skip
    j, h = fleet_report.write(out, fleet, (getattr(args, "lang", None) or [None])[0])
    t = fleet["totals"]
    print(f"fleet: {t['sites']} sites, {t['analysed']} analysed, {t['unchanged']} unchanged, "
          f"{t['failed']} failed; {t['findings']} findings; report {h}")  # fmt: skip
    for r in fleet["sites"]:
        if r["status"] == "failed":
            print(f"  failed: {display(r['id'])}: {display(r['reason'], 300)}")
    if args.fail_on:
        order = {"possible": 1, "likely": 2, "confirmed": 3}
        worst = max((order.get(r["worst"] or "", 0) for r in fleet["sites"]), default=0)
        if worst >= order[args.fail_on]:
            return 1
    return 0
