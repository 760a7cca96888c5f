"""The case store on SQLite and on a real PostgreSQL server: two visits of one generated
site, the diff between them, overrides carried across visits, notes, the schema that the
Alembic migrations build."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("skimage", reason="scikit-image supplies the test face picture")

from netscan.analyze import Analyzer, Options  # noqa: E402
from netscan.case.casework import record  # noqa: E402
from netscan.case.errors import StoreError  # noqa: E402
from netscan.case.store import CaseStore  # noqa: E402
from netscan.report import json_report  # noqa: E402
from tests.case.site_build import HIK_NVR, SINGAPORE_CLOUD, ZK_TERMINAL, visit1, visit2  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    d = tmp_path_factory.mktemp("site")
    return {"v1": visit1(d), "v2": visit2(d)}


@pytest.fixture(scope="module")
def reports(captures: dict[str, list[Path]]) -> dict[str, dict[str, Any]]:
    out = {}
    for k, paths in captures.items():
        res = Analyzer(Options(country="CN")).run([str(p) for p in paths])
        out[k] = json_report.build(res)
    return out


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "cases" / "cases.sqlite")
    return str(request.getfixturevalue("fresh_pg")())


def _two_visits(url: str, reports: dict[str, dict[str, Any]]) -> tuple[dict, dict]:
    r1, r2 = copy.deepcopy(reports["v1"]), copy.deepcopy(reports["v2"])
    with CaseStore(url) as s:
        s1 = record(s, "Acme audit", "Sales office", r1, analyst="A. Auditor")
        s2 = record(s, "Acme audit", "Sales office", r2, analyst="B. Inspector")
    return s1, s2


def test_migrations_build_the_schema(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from netscan.case.schema import metadata

    with CaseStore(store_url) as s, s.engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == "0001"
        assert compare_metadata(ctx, metadata) == []
    with CaseStore(store_url) as s:  # reopening is a no-op migration
        assert s.cases() == []


def test_two_visits_diff(store_url: str, reports: dict[str, dict[str, Any]]) -> None:
    s1, s2 = _two_visits(store_url, reports)
    assert s1["visit"] == 1 and s1["changes"] is None
    assert s2["visit"] == 2 and s2["previous_visit"] == 1
    ch = s2["changes"]
    left = {d["device"]: d for d in ch["devices_left"]}
    assert ZK_TERMINAL.mac in left
    assert left[ZK_TERMINAL.mac]["before"]["frame"] >= 1  # seen in visit 1 at that frame
    assert left[ZK_TERMINAL.mac]["after"]["absent_in"] == "visit 2"
    assert left[ZK_TERMINAL.mac]["after"]["captures"][0]["path"].endswith("site_visit2.pcap")
    resolved = [f for f in ch["findings_resolved"] if f["device"] == ZK_TERMINAL.mac]
    assert resolved and resolved[0]["level"] == "confirmed"
    assert resolved[0]["before"]["frame"] >= 1
    stopped = {(c["device"], c["country"]) for c in ch["countries_stopped"]}
    appeared = {(c["device"], c["country"]) for c in ch["countries_appeared"]}
    assert (HIK_NVR.mac, "CN") in stopped
    assert (HIK_NVR.mac, "SG") in appeared
    dests = {d["ip"] for d in ch["destinations_appeared"]}
    assert SINGAPORE_CLOUD in dests
    moved = [ln for ln in ch["lines"] if ln.startswith("traffic moved")]
    assert len(moved) == 1 and " from CN (" in moved[0] and " to SG (" in moved[0]
    assert "frame" in moved[0]
    assert any(ln.startswith("device no longer seen") and "face-terminal" in ln
               for ln in ch["lines"])  # fmt: skip
    # the cameras and the NVR stayed
    assert HIK_NVR.mac not in left and not ch["devices_appeared"]


def test_visit_rows(store_url: str, reports: dict[str, dict[str, Any]]) -> None:
    _two_visits(store_url, reports)
    with CaseStore(store_url) as s:
        vs = s.visits("Acme audit", "Sales office")
        assert [v.number for v in vs] == [1, 2]
        assert [v.analyst for v in vs] == ["A. Auditor", "B. Inspector"]
        assert len(vs[0].captures) == 2 and len(vs[1].captures) == 1
        assert vs[0].captures[0]["sha256"] == reports["v1"]["inputs"][0]["sha256"]
        assert vs[1].captured_from > vs[0].captured_to
        facts = s.facts(vs[0])
        assert facts["devices"][ZK_TERMINAL.mac]["role"] == "face-terminal"
        assert s.report(vs[1])["inputs"][0]["sha256"] == reports["v2"]["inputs"][0]["sha256"]
        assert [c["name"] for c in s.cases()] == ["Acme audit"]
        assert s.sites("Acme audit")[0]["visits"] == 2
        assert s.find_site("Sales office") == ("Acme audit", "Sales office")


def test_overrides_apply_on_later_visits(store_url: str,
                                         reports: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    r1 = copy.deepcopy(reports["v1"])
    fid = next(f["id"] for f in r1["findings"] if f["device"] == HIK_NVR.mac)
    with CaseStore(store_url) as s:
        record(s, "Acme audit", "Sales office", r1)
        s.add_override("Acme audit", "Sales office", "device", HIK_NVR.mac, "name",
                       "Recorder in the back office", "A. Auditor", "label on the box")  # fmt: skip
        s.add_override("Acme audit", "Sales office", "device", HIK_NVR.mac, "role", "nvr",
                       "A. Auditor", "seen on site")  # fmt: skip
        s.add_override("Acme audit", "Sales office", "finding", fid, "status", "disputed",
                       "A. Auditor", "owner says this is firmware updates")  # fmt: skip
        s.add_override("Acme audit", "Sales office", "finding", fid, "status", "accepted",
                       "B. Inspector", "sizes match video, not firmware")  # fmt: skip
        s.add_note("Acme audit", "Sales office", "terminal by the door", "A. Auditor",
                   "device", ZK_TERMINAL.mac)  # fmt: skip
        r2 = copy.deepcopy(reports["v2"])
        sec = record(s, "Acme audit", "Sales office", r2)
    nvr = next(d for d in r2["devices"] if d["key"] == HIK_NVR.mac)
    assert nvr["role"] == reports["v2"]["devices"][[d["key"] for d in reports["v2"]["devices"]]
                                                  .index(HIK_NVR.mac)]["role"]  # fmt: skip
    assert nvr["overrides"]["name"]["value"] == "Recorder in the back office"
    assert nvr["overrides"]["name"]["by"] == "A. Auditor"
    assert nvr["overrides"]["role"]["why"] == "seen on site"
    # the NVR's finding in visit 2 goes to another destination (Singapore): a new finding,
    # so no status carries over; the custody still lists every override
    assert [o["value"] for o in sec["overrides"]] == [
        "Recorder in the back office",
        "nvr",
        "disputed",
        "accepted",
    ]
    assert sec["notes"][0]["text"] == "terminal by the door"
    # a third visit like the first: the finding comes back and carries the latest status
    r3 = copy.deepcopy(reports["v1"])
    with CaseStore(store_url) as s:
        record(s, "Acme audit", "Sales office", r3)
    f3 = next(f for f in r3["findings"] if f["device"] == HIK_NVR.mac)
    assert f3["analyst_status"]["status"] == "accepted"
    assert f3["analyst_status"]["by"] == "B. Inspector"
    assert f3["level"] == next(f for f in reports["v1"]["findings"]
                               if f["device"] == HIK_NVR.mac)["level"]  # fmt: skip


def test_bad_requests(store_url: str) -> None:
    with CaseStore(store_url) as s:
        s.create_case("C1")
        with pytest.raises(StoreError, match="already exists"):
            s.create_case("C1")
        with pytest.raises(StoreError, match="no site"):
            s.visits("C1", "nowhere")
        s.add_site("C1", "S1")
        with pytest.raises(StoreError, match="needs who"):
            s.add_override("C1", "S1", "device", "aa", "role", "nvr", "")
        with pytest.raises(StoreError, match="marked"):
            s.add_override("C1", "S1", "finding", "F-1", "status", "ignored", "me")
        with pytest.raises(StoreError, match="longer than"):
            s.add_note("C1", "S1", "x" * 5000, "me")


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store" / "cases.sqlite"
    with CaseStore(str(path)) as s:
        s.create_case("C")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    with pytest.raises(OSError, match="chmod 600"):
        CaseStore(str(path))
    path.chmod(0o600)
    link = tmp_path / "link.sqlite"
    link.symlink_to(path)
    with pytest.raises(OSError, match="symbolic link"):
        CaseStore(str(link))


def test_default_store_under_xdg(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg"))
    env.pop("NETSCAN_CASE_STORE", None)
    r = subprocess.run([sys.executable, "-m", "netscan", "case", "create", "Bank audit"],
                       capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    f = tmp_path / "xdg" / "netscan" / "cases.sqlite"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netscan", *args], capture_output=True,
                          text=True, timeout=600, env=env)  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_two_visits(backend: str, tmp_path: Path, captures: dict[str, list[Path]],
                        request: pytest.FixtureRequest) -> None:  # fmt: skip
    url = (str(tmp_path / "s" / "cases.sqlite") if backend == "sqlite"
           else request.getfixturevalue("fresh_pg")())  # fmt: skip
    st = ["--store", url]
    r = _cli("analyze", *map(str, captures["v1"]), "--case", "Acme", "--site", "Office", *st,
             "--country", "CN", "-q", "--analyst", "A. Auditor")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = tmp_path / "v2.json"
    r = _cli("analyze", *map(str, captures["v2"]), "--case", "Acme", "--site", "Office", *st,
             "--country", "CN", "-q", "--json", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["case"]["visit"] == 2 and rep["case"]["changes"]["devices_left"]
    import jsonschema

    from netscan.report.json_report import schema

    jsonschema.validate(rep, schema())
    r = _cli("case", "visits", "Office", *st)
    assert r.returncode == 0 and r.stdout.count("visit ") == 2
    r = _cli("case", "diff", "Office", *st)
    assert r.returncode == 0, r.stderr
    assert "traffic moved" in r.stdout and "device no longer seen" in r.stdout
    r = _cli("case", "diff", "Office", "2", "1", "--json", *st)
    back = json.loads(r.stdout)
    assert any(d["device"] == ZK_TERMINAL.mac for d in back["devices_appeared"])
    r = _cli("case", "override", "Office", "device", HIK_NVR.mac, "--role", "nvr",
             "--name", "Back-office\x1b[31m recorder", "--by", "A. Auditor", "--why", "seen", *st)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\\x1b" in r.stdout
    r = _cli("case", "overrides", "Office", *st)
    assert r.stdout.count("A. Auditor") == 2
    r = _cli("case", "override", "Office", "finding", "F-0", "--status", "accepted", *st,
             env={k: v for k, v in os.environ.items() if k != "NETSCAN_SETTINGS"}
             | {"HOME": str(tmp_path)})  # fmt: skip
    assert r.returncode == 2 and "needs who" in r.stderr and "Traceback" not in r.stderr
    r = _cli("case", "note", "Office", "the terminal was removed in May", "--by", "B", *st)
    assert r.returncode == 0
    r = _cli("case", "show", "Office", "1", *st)
    assert r.returncode == 0 and "face-terminal" in r.stdout
    # the reports of visit 2 written again from the store, with today's overrides
    html, js = tmp_path / "again.html", tmp_path / "again.json"
    r = _cli("case", "report", "Office", "2", "--report", str(html), "--json", str(js), *st)
    assert r.returncode == 0, r.stderr
    again = json.loads(js.read_text())
    assert again["case"]["visit"] == 2 and again["case"]["changes"]["devices_left"]
    nvr = next(d for d in again["devices"] if d["key"] == HIK_NVR.mac)
    assert nvr["overrides"]["role"]["value"] == "nvr"
    page = html.read_text()
    assert "Since the previous visit" in page and "Analyst overrides (2)" in page
    assert "\x1b" not in page and "\\x1b" in page  # the analyst's escape shown, not obeyed


def test_cli_errors(tmp_path: Path) -> None:
    r = _cli("case", "visits", "nowhere", "--store", str(tmp_path / "c.sqlite"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no site" in r.stderr
    r = _cli("case", "list", "--store", "mysql://x/y")
    assert r.returncode == 2 and "unsupported case store" in r.stderr
    r = _cli("case", "list", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert r.returncode == 2 and "cannot open the case store" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("analyze", "pcaps/demo_sales_office.pcapng", "--case", "X")
    assert r.returncode == 2 and "go together" in r.stderr


def test_concurrent_visits_get_distinct_numbers(store_url: str,
                                               reports: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    """Two auditors sharing a case record the same site at the same moment."""
    import threading

    with CaseStore(store_url) as s:
        s.ensure_site("Shared", "Lobby")
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with CaseStore(store_url) as s:
                s.record_visit("Shared", "Lobby", copy.deepcopy(reports["v2"]), "auditor")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with CaseStore(store_url) as s:
        assert [v.number for v in s.visits("Shared", "Lobby")] == [1, 2, 3, 4]
