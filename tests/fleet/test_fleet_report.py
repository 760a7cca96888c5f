"""Fleet inputs (folders, CSV and TOML manifests) and the fleet report, without a cluster: the
site task runs in this process, the page is rendered by headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from netscan import i18n
from netscan.analysis.finding import level_rank
from netscan.fleet import report as fleet_report
from netscan.fleet.sites import SitesError, load_sites
from netscan.fleet.task import analyse_site, pack_fingerprint, read_state

from .conftest import make_sites

ZEEK = Path(__file__).resolve().parents[2].parent / "shared" / "zeek"


def test_directory_manifest_and_overrides(tmp_path: Path) -> None:
    root = tmp_path / "sites"
    make_sites(root, 3)
    (root / "fleet.toml").write_text(
        'country = "cn"\npremises = ["192.168.0.0/16"]\nanalyst = "Team A"\n'
    )
    (root / "site-001" / "site.toml").write_text(
        'name = "Office 1"\ncountry = "HK"\npremises = ["10.9.0.0/16"]\n'
    )
    sites = {s.id: s for s in load_sites(root, {"country": "DE"})}
    assert sites["site-000"].country == "CN" and sites["site-000"].premises == ["192.168.0.0/16"]
    assert sites["site-001"].country == "HK" and sites["site-001"].premises == ["10.9.0.0/16"]
    assert sites["site-001"].name == "Office 1" and sites["site-001"].analyst == "Team A"
    assert len(sites["site-002"].captures) == 1

    csv = tmp_path / "fleet.csv"
    cap = sites["site-000"].captures[0]
    csv.write_text(
        "id,name,address,country,premises,captures,zeek,analyst\n"
        f'a-1,Shop,"1 Main St, X",CN,10.1.0.0/16;10.2.0.0/24,{cap},,B. Auditor\n'
        f"a-2,Sensor,,,,,{ZEEK / 'opt.basic'},\n"
    )
    a1, a2 = load_sites(csv, {"country": "FR"})
    assert a1.premises == ["10.1.0.0/16", "10.2.0.0/24"] and a1.address == "1 Main St, X"
    assert (
        a2.country == "FR"
        and Path(a2.zeek).resolve() == (ZEEK / "opt.basic").resolve()
        and not a2.captures
    )

    toml = tmp_path / "fleet.toml"
    toml.write_text(
        '[defaults]\ncountry = "CN"\n\n[[site]]\nid = "t-1"\ncaptures = ["'
        + cap + '"]\n\n[[site]]\nid = "t-2"\ncountry = "US"\nzeek = "' + str(ZEEK / "opt.basic") + '"\n'
    )  # fmt: skip
    t1, t2 = load_sites(toml)
    assert t1.country == "CN" and t2.country == "US"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,captures\n../evil,x.pcap\n", "site id"),
        ("id,captures\na,x.pcap\na,y.pcap\n", "twice"),
        ("id,captures,premises\na,x.pcap,not-a-net\n", "CIDR"),
        ("id,captures,country\na,x.pcap,CHINA\n", "alpha-2"),
        ("id,captures,country\na,x.pcap,ZZ\n", "ISO 3166-1 alpha-2"),  # two letters, unassigned
        ("id,colour\na,red\n", "unknown field"),
        ("id\na\n", "no captures"),
    ],
)
def test_bad_manifests(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "m.csv"
    p.write_text(text)
    with pytest.raises(SitesError, match=message):
        load_sites(p)


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from netscan.cli import main

    (tmp_path / "m.csv").write_text("id,captures\n../evil,x.pcap\n")
    assert main(["fleet", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o")]) == 2
    assert main(["fleet", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert main(["fleet", str(tmp_path), "--out", str(tmp_path / "o"), "--premises", "x/99"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("netscan: error:") == 3
    assert "not a CIDR network: 'x/99'" in err


def _fleet(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "sites"
    make_sites(root, 8)
    (root / "site-003" / "site.toml").write_text(
        'name = "<img src=x onerror=alert(1)>\\u001b[2J"\naddress = "Rue <b>&amp;</b> \\u202e"\n'
    )
    zeek_site = root / "sensor-9"
    zeek_site.mkdir()
    (zeek_site / "site.toml").write_text(
        f'zeek = "{ZEEK / "opt.basic"}"\npremises = ["141.142.0.0/16"]\n'
    )
    (root / "broken").mkdir()
    (root / "broken" / "x.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a" + b"\xff" * 64)
    return _build(root, tmp_path / "out")


def _build(root: Path, out: Path) -> tuple[Path, dict]:
    """The fleet of the site folders under ``root``, each site analysed in this process."""
    sites = load_sites(root, {"country": "CN"})
    fp = pack_fingerprint(None)
    states = {s.id: analyse_site(s.to_dict(), str(out), fp) for s in sites}
    fleet = fleet_report.build(out, sites, states, {"seconds": 1.0, "cluster": "in-process"})
    fleet_report.write(out, fleet)
    return out, fleet


def test_fleet_report_and_page(tmp_path: Path) -> None:
    out, fleet = _fleet(tmp_path)
    jsonschema.validate(fleet, fleet_report.schema())
    written = json.loads((out / "fleet.json").read_text())
    assert written["totals"] == fleet["totals"]
    t = fleet["totals"]
    assert t["sites"] == 10 and t["failed"] == 1 and t["analysed"] == 9
    by_id = {r["id"]: r for r in fleet["sites"]}
    assert by_id["sensor-9"]["status"] == "done" and by_id["sensor-9"]["engine"] == "zeek"
    assert by_id["broken"]["reason"]
    # ranked: worst level first; every count links to its site report (and finding)
    ranks = [level_rank(r["worst"]) for r in fleet["sites"]]
    assert ranks == sorted(ranks, reverse=True)
    for r in fleet["sites"]:
        for lv, href in r["level_links"].items():
            sid, anchor = re.match(r"sites/([^/]+)/report\.html#(F-[0-9a-f]{12})$", href).groups()
            site_report = json.loads((out / "sites" / sid / "report.json").read_text())
            assert any(f["id"] == anchor and f["level"] == lv for f in site_report["findings"])
            assert f'id="{anchor}"' in (out / "sites" / sid / "report.html").read_text()
    assert fleet["destinations"]["providers"][0]["links"]
    # the same camera and terminal models recur across sites
    assert any(len(m["sites"]) >= 3 for m in fleet["device_models"])

    page = (out / "fleet.html").read_text()
    assert "<img" not in page and "<b>" not in page and "\x1b" not in page and "\u202e" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[2J" in page
    # file permissions: reports may hold network-provided text
    assert (out / "fleet.json").stat().st_mode & 0o077 == 0
    assert (out / "sites" / "site-000" / "report.json").stat().st_mode & 0o077 == 0


def test_fleet_page_in_chinese(tmp_path: Path) -> None:
    """fleet.html under zh-CN: headings, labels, levels, statuses and the fleet findings in
    Chinese; site and network text unchanged and escaped; the JSON is the same."""
    out, fleet = _fleet(tmp_path)
    page = fleet_report.render(fleet, lang="zh-CN")
    assert (
        "<html lang='zh-CN'>" in page and "多场所审计" in page and "按最严重发现排序的场所" in page
    )
    for english in ("Sites ranked by worst finding", "Across the fleet", "Overview",
                    "Destinations receiving face data", "Cross-border</h2>", ">none<"):  # fmt: skip
        assert english not in page, english
    assert "已确认" in page and "个场所使用同一" in page  # a level and the fleet finding
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[2J" in page and "<img" not in page
    english = fleet_report.render(fleet, lang="en")
    assert (
        "Sites ranked by worst finding" in english and fleet["fleet_findings"][0]["text"] in english
    )
    fleet_report.write(out, fleet, "zh-CN")
    assert "多场所审计" in (out / "fleet.html").read_text()
    assert json.loads((out / "fleet.json").read_text()) == json.loads(json.dumps(fleet))


def test_page_in_headless_chromium(tmp_path: Path) -> None:
    out, fleet = _fleet(tmp_path)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is part of the test set-up"
    url = (out / "fleet.html").resolve().as_uri()
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
            "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert not console, console
    html = dom.stdout
    assert '<table id="sites">' in html
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td class=\"id\">", html)
    assert [int(x) for x in rows] == list(range(1, len(fleet["sites"]) + 1))
    assert "<script" not in html and "<img" not in html
    shot = tmp_path / "fleet.png"
    r = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1300,2400", url],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0 and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_and_pack_change(tmp_path: Path) -> None:
    root = tmp_path / "sites"
    make_sites(root, 2)
    sites = load_sites(root)
    out = tmp_path / "out"
    fp = pack_fingerprint(None)
    s = sites[0].to_dict()
    assert analyse_site(s, str(out), fp)["status_this_run"] == "done"
    assert analyse_site(s, str(out), fp)["status_this_run"] == "unchanged"
    assert analyse_site(s, str(out), fp, force=True)["status_this_run"] == "done"
    assert analyse_site(s, str(out), "0" * 64)["status_this_run"] == "done"  # another pack
    cap = Path(s["captures"][0])
    cap.write_bytes(cap.read_bytes() + b"")  # same bytes: still unchanged
    assert analyse_site(s, str(out), "0" * 64)["status_this_run"] == "unchanged"
    with cap.open("ab") as fh:  # a changed input
        fh.write(b"\x00" * 16)
    st = analyse_site(s, str(out), "0" * 64)
    assert st["status_this_run"] == "done" and read_state(out / "sites" / s["id"]) == st


def test_cli_on_the_default_local_cluster(tmp_path: Path) -> None:
    """Without --scheduler the fleet starts its own worker processes; plain progress lines."""
    root = tmp_path / "sites"
    make_sites(root, 3)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "netscan", "fleet", str(root), "--out", str(out),
           "--workers", "1", "--country", "CN", "--fail-on", "likely"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # site-000 uploads faces: --fail-on likely trips
    assert "sites 3/3: 3 analysed" in r.stderr and "Traceback" not in r.stderr
    assert "\r" not in r.stderr  # not a terminal: no in-place status line
    fleet = json.loads((out / "fleet.json").read_text())
    assert fleet["totals"]["analysed"] == 3
    r = subprocess.run(cmd[:-2], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "0 analysed, 3 unchanged" in r.stdout


def test_progress_view_on_a_terminal_and_off() -> None:
    import io

    from netscan.fleet.runner import Progress
    from netscan.fleet.sites import Site

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, tty in ((Tty(), True), (io.StringIO(), False)):
        p = Progress(3, stream, every=0.0)
        p.event({"site": "a", "event": "start"})
        p.event({"site": "a", "event": "progress", "packets": 5000})
        p.tick()
        p.finished(Site("a"), {"status": "done", "status_this_run": "done", "seconds": 1.0,
                               "summary": {"packets": 5000, "findings": 1, "worst": "likely"}})  # fmt: skip
        p.finished(Site("b\x1b[2J"), {"status": "failed", "reason": "bad\x1b[31m capture"})
        p.close()
        text = stream.getvalue()
        assert "site a: done in 1.0 s, 5,000 packets, 1 finding(s), worst likely" in text
        assert "FAILED: bad\\x1b[31m capture" in text and "\x1b[31m" not in text
        assert "site b\\x1b[2J: FAILED" in text and "\x1b[2J" not in text
        assert "sites 2/3: 1 analysed, 0 unchanged, 0 running, 1 failed" in text
        assert ("\r\x1b[K" in text) is tty
        assert "packets/s" in text


def test_out_directory_others_can_write_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from netscan.cli import main

    root = tmp_path / "sites"
    make_sites(root, 1)
    out = tmp_path / "shared-out"
    out.mkdir()
    out.chmod(0o777)
    assert main(["fleet", str(root), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "writable by group or others" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_sites_say_what_their_captures_missed(tmp_path: Path) -> None:
    """A regulator sees which sites' evidence has gaps: each site row carries its report's
    capture_loss, and the sites table its share of the TCP bytes missed (for a Zeek site,
    what its conn.log counted; "–" for one whose logs cannot tell), and the packets its
    capture files record the capturing host dropped ("–" where no file records any)."""
    from tests.conftest import realworld
    from tests.engine.test_interface_statistics import _with_statistics
    from tests.engine.test_loss import STREAM, _lost_segments, _without

    root = tmp_path / "sites"
    for sid in ("lossy", "whole", "dropping"):
        (root / sid).mkdir(parents=True)
    src = realworld(STREAM)
    drop, _nbytes, _conns = _lost_segments(src, 40)
    _without(src, root / "lossy" / "stream.pcap", drop)
    shutil.copy(src, root / "whole" / "stream.pcap")
    _with_statistics(src, root / "dropping" / "stream.pcapng")
    (root / "sensor").mkdir()
    (root / "sensor" / "site.toml").write_text(f'zeek = "{ZEEK / "opt.basic"}"\n')
    (root / "tls-sensor").mkdir()  # an ssl.log only: no conn.log to count what was missed
    (root / "tls-sensor" / "site.toml").write_text(
        f'zeek = "{ZEEK / "scripts.base.protocols.ssl.basic"}"\n'
    )
    out, fleet = _build(root, tmp_path / "out")
    jsonschema.validate(fleet, fleet_report.schema())
    rows = {r["id"]: r for r in fleet["sites"]}
    for sid in ("lossy", "whole"):
        site = json.loads((out / "sites" / sid / "report.json").read_text())
        assert rows[sid]["capture_loss"] == site["summary"]["capture_loss"]
    loss = rows["lossy"]["capture_loss"]
    share = loss["tcp_missed_bytes"] / (loss["tcp_missed_bytes"] + loss["tcp_payload_bytes"])
    assert rows["whole"]["capture_loss"]["tcp_missed_bytes"] == 1
    sensor = rows["sensor"]["capture_loss"]
    assert sensor["tcp_missed_bytes"] == 0 and "tcp_gaps" not in sensor  # Zeek counts no gaps
    assert rows["tls-sensor"]["capture_loss"] == {}
    page = (out / "fleet.html").read_text()
    # the page's own dates keep the spaces the locale writes (no escape shown for them)
    assert f"generated {i18n.when(fleet['generated_at'])};" in html.unescape(page)
    table = page[
        page.index("<table id='sites'>") : page.index("</table>", page.index("<table id='sites'>"))
    ]
    cells = {
        sid: re.findall(r"<td[^>]*>(.*?)</td>", row)
        for sid in rows
        for row in table.split("<tr>")
        if f">{sid}<" in row
    }
    header = re.findall(r"<th>(.*?)</th>", table)
    col = header.index("TCP missed")
    assert cells["lossy"][col] == f"{share * 100:.2f} %"
    assert cells["whole"][col] == "&lt; 0.01 %"
    assert cells["sensor"][col] == "0"
    assert cells["tls-sensor"][col] == "–"
    # the file that records 12 packets dropped (3 by the interface, 9 by the system)
    assert [rows[sid]["host_dropped"] for sid in ("lossy", "whole", "dropping", "sensor")] == [
        None, None, 12, None,
    ]  # fmt: skip
    col = header.index("Host drops")
    assert [cells[sid][col] for sid in ("lossy", "whole", "dropping", "sensor")] == [
        "–", "–", "12", "–",
    ]  # fmt: skip


def test_a_damaged_site_report_counts_nothing_it_cannot_count() -> None:
    """A site's report read back may be damaged: what is not a count is none, never a
    crash of the fleet page."""
    assert fleet_report._capture_loss({"summary": ["tcp_missed_bytes"]}) == {}
    assert fleet_report._capture_loss({"summary": {"capture_loss": "lots"}}) == {}
    got = {"tcp_missed_bytes": True, "tcp_connections": 3, "tcp_payload_bytes": "9"}
    assert fleet_report._capture_loss({"summary": {"capture_loss": got}}) == {
        "tcp_missed_bytes": 0, "tcp_connections": 3, "tcp_payload_bytes": 0}  # fmt: skip
    assert fleet_report._host_dropped({"inputs": "x"}) is None
    assert fleet_report._host_dropped({"inputs": [{"interface_statistics": {"ifdrop": 2}}]}) == 2
