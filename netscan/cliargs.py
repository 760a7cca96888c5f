"""What every ``netscan`` subcommand shares on its command line: exit codes, the usage
error, option types and the language and limits options. Below the command modules (``cli``
and each subcommand's own), so that none of them needs another's."""

from __future__ import annotations

import argparse
import ipaddress
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netscan.limits import Limits

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

EPILOG = """exit codes:
  0  analysed (and, with --fail-on, no finding at or above that level)
  1  --fail-on: a finding at or above the level was found
  2  bad usage or unreadable input
"""


class UsageError(Exception):
    """A problem with what the user asked for: one line on stderr, exit 2."""


def positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a positive number: {value!r}")
    return n


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def jobs(value: str) -> int:
    """``--jobs``: a positive number, or ``auto``: 2 where two CPUs are available, else 1
    (past 2 there is nothing more to run at once: one thread reads and parses, one
    replays into the analysis)."""
    if value.strip().lower() == "auto":
        return 2 if available_cpus() >= 2 else 1
    try:
        return positive(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not a positive number or auto: {value!r}") from None


def cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a CIDR network: {value!r}") from None


def country(value: str) -> str:
    from netscan.countries import CountryError, country_code

    try:
        return country_code(value)
    except CountryError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def langs(value: str) -> list[str]:
    from netscan.i18n import LangError, parse_langs

    try:
        return parse_langs(value)
    except LangError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_keep_duplicates(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-duplicates", action="store_true",
                   help="analyse every frame, also a copy of one just before it (the same "
                        "bytes, or the same IP packet under another link header; by default "
                        "such copies, which a mirror port makes of a packet it sees twice, are "
                        "counted and analysed once)")  # fmt: skip


def add_lang_option(p: argparse.ArgumentParser, what: str = "reports and summary") -> None:
    """``--lang``: the language of the human-readable outputs (the JSON stays neutral)."""
    p.add_argument("--lang", type=langs, metavar="LANG", default=None,
                   help=f"language of the {what}: en or zh-CN (default: the 'lang' setting, "
                   "else en); several, e.g. zh-CN,en, make the HTML report switchable")  # fmt: skip


def langs_of(args: argparse.Namespace) -> list[str]:
    """The languages asked for (``--lang``, else the settings), the first one the main one."""
    from netscan.i18n import DEFAULT

    return list(getattr(args, "lang", None) or [DEFAULT])


def limits_from_args(args: argparse.Namespace) -> Limits:
    """The run's work limits: defaults, $NETSCAN_LIMITS, then ``--limit`` options."""
    from netscan.limits import LimitError, from_env

    try:
        return from_env(getattr(args, "limit", None) or ())
    except LimitError as exc:
        raise UsageError(str(exc)) from None


def one_line(text: str) -> str:
    """``text`` on one line, as the one rule for untrusted text shows it (error messages
    quote file names, hosts and exception texts)."""
    from netscan.untrusted import TEXT_LIMIT, display

    return display(text, TEXT_LIMIT)
