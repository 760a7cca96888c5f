"""The case store's tables (SQLAlchemy Core). The same schema on SQLite and PostgreSQL;
Alembic migrations in ``migrations/`` create and evolve it (``compare_metadata`` against
these tables is part of the tests).

Lists and objects are stored as JSON text so the schema is identical on both backends.
Times are ISO-8601 UTC strings.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("case_id", "name", name="uq_sites_case_name"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("analyst", String(200), nullable=False, default=""),
    Column("captured_from", String(40)),
    Column("captured_to", String(40)),
    Column("netscan_version", String(40), nullable=False, default=""),
    Column("pack_version", String(80)),
    Column("pack_commit", String(80)),
    Column("country", String(8)),
    Column("summary", Text, nullable=False, default="{}"),
    Column("report", Text, nullable=False, default="{}"),
    UniqueConstraint("site_id", "number", name="uq_visits_site_number"),
)

captures = Table(
    "captures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("packets", BigInteger, nullable=False, default=0),
    Column("first_ts", String(40)),
    Column("last_ts", String(40)),
)
Index("ix_captures_sha256", captures.c.sha256)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("mac", String(40)),
    Column("ips", Text, nullable=False, default="[]"),
    Column("vendor", Text),
    Column("model", Text),
    Column("hostnames", Text, nullable=False, default="[]"),
    Column("role", String(40), nullable=False, default="unknown"),
    Column("role_confidence", String(40)),
    Column("evidence", Text, nullable=False, default="[]"),
)
Index("ix_devices_visit_key", devices.c.visit_id, devices.c.key)

destinations = Table(
    "destinations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("device_key", String(200), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("label", Text, nullable=False),
    Column("country", String(8)),
    Column("org", Text),
    Column("category", String(40)),
    Column("bytes_up", BigInteger, nullable=False, default=0),
    Column("bytes_down", BigInteger, nullable=False, default=0),
    Column("file", Text, nullable=False, default=""),
    Column("first_frame", BigInteger),
)
Index("ix_destinations_visit", destinations.c.visit_id)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="CASCADE"), nullable=False),
    Column("finding_id", String(40), nullable=False),
    Column("kind", String(40), nullable=False, default=""),
    Column("level", String(20), nullable=False),
    Column("device_key", String(200), nullable=False),
    Column("destination", Text, nullable=False),
    Column("country", String(8)),
    Column("bytes_up", BigInteger, nullable=False, default=0),
    Column("reason", Text, nullable=False, default=""),
    Column("evidence", Text, nullable=False, default="[]"),
)
Index("ix_findings_visit", findings.c.visit_id)

overrides = Table(
    "overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="SET NULL")),
    Column("target_kind", String(20), nullable=False),
    Column("target", String(200), nullable=False),
    Column("field", String(40), nullable=False),
    Column("value", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_overrides_site", overrides.c.site_id)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("visit_id", Integer, ForeignKey("visits.id", ondelete="SET NULL")),
    Column("target_kind", String(20)),
    Column("target", String(200)),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_notes_site", notes.c.site_id)
