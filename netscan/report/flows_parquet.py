"""Every flow of a run as Parquet (pyarrow), for DuckDB, pandas or polars.

One row per flow (5-tuple, both directions): addresses, ports, protocol, bytes and packets
each way, first/last seen, applications recognised, names on each side, device MACs and an
upload-burst summary. The JSON report stays the contract for findings; this is the raw
material behind them. A fleet run writes one dataset partitioned by ``site``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netscan.engine import loss

MAX_NAMES = 16  # names per side in one row

SCHEMA_FIELDS: list[tuple[str, str]] = [
    ("source", "string"),  # capture file or Zeek log the flow came from
    ("uid", "string"),  # Zeek connection uid (logs only)
    ("transport", "string"),
    ("proto", "int16"),
    ("client_ip", "string"),
    ("client_port", "int32"),
    ("server_ip", "string"),
    ("server_port", "int32"),
    ("client_mac", "string"),
    ("server_mac", "string"),
    ("client_device", "string"),
    ("server_device", "string"),
    ("bytes_up", "int64"),  # client -> server
    ("bytes_down", "int64"),
    ("packets_up", "int64"),
    ("packets_down", "int64"),
    ("payload_up", "int64"),
    ("payload_down", "int64"),
    # TCP sequence space the capture missed (dropped packets), client -> server and back;
    # null where the input cannot tell (Zeek logs)
    ("missed_up", "int64"),
    ("missed_down", "int64"),
    ("first_seen", "timestamp"),
    ("last_seen", "timestamp"),
    ("applications", "list"),
    ("client_names", "list"),
    ("server_names", "list"),
    ("server_country", "string"),
    ("server_provider", "string"),
    ("server_category", "string"),
    ("bursts", "int32"),
    ("burst_bytes_max", "int64"),
    ("burst_bytes_total", "int64"),
]


def schema(site: bool = False) -> Any:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
    }
    fields = [pa.field(n, types[t]) for n, t in SCHEMA_FIELDS]
    if site:
        fields.insert(0, pa.field("site", pa.string()))
    return pa.schema(fields)


def rows(result: Any) -> dict[str, list[Any]]:
    """Column lists for every flow of an analysis ``Result``."""
    inv = result.inventory
    files = inv.files
    refs = getattr(result, "record_refs", None)
    cols: dict[str, list[Any]] = {n: [] for n, _ in SCHEMA_FIELDS}
    ip_dev = getattr(inv, "_ip_to_device", {})
    measured = loss.per_direction(result.capture_loss)

    def device_of(mac: str | None, ip: str) -> Any:
        if mac and mac in inv.devices:
            return inv.devices[mac]
        key = ip_dev.get(ip) or f"ip:{ip}"
        return inv.devices.get(key)

    for f in inv.flows:
        first = f.first_frames[0] if f.first_frames else f.last_frame
        cols["source"].append(files[f.file] if 0 <= f.file < len(files) else "")
        cols["uid"].append(refs.uids.get((f.file, first)) if refs is not None else None)
        cols["transport"].append(f.transport)
        cols["proto"].append(int(f.proto))
        cols["client_ip"].append(f.a_ip or None)
        cols["client_port"].append(int(f.a_port))
        cols["server_ip"].append(f.b_ip or None)
        cols["server_port"].append(int(f.b_port))
        cols["client_mac"].append(f.a_mac)
        cols["server_mac"].append(f.b_mac)
        a_dev = device_of(f.a_mac, f.a_ip) if f.a_ip or f.a_mac else None
        b_dev = device_of(f.b_mac, f.b_ip) if f.b_ip and inv.premises.is_premises(f.b_ip) else None
        ep = inv.endpoints.get(f.b_ip) if f.b_ip else None
        cols["client_device"].append(a_dev.key if a_dev else None)
        cols["server_device"].append(b_dev.key if b_dev else None)
        cols["bytes_up"].append(int(f.bytes_ab))
        cols["bytes_down"].append(int(f.bytes_ba))
        cols["packets_up"].append(int(f.pkts_ab))
        cols["packets_down"].append(int(f.pkts_ba))
        cols["payload_up"].append(int(f.payload_ab))
        cols["payload_down"].append(int(f.payload_ba))
        cols["missed_up"].append(int(f.missed_ab) if measured else None)
        cols["missed_down"].append(int(f.missed_ba) if measured else None)
        cols["first_seen"].append(int(f.first_ts * 1_000_000))
        cols["last_seen"].append(int(f.last_ts * 1_000_000))
        cols["applications"].append(sorted(f.app))
        cols["client_names"].append(sorted(a_dev.hostnames)[:MAX_NAMES] if a_dev else [])
        if ep is not None:
            cols["server_names"].append(sorted(ep.names)[:MAX_NAMES])
        else:
            cols["server_names"].append(sorted(b_dev.hostnames)[:MAX_NAMES] if b_dev else [])
        cols["server_country"].append(ep.country if ep else None)
        cols["server_provider"].append(ep.provider if ep else None)
        cols["server_category"].append(ep.category if ep else None)
        bursts = f.bursts or []
        cols["bursts"].append(len(bursts))
        cols["burst_bytes_max"].append(int(max((b[2] for b in bursts), default=0)))
        cols["burst_bytes_total"].append(int(sum(b[2] for b in bursts)))
    return cols


def table(result: Any, site: str | None = None) -> Any:
    import pyarrow as pa

    cols = rows(result)
    if site is not None:
        n = len(cols["source"])
        cols = {"site": [site] * n, **cols}
    return pa.Table.from_pydict(cols, schema=schema(site is not None))


def write(result: Any, path: str | Path) -> int:
    """Write the run's flows to ``path`` (0600); returns the number of rows."""
    import pyarrow.parquet as pq

    from netscan.safefile import private_output

    t = table(result)
    with private_output(path, "wb") as fh:
        pq.write_table(t, fh, compression="zstd")
    return t.num_rows


def write_site_part(result: Any, dataset: str | Path, site: str) -> Path:
    """One site's part of a fleet dataset partitioned by site (Hive layout ``site=ID/``)."""
    from urllib.parse import quote

    import pyarrow.parquet as pq

    from netscan.safefile import PrivateDir, private_output

    part = Path(dataset) / f"site={quote(site, safe='')}"
    for d in (Path(dataset), part):
        PrivateDir.open(d, "flows directory").close()
    out = part / "flows.parquet"
    t = table(result)
    with private_output(out, "wb") as fh:
        pq.write_table(t, fh, compression="zstd")
    return out
