"""The sites of a fleet audit: a directory with one folder per site, or a manifest (CSV or TOML).

Directory layout::

    SITES/
      fleet.toml            optional fleet defaults: country, premises, analyst, signatures, lang
      shop-001/             the folder name is the site id
        site.toml           optional: name, address, country, premises, analyst, lang, zeek, ...
        *.pcap *.pcapng *.gz *.cap    the site's captures
        zeek/               optional: a Zeek log directory (zeek/extract_files/ for extractions)

Manifest (CSV with a header, or TOML with ``[[site]]`` tables; paths relative to the
manifest)::

    id,name,address,country,premises,captures,zeek,analyst
    shop-001,Sales office 1,"1 Main St",CN,10.1.0.0/16;10.2.0.0/24,shop1/a.pcap;shop1/b.pcap,,A. Auditor

A TOML manifest may carry a ``[defaults]`` table. Per-site settings override the fleet
defaults, which override ``--country``/``--premises``/``--analyst`` given on the command line.
"""

from __future__ import annotations

import csv
import ipaddress
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netscan.countries import CountryError, country_code

SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
MAX_SITES = 100_000
MAX_TEXT = 512  # characters of a name, address or analyst field
FIELDS = ("id", "name", "address", "country", "premises", "captures", "zeek", "zeek_files",
          "analyst", "signatures", "lang")  # fmt: skip


class SitesError(Exception):
    """The fleet's site list is unreadable or says something impossible."""


@dataclass
class Site:
    id: str
    name: str = ""
    address: str = ""
    country: str | None = None
    premises: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)
    zeek: str | None = None
    zeek_files: str | None = None
    analyst: str | None = None
    signatures: str | None = None
    lang: list[str] = field(default_factory=list)  # languages of the site's HTML/Markdown

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(v: Any, what: str, where: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise SitesError(f"{where}: {what} must be text")
    return v.strip()[:MAX_TEXT]


def premises_list(v: Any, where: str) -> list[str]:
    if v in (None, ""):
        return []
    items = v if isinstance(v, list) else re.split(r"[;\s]+", str(v))
    out = []
    for c in items:
        c = str(c).strip()
        if not c:
            continue
        try:
            out.append(str(ipaddress.ip_network(c, strict=False)))
        except ValueError:
            raise SitesError(f"{where}: not a CIDR network: {c!r}") from None
    return out


def _paths(v: Any, base: Path) -> list[str]:
    if v in (None, ""):
        return []
    items = v if isinstance(v, list) else str(v).split(";")
    return [str((base / str(p).strip()).resolve()) for p in items if str(p).strip()]


def _langs(value: Any, where: str) -> list[str]:
    """Report languages (``"zh-CN"``, ``"zh-CN,en"`` or a list), the same check as ``--lang``."""
    if value in (None, "", []):
        return []
    from netscan.i18n import LangError, parse_langs

    if not isinstance(value, str | list):
        raise SitesError(f"{where}: lang must be text or a list")
    try:
        # a CSV manifest separates list items with ';'
        items = [str(v) for v in value] if isinstance(value, list) else value.replace(";", ",")
        return parse_langs(items)
    except LangError as exc:
        raise SitesError(f"{where}: lang: {exc}") from None


def _country(value: str, where: str) -> str:
    """An ISO 3166-1 alpha-2 code (upper case), the same check as ``--country``."""
    if not value:
        return ""
    try:
        return country_code(value)
    except CountryError as exc:
        raise SitesError(f"{where}: country: {exc}") from None


def _site(raw: dict[str, Any], base: Path, defaults: dict[str, Any], where: str) -> Site:
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise SitesError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    sid = _text(raw.get("id"), "id", where)
    if not SITE_ID.match(sid):
        raise SitesError(f"{where}: site id {sid!r} must be 1-64 letters, digits, '.', '_', '-'")
    country = _country(_text(raw.get("country"), "country", where), where) or defaults.get(
        "country"
    )
    zeek = _paths(raw.get("zeek"), base)
    zfiles = _paths(raw.get("zeek_files"), base)
    sig = _paths(raw.get("signatures"), base)
    return Site(
        id=sid,
        name=_text(raw.get("name"), "name", where) or sid,
        address=_text(raw.get("address"), "address", where),
        country=country or None,
        premises=premises_list(raw.get("premises"), where) or list(defaults.get("premises") or []),
        captures=_paths(raw.get("captures"), base),
        zeek=zeek[0] if zeek else None,
        zeek_files=zfiles[0] if zfiles else None,
        analyst=_text(raw.get("analyst"), "analyst", where) or defaults.get("analyst"),
        signatures=sig[0] if sig else defaults.get("signatures"),
        lang=_langs(raw.get("lang"), where) or list(defaults.get("lang") or []),
    )


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SitesError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SitesError(f"{path}: not valid TOML ({exc})") from None


def _defaults(raw: dict[str, Any], base: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key in ("country", "analyst"):
        if raw.get(key):
            out[key] = _text(raw[key], key, where)
    if out.get("country"):
        out["country"] = _country(str(out["country"]), where)
    if raw.get("premises"):
        out["premises"] = premises_list(raw["premises"], where)
    if raw.get("lang"):
        out["lang"] = _langs(raw["lang"], where)
    if raw.get("signatures"):
        out["signatures"] = str(Path(str(raw["signatures"])).expanduser().resolve())
    return out


def load_sites(source: str | Path, defaults: dict[str, Any] | None = None) -> list[Site]:
    """Every site of the fleet, checked (unique ids, readable settings)."""
    src = Path(source)
    defaults = dict(defaults or {})
    if src.is_dir():
        sites = _from_directory(src, defaults)
    elif src.is_file() and src.suffix.lower() == ".csv":
        sites = _from_csv(src, defaults)
    elif src.is_file() and src.suffix.lower() == ".toml":
        sites = _from_toml(src, defaults)
    elif not src.exists():
        raise SitesError(f"{src}: no such directory or manifest")
    else:
        raise SitesError(f"{src}: give a directory of site folders or a .csv/.toml manifest")
    seen: set[str] = set()
    for s in sites:
        if s.id in seen:
            raise SitesError(f"site id {s.id!r} appears twice")
        seen.add(s.id)
        if not s.captures and not s.zeek:
            raise SitesError(f"site {s.id}: no captures and no Zeek logs")
    if not sites:
        raise SitesError(f"{src}: no sites")
    return sites


def _from_directory(root: Path, defaults: dict[str, Any]) -> list[Site]:
    if (root / "fleet.toml").is_file():
        defaults = _defaults(_toml(root / "fleet.toml"), defaults, str(root / "fleet.toml"))
    sites: list[Site] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if len(sites) >= MAX_SITES:
            raise SitesError(f"{root}: more than {MAX_SITES} sites")
        raw: dict[str, Any] = {}
        if (d / "site.toml").is_file():
            raw = _toml(d / "site.toml")
        raw.setdefault("id", d.name)
        if "captures" not in raw:
            raw["captures"] = [
                p.name for p in sorted(d.iterdir())
                if p.name.lower().endswith(CAPTURE_SUFFIXES) and not p.is_dir()
            ]  # fmt: skip
        if "zeek" not in raw and (d / "zeek").is_dir():
            raw["zeek"] = "zeek"
            if "zeek_files" not in raw and (d / "zeek" / "extract_files").is_dir():
                raw["zeek_files"] = "zeek/extract_files"
        sites.append(_site(raw, d, defaults, str(d)))
    return sites


def _from_csv(path: Path, defaults: dict[str, Any]) -> list[Site]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = []
            for i, row in enumerate(reader, start=2):
                if i > MAX_SITES + 1:
                    raise SitesError(f"{path}: more than {MAX_SITES} sites")
                rows.append(
                    (i, {k.strip(): v for k, v in row.items() if k and v not in (None, "")})
                )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SitesError(f"{path}: cannot read ({exc})") from None
    return [_site(r, path.parent, defaults, f"{path}:{i}") for i, r in rows]


def _from_toml(path: Path, defaults: dict[str, Any]) -> list[Site]:
    data = _toml(path)
    defaults = _defaults(data.get("defaults") or {}, defaults, f"{path} [defaults]")
    raw_sites = data.get("site") or []
    if not isinstance(raw_sites, list):
        raise SitesError(f"{path}: [[site]] tables expected")
    return [
        _site(dict(r), path.parent, defaults, f"{path} site #{i + 1}")
        for i, r in enumerate(raw_sites[:MAX_SITES])
    ]
