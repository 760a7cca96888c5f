"""Inventory facts of a JSON report, keyed so that a capture's and its Zeek logs' reports compare.

Devices are compared by address (Zeek's logs carry MACs only in dhcp.log and with
mac-logging, so device keys differ), endpoints by address.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ZEEK = ROOT.parent / "shared" / "zeek"


def cases() -> list[dict[str, str]]:
    with (ZEEK / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def facts(report: dict[str, Any]) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for d in report["devices"]:
        for ip in d["ips"]:
            out.add(("device", ip))
            for h in d["hostnames"]:
                out.add(("hostname", ip, h))
            for ua in d["user_agents"]:
                out.add(("user_agent", ip, ua))
            for k, svc in d["services"].items():
                if k != "mdns" and svc.get("server"):
                    out.add(("server", ip, k, svc["server"]))
        if d["mac"]:
            out.add(("mac", d["mac"]))
            for h in d["hostnames"]:
                out.add(("mac_hostname", d["mac"], h))
            if d["dhcp"].get("hostname"):
                out.add(("dhcp", d["mac"], d["dhcp"]["hostname"]))
        for name in (d["services"].get("mdns") or {}).get("names", []):
            for ip in d["ips"]:
                out.add(("mdns_service", ip, name))
    for e in report["endpoints"]:
        out.add(("endpoint", e["ip"]))
        for n in e["names"]:
            out.add(("name", e["ip"], n))
        for c in e["certificates"]:
            out.add(("certificate", e["ip"], c))
    return out
