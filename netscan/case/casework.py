"""What changed between two visits of a site, and the analyst's overrides applied to a
report (beside what the traffic said, never in its place)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netscan.analysis.finding import Finding

if TYPE_CHECKING:
    from netscan.case.store import CaseStore


def _ev_ref(ev: list[dict[str, Any]] | None, file: str = "", frame: Any = None) -> dict[str, Any]:
    if ev:
        e = ev[0]
        out = {"file": e.get("file", ""), "frame": e.get("frame"), "what": e.get("what", "")}
        if isinstance(e.get("what_part"), dict):
            out["what_part"] = e["what_part"]  # to show the line in another language
        return out
    if frame is not None:
        return {"file": file, "frame": frame, "what": ""}
    return {}


def _dev_label(d: dict[str, Any]) -> str:
    ips = d.get("ips") or []
    name = d.get("model") or d.get("vendor") or ""
    addr = ips[0] if ips else d.get("mac") or d.get("key")
    return f"{name} {addr}".strip() if name else str(addr)


def _absent(visit: dict[str, Any]) -> dict[str, Any]:
    """Evidence of absence: the visit's captures, where the thing was not seen."""
    caps = visit.get("captures") or []
    return {
        "absent_in": f"visit {visit.get('number')}",
        "captures": [{"path": c.get("path"), "sha256": c.get("sha256")} for c in caps],
    }


def diff(facts_a: dict[str, Any], facts_b: dict[str, Any],
         visit_a: dict[str, Any], visit_b: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Visit A (earlier) against visit B (later). Every item carries its evidence on both
    sides: frames where it was seen, or the captures of the visit where it was not."""
    da, db = facts_a["devices"], facts_b["devices"]
    out: dict[str, Any] = {
        "from": {k: visit_a.get(k) for k in ("number", "captured_from", "captured_to")},
        "to": {k: visit_b.get(k) for k in ("number", "captured_from", "captured_to")},
        "devices_appeared": [],
        "devices_left": [],
        "roles_changed": [],
        "destinations_appeared": [],
        "destinations_stopped": [],
        "countries_appeared": [],
        "countries_stopped": [],
        "findings_new": [],
        "findings_resolved": [],
        "findings_changed": [],
        "lines": [],
    }
    lines: list[str] = out["lines"]
    for key in sorted(set(db) - set(da)):
        d = db[key]
        out["devices_appeared"].append({"device": key, "label": _dev_label(d), "role": d["role"],
                                        "before": _absent(visit_a), "after": _ev_ref(d["evidence"])})  # fmt: skip
        lines.append(f"device appeared: {_dev_label(d)} ({d['role']})")
    for key in sorted(set(da) - set(db)):
        d = da[key]
        out["devices_left"].append({"device": key, "label": _dev_label(d), "role": d["role"],
                                    "before": _ev_ref(d["evidence"]), "after": _absent(visit_b)})  # fmt: skip
        lines.append(f"device no longer seen: {_dev_label(d)} ({d['role']})")
    for key in sorted(set(da) & set(db)):
        a, b = da[key], db[key]
        if a["role"] != b["role"]:
            out["roles_changed"].append({"device": key, "label": _dev_label(b), "from": a["role"],
                                         "to": b["role"], "before": _ev_ref(a["evidence"]),
                                         "after": _ev_ref(b["evidence"])})  # fmt: skip
            lines.append(f"role changed: {_dev_label(b)} {a['role']} -> {b['role']}")

    def dest_index(facts: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(d["device_key"], d["label"]): d for d in facts["destinations"]}

    xa, xb = dest_index(facts_a), dest_index(facts_b)

    def dest_item(
        d: dict[str, Any], other_visit: dict[str, Any], seen_first: bool
    ) -> dict[str, Any]:
        dev = db.get(d["device_key"]) or da.get(d["device_key"]) or {"key": d["device_key"]}
        seen = _ev_ref(None, d.get("file", ""), d.get("first_frame"))
        seen.update({"ip": d["ip"], "country": d.get("country"), "org": d.get("org"),
                     "bytes_up": d.get("bytes_up", 0)})  # fmt: skip
        item = {"device": d["device_key"], "device_label": _dev_label(dev),
                "destination": d["label"], "ip": d["ip"], "country": d.get("country"),
                "org": d.get("org"), "bytes_up": d.get("bytes_up", 0)}  # fmt: skip
        item["before"], item["after"] = (
            (_absent(other_visit), seen) if seen_first else (seen, _absent(other_visit))
        )
        return item

    for k in sorted(set(xb) - set(xa)):
        out["destinations_appeared"].append(dest_item(xb[k], visit_a, True))
    for k in sorted(set(xa) - set(xb)):
        out["destinations_stopped"].append(dest_item(xa[k], visit_b, False))

    def countries(
        x: dict[tuple[str, str], dict[str, Any]],
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out_c: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for (dev, _label), d in x.items():
            if d.get("country"):
                out_c.setdefault((dev, d["country"]), []).append(d)
        return out_c

    ca, cb = countries(xa), countries(xb)

    def country_item(k: tuple[str, str], ds: list[dict[str, Any]]) -> dict[str, Any]:
        dev = db.get(k[0]) or da.get(k[0]) or {"key": k[0]}
        ds = sorted(ds, key=lambda d: -int(d.get("bytes_up") or 0))
        return {"device": k[0], "device_label": _dev_label(dev), "country": k[1],
                "destinations": [d["label"] for d in ds],
                "orgs": sorted({str(d.get("org")) for d in ds if d.get("org")}),
                "bytes_up": sum(int(d.get("bytes_up") or 0) for d in ds),
                "evidence": _ev_ref(None, ds[0].get("file", ""), ds[0].get("first_frame"))}  # fmt: skip

    appeared = {k: country_item(k, v) for k, v in cb.items() if k not in ca}
    stopped = {k: country_item(k, v) for k, v in ca.items() if k not in cb}
    out["countries_appeared"] = [appeared[k] for k in sorted(appeared)]
    out["countries_stopped"] = [stopped[k] for k in sorted(stopped)]
    for k, s in sorted(stopped.items()):
        moved = [a for (dev, _c), a in sorted(appeared.items()) if dev == k[0]]
        where_a = f"{s['country']} ({', '.join(s['orgs'] or s['destinations'])})"
        if moved and k[0] in db:
            a = moved[0]
            where_b = f"{a['country']} ({', '.join(a['orgs'] or a['destinations'])})"
            lines.append(f"traffic moved: {s['device_label']} from {where_a} "
                         f"[visit {visit_a.get('number')} frame {s['evidence'].get('frame')}] "
                         f"to {where_b} [visit {visit_b.get('number')} frame "
                         f"{a['evidence'].get('frame')}]")  # fmt: skip
        elif k[0] in db:
            lines.append(f"country stopped: {s['device_label']} no longer sends to {where_a}")
    for k, a in sorted(appeared.items()):
        if not any(dev == k[0] for (dev, _c) in stopped) or k[0] not in da:
            where_b = f"{a['country']} ({', '.join(a['orgs'] or a['destinations'])})"
            lines.append(f"country appeared: {a['device_label']} now sends to {where_b}")

    def fkey(f: dict[str, Any]) -> tuple[str, str]:
        return (f["device_key"], f["destination"])

    fa = {fkey(f): f for f in facts_a["findings"].values()}
    fb = {fkey(f): f for f in facts_b["findings"].values()}

    def f_item(f: dict[str, Any]) -> dict[str, Any]:
        dev = db.get(f["device_key"]) or da.get(f["device_key"]) or {"key": f["device_key"]}
        return {"finding": f["finding_id"], "kind": f.get("kind", ""), "level": f["level"],
                "device": f["device_key"], "device_label": _dev_label(dev),
                "destination": f["destination"], "country": f.get("country")}  # fmt: skip

    for k in sorted(set(fb) - set(fa)):
        item = f_item(fb[k]) | {"before": _absent(visit_a), "after": _ev_ref(fb[k]["evidence"])}
        out["findings_new"].append(item)
        lines.append(f"new finding {item['finding']} ({item['level']}): {item['device_label']} "
                     f"-> {item['destination']}")  # fmt: skip
    for k in sorted(set(fa) - set(fb)):
        item = f_item(fa[k]) | {"before": _ev_ref(fa[k]["evidence"]), "after": _absent(visit_b)}
        out["findings_resolved"].append(item)
        lines.append(f"finding no longer seen {item['finding']} ({item['level']}): "
                     f"{item['device_label']} -> {item['destination']}")  # fmt: skip
    for k in sorted(set(fa) & set(fb)):
        a, b = fa[k], fb[k]
        if a["level"] != b["level"]:
            item = f_item(b) | {"from": a["level"], "to": b["level"], "previous": a["finding_id"],
                                "before": _ev_ref(a["evidence"]), "after": _ev_ref(b["evidence"])}  # fmt: skip
            out["findings_changed"].append(item)
            lines.append(f"finding level changed {a['finding_id']} -> {b['finding_id']}: "
                         f"{a['level']} -> {b['level']}")  # fmt: skip
    return out


def effective_overrides(
    overrides: list[dict[str, Any]],
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The latest override per (kind, target, field)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in overrides:
        out[(o["target_kind"], o["target"], o["field"])] = o
    return out


def apply_overrides(report: dict[str, Any], overrides: list[dict[str, Any]],
                    finding_keys: dict[str, tuple[str, str]]) -> None:  # fmt: skip
    """Attach the site's overrides to the report's devices and findings as ``overrides`` /
    ``analyst_status``: what the traffic said (role, vendor, level) stays as it was."""
    eff = effective_overrides(overrides)
    for d in report.get("devices", []):
        ov: dict[str, Any] = {}
        for field in ("role", "name", "manufacturer"):
            o = eff.get(("device", d["key"], field)) or (
                eff.get(("device", d.get("mac") or "", field)) if d.get("mac") else None
            )
            if o:
                ov[field] = {"value": o["value"], "by": o["author"], "at": o["created_at"],
                             "why": o["reason"]}  # fmt: skip
        if ov:
            d["overrides"] = ov
    index = _status_index(eff, finding_keys)
    for f in report.get("findings", []):
        try:
            status = _finding_status(Finding.from_json(f), eff, index)
        except ValueError:  # not a finding netscan knows
            continue
        if status is not None:
            f["analyst_status"] = status


def apply_finding_overrides(findings: list[Finding], overrides: list[dict[str, Any]],
                            finding_keys: dict[str, tuple[str, str]]) -> None:  # fmt: skip
    """Attach the site's finding statuses to ``findings`` (``analyst_status``); the level
    stays what the traffic said."""
    eff = effective_overrides(overrides)
    index = _status_index(eff, finding_keys)
    for f in findings:
        status = _finding_status(f, eff, index)
        if status is not None:
            f.analyst_status = status


def _status_index(eff: dict[tuple[str, str, str], dict[str, Any]],
                  finding_keys: dict[str, tuple[str, str]]
                  ) -> dict[tuple[str, str], dict[str, Any]]:  # fmt: skip
    """The latest finding status per (device, destination): a status follows a finding
    whose level (and so its id) changed."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for (kind, target, field), o in eff.items():
        if kind == "finding" and field == "status" and target in finding_keys:
            prev = by_key.get(finding_keys[target])
            if prev is None or prev["id"] < o["id"]:
                by_key[finding_keys[target]] = o
    return by_key


def _finding_status(f: Finding, eff: dict[tuple[str, str, str], dict[str, Any]],
                    index: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any] | None:  # fmt: skip
    """The latest status an analyst set on this finding (by id, or by device and
    destination), as the report shows it."""
    o = eff.get(("finding", f.id, "status"))
    o2 = index.get((f.device, f.destination.label))
    if o2 is not None and (o is None or o2["id"] > o["id"]):
        o = o2
    if not o:
        return None
    return {
        "status": o["value"],
        "by": o["author"],
        "at": o["created_at"],
        "why": o["reason"],
        "set_on": o["target"],
    }


def record(store: CaseStore, case: str, site: str, report: dict[str, Any],
           analyst: str = "") -> dict[str, Any]:  # fmt: skip
    """Store ``report`` as the site's next visit, then add to it a ``case`` section: the
    visit, what changed since the previous visit (with evidence on both sides), and the
    site's overrides and notes. The overrides are attached beside what the traffic said
    (``overrides`` on devices, ``analyst_status`` on findings). Returns the section."""
    visit = store.record_visit(case, site, report, analyst)
    return annotate(store, visit, report)


def annotate(store: CaseStore, visit: Any, report: dict[str, Any]) -> dict[str, Any]:
    """Add the ``case`` section for ``visit`` to ``report`` (the report of that visit, fresh
    or read back from the store) and attach the site's overrides as they stand now."""
    case, site = visit.case, visit.site
    prev = store.previous(visit)
    changes = None
    if prev is not None:
        changes = diff(store.facts(prev), store.facts(visit), prev.__dict__, visit.__dict__)
    overrides = store.overrides(case, site)
    apply_overrides(report, overrides, store.finding_keys(case, site))
    section = {
        "case": case,
        "site": site,
        "visit": visit.number,
        "recorded_at": visit.recorded_at,
        "previous_visit": prev.number if prev else None,
        "store": store.engine.url.render_as_string(hide_password=True),
        "changes": changes,
        "overrides": overrides,
        "notes": store.notes(case, site),
    }
    report["case"] = section
    return section
