"""The case store: cases, sites, visits, captures, inventories, findings, notes, overrides.

SQLite by default (one file, ``0600`` in a ``0700`` directory under
``$XDG_DATA_HOME/netscan``), PostgreSQL when given a ``postgresql://`` URL. The schema is
``netscan.case.schema``; Alembic migrations bring any store up to date when it is opened.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from netscan import util
from netscan.analysis.finding import report_findings
from netscan.case import schema as t
from netscan.case.errors import StoreError
from netscan.safefile import UnsafePathError, _make_dirs

DEVICE_FIELDS = ("role", "name", "manufacturer")
FINDING_STATUSES = ("accepted", "disputed", "resolved")
MAX_TEXT = 4000  # analyst text (notes, reasons) is bounded
VISIT_RETRIES = 5
MIGRATION_LOCK_KEY = 0x6E657473  # "nets": the advisory lock serialising migrations
_MIGRATE_LOCK = threading.Lock()


def now_iso() -> str:
    return util.now_iso()


def default_store_path() -> Path:
    from netscan.signatures.store import data_home

    return data_home() / "netscan" / "cases.sqlite"


def _prepare_sqlite_file(path: Path) -> None:
    """The database file: created 0600 in a 0700 directory; an existing one must be the
    user's own and not readable by others (it holds captured names and addresses)."""
    parent = path.parent
    if not os.path.lexists(parent):
        _make_dirs(parent)
    st = os.stat(parent)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise UnsafePathError(parent, "case store directory belongs to another user or is "
                              "writable by others; refusing to keep a case store there")  # fmt: skip
    if os.path.islink(path):
        raise UnsafePathError(path, "case store is a symbolic link; refusing to follow it")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)  # fmt: skip
        os.close(fd)
        return
    except FileExistsError:
        pass
    st = os.stat(path, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(path, "case store is not a regular file")
    if st.st_uid != os.geteuid():
        raise UnsafePathError(path, "case store belongs to another user")
    if st.st_mode & 0o077:
        raise UnsafePathError(path, f"case store is readable or writable by others (mode "
                              f"{stat.S_IMODE(st.st_mode):o}); chmod 600 it")  # fmt: skip


def make_engine(store: str | None) -> Engine:
    """An engine for ``store``: None (the default SQLite file), a path, ``sqlite:///…`` or
    ``postgresql://…`` (driven by psycopg 3)."""
    if store and store.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        url = sa.make_url(store.replace("postgres://", "postgresql://", 1))
        url = url.set(drivername="postgresql+psycopg")
        return sa.create_engine(url, future=True, pool_pre_ping=True)
    if store and store.startswith("sqlite:///"):
        path = Path(store[len("sqlite:///") :])
    elif store and "://" in store:
        raise StoreError(f"unsupported case store {store.split('://')[0]!r}: give a file path, "
                         "sqlite:///PATH or postgresql://…")  # fmt: skip
    else:
        path = Path(store) if store else default_store_path()
    _prepare_sqlite_file(path)
    engine = sa.create_engine(f"sqlite:///{path}", future=True)

    @sa.event.listens_for(engine, "connect")
    def _fk(dbapi_conn: Any, _rec: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    # Alembic's migration context is process-global: one migration at a time per process,
    # and on PostgreSQL one at a time per database (an advisory lock held by the transaction)
    with _MIGRATE_LOCK, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _bounded(text: str | None, what: str) -> str:
    text = text or ""
    if len(text) > MAX_TEXT:
        raise StoreError(f"{what} is longer than {MAX_TEXT} characters")
    return text


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


@dataclass
class Visit:
    id: int
    case: str
    site: str
    number: int
    recorded_at: str
    analyst: str
    captured_from: str | None
    captured_to: str | None
    captures: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return f"visit {self.number}"


# -- what a report says, reduced to what visits are compared on ---------------------------


def _dest_label(names: list[str] | None, ip: str, provider: str | None = None) -> str:
    if names:
        return str(names[0])
    return str(provider or ip)


def _evidence_ref(e: dict[str, Any]) -> dict[str, Any]:
    """An evidence line kept for the case: where, what (English) and how it was made."""
    out = {"file": e.get("file", ""), "frame": e.get("frame"), "what": e.get("what", "")}
    if isinstance(e.get("what_part"), dict):
        out["what_part"] = e["what_part"]
    return out


def report_facts(report: dict[str, Any]) -> dict[str, Any]:
    """Devices, off-site destinations and findings of one report, keyed for comparison."""
    devices: dict[str, dict[str, Any]] = {}
    for d in report.get("devices", []):
        devices[str(d["key"])] = {
            "key": str(d["key"]),
            "mac": d.get("mac"),
            "ips": list(d.get("ips") or []),
            "vendor": d.get("vendor"),
            "model": d.get("model"),
            "hostnames": list(d.get("hostnames") or []),
            "role": d.get("role") or "unknown",
            "role_confidence": d.get("role_confidence"),
            "evidence": [
                _evidence_ref(e) for e in (d.get("evidence") or [])[:3] if isinstance(e, dict)
            ],
        }
    endpoints = {e["ip"]: e for e in report.get("endpoints", [])}
    dests: dict[tuple[str, str], dict[str, Any]] = {}
    for f in report.get("flows", []):
        ep = endpoints.get(f.get("ip") or "")
        if ep is None or not f.get("device"):
            continue
        key = (str(f["device"]), _dest_label(ep.get("names"), ep["ip"], ep.get("provider")))
        row = dests.get(key)
        if row is None:
            row = dests[key] = {
                "device_key": key[0],
                "label": key[1],
                "ip": ep["ip"],
                "country": ep.get("country"),
                "org": ep.get("org"),
                "category": ep.get("category"),
                "bytes_up": 0,
                "bytes_down": 0,
                "file": f.get("file", ""),
                "first_frame": f.get("first_frame"),
            }
        row["bytes_up"] += int(f.get("bytes_up") or 0)
        row["bytes_down"] += int(f.get("bytes_down") or 0)
    findings: dict[str, dict[str, Any]] = {}
    for f in report_findings(report):
        dest = f.destination
        findings[f.id] = {
            "finding_id": f.id,
            "kind": f.kind,
            "level": f.level.value,
            "device_key": f.device,
            "destination": dest.label,
            "country": dest.operator_country or dest.ip_country,
            "bytes_up": f.bytes_up,
            "reason": f.reason,
            "evidence": [_evidence_ref(e) for e in f.evidence[:3]],
        }
    return {"devices": devices, "destinations": list(dests.values()), "findings": findings}


class CaseStore:
    """One open case store. Every method is one transaction."""

    def __init__(self, store: str | None = None) -> None:
        self.url = store
        try:
            self.engine = make_engine(store)
            migrate(self.engine)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the case store: {str(exc.orig).splitlines()[0]}") \
                from None  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- cases and sites ----------------------------------------------------------------

    def create_case(self, name: str, description: str = "", by: str = "") -> int:
        name = name.strip()
        if not name or len(name) > 200:
            raise StoreError("a case name is 1 to 200 characters")
        with self._tx() as c:
            if c.execute(sa.select(t.cases.c.id).where(t.cases.c.name == name)).first():
                raise StoreError(f"case {name!r} already exists")
            res = c.execute(t.cases.insert().values(name=name, created_at=now_iso(),
                            description=_bounded(description, "description"), created_by=by))  # fmt: skip
            return int(res.inserted_primary_key[0])

    def _case_id(self, c: Connection, name: str, create: bool = False) -> int:
        row = c.execute(sa.select(t.cases.c.id).where(t.cases.c.name == name)).first()
        if row:
            return int(row[0])
        if not create:
            raise StoreError(f"no case named {name!r} (netscan case create {name!r})")
        res = c.execute(t.cases.insert().values(name=name, created_at=now_iso(), description="",
                                                created_by=""))  # fmt: skip
        return int(res.inserted_primary_key[0])

    def _site_id(self, c: Connection, case: str, site: str, create: bool = False) -> int:
        cid = self._case_id(c, case, create)
        row = c.execute(sa.select(t.sites.c.id).where(t.sites.c.case_id == cid,
                                                      t.sites.c.name == site)).first()  # fmt: skip
        if row:
            return int(row[0])
        if not create:
            raise StoreError(f"no site {site!r} in case {case!r} (netscan case site-add)")
        site = site.strip()
        if not site or len(site) > 200:
            raise StoreError("a site name is 1 to 200 characters")
        res = c.execute(t.sites.insert().values(case_id=cid, name=site, description="",
                                                created_at=now_iso()))  # fmt: skip
        return int(res.inserted_primary_key[0])

    def add_site(self, case: str, site: str, description: str = "") -> int:
        with self._tx() as c:
            cid = self._case_id(c, case)
            if c.execute(sa.select(t.sites.c.id).where(t.sites.c.case_id == cid,
                                                       t.sites.c.name == site)).first():  # fmt: skip
                raise StoreError(f"site {site!r} already exists in case {case!r}")
            sid = self._site_id(c, case, site, create=True)
            c.execute(t.sites.update().where(t.sites.c.id == sid)
                      .values(description=_bounded(description, "description")))  # fmt: skip
            return sid

    def ensure_site(self, case: str, site: str) -> None:
        """Create the case and the site when they do not exist yet."""
        with self._tx() as c:
            self._site_id(c, case, site, create=True)

    def cases(self) -> list[dict[str, Any]]:
        with self._tx() as c:
            q = (
                sa.select(t.cases, sa.func.count(t.sites.c.id).label("sites"))
                .select_from(t.cases.outerjoin(t.sites))
                .group_by(t.cases.c.id)
                .order_by(t.cases.c.name)
            )
            return [dict(r._mapping) for r in c.execute(q)]

    def sites(self, case: str) -> list[dict[str, Any]]:
        with self._tx() as c:
            cid = self._case_id(c, case)
            q = (
                sa.select(t.sites, sa.func.count(t.visits.c.id).label("visits"))
                .select_from(t.sites.outerjoin(t.visits))
                .where(t.sites.c.case_id == cid)
                .group_by(t.sites.c.id)
                .order_by(t.sites.c.name)
            )
            return [dict(r._mapping) for r in c.execute(q)]

    # -- visits -----------------------------------------------------------------------

    def record_visit(self, case: str, site: str, report: dict[str, Any],
                     analyst: str = "") -> Visit:  # fmt: skip
        """Store one analysis (its JSON report) as the site's next visit; the case and the
        site are created when new. Two analysts recording the same site at once each get
        their own visit number (the loser of the race tries again)."""
        for attempt in range(VISIT_RETRIES):
            try:
                return self._record_visit(case, site, report, analyst)
            except sa.exc.IntegrityError:
                if attempt == VISIT_RETRIES - 1:
                    raise StoreError("the visit could not be numbered: other visits of this "
                                     "site were being recorded at the same time") from None  # fmt: skip
        raise AssertionError("unreachable")

    def _record_visit(self, case: str, site: str, report: dict[str, Any], analyst: str) -> Visit:
        facts = report_facts(report)
        inputs = report.get("inputs", [])
        firsts = [i["first_ts"] for i in inputs if i.get("first_ts")]
        lasts = [i["last_ts"] for i in inputs if i.get("last_ts")]
        pack = report.get("signatures") or {}
        with self._tx() as c:
            sid = self._site_id(c, case, site, create=True)
            number = int(c.execute(sa.select(sa.func.coalesce(sa.func.max(t.visits.c.number), 0))
                                   .where(t.visits.c.site_id == sid)).scalar_one()) + 1  # fmt: skip
            vid = int(c.execute(t.visits.insert().values(
                site_id=sid, number=number, recorded_at=now_iso(), analyst=analyst or "",
                captured_from=min(firsts) if firsts else None,
                captured_to=max(lasts) if lasts else None,
                netscan_version=str(report.get("netscan_version", "")),
                pack_version=pack.get("pack_version"), pack_commit=pack.get("commit"),
                country=report.get("country"),
                summary=json.dumps(report.get("summary", {}), sort_keys=True),
                report=json.dumps(report, sort_keys=True),
            )).inserted_primary_key[0])  # fmt: skip
            if inputs:
                c.execute(t.captures.insert(), [
                    {"visit_id": vid, "sha256": i.get("sha256", ""), "path": i.get("path", ""),
                     "size": int(i.get("size") or 0), "packets": int(i.get("packets") or 0),
                     "first_ts": i.get("first_ts"), "last_ts": i.get("last_ts")}
                    for i in inputs
                ])  # fmt: skip
            if facts["devices"]:
                c.execute(t.devices.insert(), [
                    {"visit_id": vid, "key": d["key"], "mac": d["mac"],
                     "ips": json.dumps(d["ips"]), "vendor": d["vendor"], "model": d["model"],
                     "hostnames": json.dumps(d["hostnames"]), "role": d["role"],
                     "role_confidence": d["role_confidence"],
                     "evidence": json.dumps(d["evidence"])}
                    for d in facts["devices"].values()
                ])  # fmt: skip
            if facts["destinations"]:
                c.execute(t.destinations.insert(),
                          [{"visit_id": vid, **d} for d in facts["destinations"]])  # fmt: skip
            if facts["findings"]:
                c.execute(t.findings.insert(), [
                    {"visit_id": vid, **{k: v for k, v in f.items() if k != "evidence"},
                     "evidence": json.dumps(f["evidence"])}
                    for f in facts["findings"].values()
                ])  # fmt: skip
        return self.visit(case, site, number)

    def visits(self, case: str, site: str) -> list[Visit]:
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            rows = c.execute(sa.select(t.visits).where(t.visits.c.site_id == sid)
                             .order_by(t.visits.c.number)).all()  # fmt: skip
            return [self._visit(c, case, site, r._mapping) for r in rows]

    def _visit(self, c: Connection, case: str, site: str, r: Any) -> Visit:
        caps = c.execute(sa.select(t.captures).where(t.captures.c.visit_id == r["id"])
                         .order_by(t.captures.c.id)).all()  # fmt: skip
        return Visit(
            id=int(r["id"]), case=case, site=site, number=int(r["number"]),
            recorded_at=r["recorded_at"], analyst=r["analyst"],
            captured_from=r["captured_from"], captured_to=r["captured_to"],
            captures=[{k: v for k, v in x._mapping.items() if k not in ("id", "visit_id")}
                      for x in caps],
        )  # fmt: skip

    def visit(self, case: str, site: str, number: int | None = None) -> Visit:
        """Visit ``number`` of the site (the newest when None)."""
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            q = sa.select(t.visits).where(t.visits.c.site_id == sid)
            q = (q.where(t.visits.c.number == number) if number is not None
                 else q.order_by(t.visits.c.number.desc()).limit(1))  # fmt: skip
            row = c.execute(q).first()
            if row is None:
                what = f"visit {number}" if number is not None else "no visit"
                raise StoreError(f"{what} of site {site!r} in case {case!r} not found")
            return self._visit(c, case, site, row._mapping)

    def report(self, visit: Visit) -> dict[str, Any]:
        with self._tx() as c:
            text = c.execute(sa.select(t.visits.c.report)
                             .where(t.visits.c.id == visit.id)).scalar_one()  # fmt: skip
        return dict(_loads(text, {}))

    def facts(self, visit: Visit) -> dict[str, Any]:
        """The stored inventory, destinations and findings of a visit."""
        with self._tx() as c:
            devs = c.execute(sa.select(t.devices).where(t.devices.c.visit_id == visit.id)).all()
            dests = c.execute(sa.select(t.destinations)
                              .where(t.destinations.c.visit_id == visit.id)).all()  # fmt: skip
            finds = c.execute(sa.select(t.findings).where(t.findings.c.visit_id == visit.id)).all()
        devices = {}
        for r in devs:
            m = dict(r._mapping)
            for k in ("ips", "hostnames", "evidence"):
                m[k] = _loads(m[k], [])
            devices[m["key"]] = m
        findings = {}
        for r in finds:
            m = dict(r._mapping)
            m["evidence"] = _loads(m["evidence"], [])
            findings[m["finding_id"]] = m
        return {"devices": devices, "destinations": [dict(r._mapping) for r in dests],
                "findings": findings}  # fmt: skip

    def previous(self, visit: Visit) -> Visit | None:
        if visit.number <= 1:
            return None
        try:
            return self.visit(visit.case, visit.site, visit.number - 1)
        except StoreError:
            return None

    # -- overrides and notes ------------------------------------------------------------

    def add_override(self, case: str, site: str, target_kind: str, target: str, field: str,
                     value: str, author: str, reason: str = "") -> dict[str, Any]:  # fmt: skip
        if not author.strip():
            raise StoreError("an override needs who made it (--by NAME or --analyst)")
        if target_kind == "device":
            if field not in DEVICE_FIELDS:
                raise StoreError(f"a device override sets one of {', '.join(DEVICE_FIELDS)}")
        elif target_kind == "finding":
            if field != "status" or value not in FINDING_STATUSES:
                raise StoreError(f"a finding is marked {', '.join(FINDING_STATUSES)}")
        else:
            raise StoreError("an override targets a device or a finding")
        row = {"target_kind": target_kind, "target": target, "field": field,
               "value": _bounded(value, "value"), "author": _bounded(author, "author")[:200],
               "created_at": now_iso(), "reason": _bounded(reason, "reason")}  # fmt: skip
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            last = c.execute(sa.select(t.visits.c.id).where(t.visits.c.site_id == sid)
                             .order_by(t.visits.c.number.desc()).limit(1)).scalar()  # fmt: skip
            c.execute(t.overrides.insert().values(site_id=sid, visit_id=last, **row))
        return row

    def overrides(self, case: str, site: str) -> list[dict[str, Any]]:
        """Every override of the site, oldest first (the latest per target and field wins)."""
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            rows = c.execute(sa.select(t.overrides).where(t.overrides.c.site_id == sid)
                             .order_by(t.overrides.c.id)).all()  # fmt: skip
        return [{k: v for k, v in r._mapping.items() if k != "site_id"} for r in rows]

    def add_note(self, case: str, site: str, text: str, author: str,
                 target_kind: str | None = None, target: str | None = None) -> dict[str, Any]:  # fmt: skip
        if not author.strip():
            raise StoreError("a note needs who wrote it (--by NAME or --analyst)")
        if not text.strip():
            raise StoreError("a note needs text")
        row = {"target_kind": target_kind, "target": target, "author": author[:200],
               "created_at": now_iso(), "text": _bounded(text, "note")}  # fmt: skip
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            last = c.execute(sa.select(t.visits.c.id).where(t.visits.c.site_id == sid)
                             .order_by(t.visits.c.number.desc()).limit(1)).scalar()  # fmt: skip
            c.execute(t.notes.insert().values(site_id=sid, visit_id=last, **row))
        return row

    def notes(self, case: str, site: str) -> list[dict[str, Any]]:
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            rows = c.execute(sa.select(t.notes).where(t.notes.c.site_id == sid)
                             .order_by(t.notes.c.id)).all()  # fmt: skip
        return [{k: v for k, v in r._mapping.items() if k != "site_id"} for r in rows]

    def find_site(self, site: str, case: str | None = None) -> tuple[str, str]:
        """(case, site) for a site name; the case may be left out when the name is unique."""
        with self._tx() as c:
            q = sa.select(t.cases.c.name, t.sites.c.name).join(
                t.cases, t.cases.c.id == t.sites.c.case_id
            )
            q = q.where(t.sites.c.name == site)
            if case is not None:
                q = q.where(t.cases.c.name == case)
            rows = c.execute(q).all()
        if not rows:
            where = f" in case {case!r}" if case else ""
            raise StoreError(f"no site named {site!r}{where}")
        if len(rows) > 1:
            raise StoreError(f"site {site!r} is in several cases "
                             f"({', '.join(r[0] for r in rows)}): give --case")  # fmt: skip
        return str(rows[0][0]), str(rows[0][1])

    def finding_keys(self, case: str, site: str) -> dict[str, tuple[str, str]]:
        """Finding ID -> (device, destination) over every visit of the site, so a status set
        on a finding follows it when its level (and so its ID) changes."""
        with self._tx() as c:
            sid = self._site_id(c, case, site)
            q = (sa.select(t.findings.c.finding_id, t.findings.c.device_key,
                           t.findings.c.destination)
                 .join(t.visits, t.visits.c.id == t.findings.c.visit_id)
                 .where(t.visits.c.site_id == sid))  # fmt: skip
            return {r[0]: (r[1], r[2]) for r in c.execute(q)}


__all__ = ["CaseStore", "StoreError", "Visit", "report_facts"]
