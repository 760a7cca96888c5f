"""Premises settings: defaults for the options an auditor would otherwise type every time.

A TOML file with any of these keys::

    country = "CN"                          # ISO 3166-1 alpha-2 code of the premises country
    premises = ["10.20.0.0/16", "192.168.8.0/24"]   # the premises networks
    analyst = "A. Auditor"                  # for the report's chain of custody
    signatures = "/path/to/pack"            # a signature pack (relative: to this file)
    lang = "zh-CN"                          # reports, summary and TUI: en or zh-CN; "zh-CN,en"
                                            # also makes the HTML report switchable to English

It is read from ``$NETSCAN_SETTINGS``, else ``./netscan.toml``, else
``$XDG_CONFIG_HOME/netscan/settings.toml`` (default ``~/.config/netscan/settings.toml``).
Options given on the command line always win.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

from netscan.countries import CountryError, country_code

KEYS = {"country": str, "premises": list, "analyst": str, "signatures": str, "lang": str}


class SettingsError(Exception):
    """The settings file is unreadable or says something impossible."""


def settings_path() -> Path | None:
    env = os.environ.get("NETSCAN_SETTINGS")
    if env:
        return Path(env).expanduser()
    local = Path("netscan.toml")
    if local.is_file():
        return local
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = base / "netscan" / "settings.toml"
    return user if user.is_file() else None


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """The settings, checked; an empty dict when there is no file."""
    path = path or settings_path()
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = KEYS.get(key)
        if kind is None:
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(KEYS)})")
        if not isinstance(value, kind):
            raise SettingsError(f"{path}: {key} must be a {kind.__name__}")
        out[key] = value
    if "premises" in out:
        try:
            out["premises"] = [str(ipaddress.ip_network(c, strict=False)) for c in out["premises"]]
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{path}: premises: {exc}") from None
    if "country" in out:
        try:
            out["country"] = country_code(out["country"])
        except CountryError as exc:
            raise SettingsError(f"{path}: country: {exc}") from None
    if "lang" in out:
        from netscan.i18n import LangError, parse_langs

        try:
            out["lang"] = parse_langs(out["lang"])
        except LangError as exc:
            raise SettingsError(f"{path}: lang: {exc}") from None
    if "signatures" in out:  # a relative pack path is relative to the settings file
        pack = Path(out["signatures"]).expanduser()
        out["signatures"] = str(pack if pack.is_absolute() else path.parent / pack)
    out["_path"] = str(path)
    return out


def apply(args: Any, settings: dict[str, Any]) -> None:
    """Fill options the command line left unset from the settings.

    The one settings resolution for every subcommand: an option a subcommand does not
    define on its command line (or defines without a default, as ``signatures`` does for
    ``--signatures``) is still filled in, so every subcommand sees the same settings."""
    applied: dict[str, str] = {}
    for key in KEYS:
        if key in settings and getattr(args, key, None) in (None, []):
            setattr(args, key, settings[key])
            applied[key] = settings.get("_path", "settings")
    args.from_settings = applied
