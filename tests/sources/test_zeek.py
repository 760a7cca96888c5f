"""Zeek logs as a source, against Zeek's own output for public captures (../shared/zeek).

For every capture/log pair the inventory from the logs must agree with the inventory from
the packets on what the logs carry: every fact the logs give is a fact the packets give
(nothing invented), and every fact the packets give that the logs lack is listed below with
the reason the logs cannot carry it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pytest

from netscan.analyze import Analyzer, Options
from netscan.report import json_report
from netscan.sources.zeek import analyze_zeek
from netscan.sources.zeekfmt import MAX_LINE, LogStats, log_kind, read_log, unescape

from .zeek_facts import ZEEK, cases, facts

# Premises as the Zeek runs had them (Site::local_nets in MANIFEST's zeek_run), else netscan's
# default private ranges.
PREMISES = {
    "opt.basic": ["141.142.0.0/16"],
    "scripts.policy.protocols.conn.known-hosts": ["141.142.0.0/16"],
    "scripts.policy.protocols.conn.mac-logging": ["141.142.0.0/16"],
    "scripts.policy.protocols.conn.known-services": ["172.16.238.0/24"],
    "scripts.base.protocols.dhcp.dhcp-all-msg-types": ["128.2.6.0/24"],
}

NO_MACS = "Zeek's default logs carry no MAC addresses (only dhcp.log and mac-logging do)"
DNS_EXTRA = (
    "dns.log lists the answer section only: names and addresses from the authority and "
    "additional sections (name-server glue) are not logged"
)
MDNS_EXTRA = "the mDNS host record (gemini.local A) is an additional record, which dns.log omits"
NON_IP = "the address is seen only in ARP (no IP connection), and conn.log lists IP connections"
CONN_ONLY = "only conn.log with MACs: no DNS, HTTP or mDNS names"
KNOWN_ONLY = (
    "only known_hosts/known_services logs: they list servers and handshaking hosts, no names, "
    "agents or banners, and not every host"
)

# PCAP-ONLY facts that are expected, by case: fact prefix -> reason
EXPECTED_MISSING: dict[str, dict[tuple[str, ...], str]] = {
    "opt.basic": {
        ("device", "141.142.220.1"): NON_IP,
        ("device", "141.142.220.195"): NON_IP,
        ("endpoint", "208.80.152.130"): DNS_EXTRA,
        ("endpoint", "208.80.152.142"): DNS_EXTRA,
        ("endpoint", "91.198.174.4"): DNS_EXTRA,
        ("name", "208.80.152.130"): DNS_EXTRA,
        ("name", "208.80.152.142"): DNS_EXTRA,
        ("name", "91.198.174.4"): DNS_EXTRA,
        ("name", "208.80.152.2", "www.wikipedia.org"): DNS_EXTRA,
        ("hostname", "141.142.220.50", "gemini"): MDNS_EXTRA,
    },
    "scripts.policy.protocols.conn.known-hosts": {
        (k,): KNOWN_ONLY
        for k in (
            "mac",
            "mac_hostname",
            "device",
            "endpoint",
            "name",
            "hostname",
            "user_agent",
            "mdns_service",
        )
    },  # fmt: skip
    "scripts.policy.protocols.conn.known-services": {
        (k,): KNOWN_ONLY for k in ("mac", "device", "endpoint", "name", "user_agent", "server")
    },
    "scripts.policy.protocols.conn.mac-logging": {
        ("mac", "00:13:7f:4f:8e:f2"): NON_IP,
        ("mac", "00:1a:a0:ba:f3:5d"): NON_IP,
        ("device", "141.142.220.1"): NON_IP,
        ("device", "141.142.220.195"): NON_IP,
        ("endpoint", "208.80.152.130"): DNS_EXTRA,
        ("endpoint", "208.80.152.142"): DNS_EXTRA,
        ("endpoint", "91.198.174.4"): DNS_EXTRA,
        ("name",): CONN_ONLY,
        ("hostname",): CONN_ONLY,
        ("mac_hostname",): CONN_ONLY,
        ("mdns_service",): CONN_ONLY,
        ("user_agent",): CONN_ONLY,
    },
    "scripts.base.protocols.dhcp.dhcp-all-msg-types": {
        ("mac", "00:0c:29:40:0e:ef"): "the DHCP server's MAC: dhcp.log names the client's only",
        ("device", "192.168.211.194"): (
            "the relay address the exchange was sent from (giaddr); dhcp.log gives the client "
            "and server addresses"
        ),
        ("hostname", "192.168.211.194"): "(the same relay address, see above)",
    },
    "scripts.base.protocols.dhcp.dhcp-discover-msg-types": {
        ("mac", "00:0a:28:00:fa:41"): "the frame's Ethernet source (a relay), not chaddr",
    },
    "scripts.policy.protocols.http.flash-version": {
        ("name", "208.85.41.42"): "software.log names the server's software, not its host name",
    },
    "scripts.base.protocols.http.flip-content-line-resp": {
        ("server",): "http.log does not log the Server header (the nginx banner)",
    },
}
# logs with MAC addresses; every other case's logs have none
WITH_MACS = {
    "scripts.policy.protocols.conn.mac-logging",
    "scripts.base.protocols.dhcp.dhcp-all-msg-types",
    "scripts.base.protocols.dhcp.dhcp-discover-msg-types",
}
NO_MAC_FACTS = {("mac",): NO_MACS, ("mac_hostname",): NO_MACS}
# ZEEK-ONLY facts that are expected: things Zeek decodes and netscan's packet engine does not
EXPECTED_EXTRA: dict[str, dict[tuple[str, ...], str]] = {
    "core.tunnels.teredo_bubble_with_payload": {
        ("device",): "Zeek decapsulates Teredo (IPv6 in UDP); netscan's engine does not",
        ("endpoint",): "(Teredo, see above)",
        ("name",): "(Teredo, see above)",
    },
}
NO_LOGS_READ = {
    # notice.log only: notices are Zeek's own conclusions, not records of traffic
    "scripts.policy.protocols.dns.detect-external-names-mdns-broadcast-2",
}


def _allowed(fact: tuple[str, ...], table: dict[tuple[str, ...], str]) -> bool:
    return any(fact[: len(prefix)] == prefix for prefix in table)


def _reports(case: str) -> tuple[dict, dict]:
    d = ZEEK / case
    analyzer = Analyzer(Options(premises=PREMISES.get(case)))
    pcap = json_report.build(analyzer.run([str(p) for p in sorted(d.glob("trace.pcap*"))]))
    zeek = json_report.build(analyze_zeek(analyzer, d))
    return pcap, zeek


@pytest.mark.parametrize("case", [c["test_id"] for c in cases()])
def test_logs_agree_with_packets(case: str) -> None:
    if case in NO_LOGS_READ:
        with pytest.raises(FileNotFoundError, match="no Zeek logs"):
            analyze_zeek(Analyzer(Options()), ZEEK / case)
        return
    pcap, zeek = _reports(case)
    jsonschema.validate(zeek, json_report.schema())
    # the logs cannot tell what the capture missed of each direction: the report's rows
    # leave it out, where the packets give it for every row
    rows = zeek["flows"] + zeek["flows_aggregated"]
    assert not any("missed_bytes_up" in f or "missed_bytes_down" in f for f in rows)
    assert all("missed_bytes_up" in f and "missed_bytes_down" in f for f in pcap["flows"])
    p, z = facts(pcap), facts(zeek)
    assert z, "the logs gave no inventory at all"
    invented = sorted(f for f in z - p if not _allowed(f, EXPECTED_EXTRA.get(case, {})))
    assert not invented, f"facts from the logs the packets do not show: {invented}"
    allowed = dict(EXPECTED_MISSING.get(case, {}))
    if case not in WITH_MACS:
        allowed.update(NO_MAC_FACTS)
    missing = sorted(f for f in p - z if not _allowed(f, allowed))
    assert not missing, f"facts the logs carry but the reader lost: {missing}"
    # every expectation still describes a real difference (no stale excuses)
    for prefix in EXPECTED_MISSING.get(case, {}):
        assert any(f[: len(prefix)] == prefix for f in p - z), f"stale expectation {prefix}"


def test_facts_the_logs_carry() -> None:
    """Spot checks on what each kind of log gives, with evidence naming log, line and uid."""
    _, z = _reports("scripts.base.protocols.ssl.basic")
    ep = next(e for e in z["endpoints"] if e["ip"] == "74.125.224.79")
    assert ep["names"] == ["ssl.gstatic.com"]
    assert ep["certificates"] == [
        "CN=*.gstatic.com,O=Google Inc,L=Mountain View,ST=California,C=US"
    ]
    flow = next(f for f in z["flows"] if f["ip"] == "74.125.224.79")
    assert flow["uid"] == "CHhAvVGS1DHFjwGM9" and flow["first_frame"] == 0
    assert flow["log"] == "ssl" and flow["first_line"] == 10
    assert any("burst shapes" in x for x in z["limits"])

    _, z = _reports("scripts.base.protocols.dhcp.dhcp-all-msg-types")
    dev = next(d for d in z["devices"] if d["mac"] == "90:b1:1c:99:49:29")
    assert dev["hostnames"] == ["btest.is.cool"] and "128.2.6.189" in dev["ips"]
    ev = next(e for e in dev["evidence"] if e["what"] == "DHCP hostname btest.is.cool")
    assert ev["file"].endswith("dhcp.log") and ev["frame"] == 0
    assert ev["line"] == 10 and ev["uid"] == "ClEkJM2Vm5giqnMf4h" and ev["log"] == "dhcp"

    _, z = _reports("scripts.base.protocols.quic.firefox")
    assert any("blog.cloudflare.com" in e["names"] for e in z["endpoints"])
    r = analyze_zeek(Analyzer(Options()), ZEEK / "scripts.base.protocols.quic.firefox")
    [flow] = r.inventory.flows
    assert {"quic", "tls"} <= flow.app  # the services named by the cut conn.log


# -- the reader: Zeek's format, hostile input ------------------------------------------------

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n"
    "#open\t2024-01-01-00-00-00\n#fields\t{fields}\n#types\t{types}\n"
)


def _write(tmp: Path, name: str, path: str, fields: list[str], types: list[str],
           rows: list[list[str]]) -> Path:  # fmt: skip
    text = HEADER.format(path=path, fields="\t".join(fields), types="\t".join(types))
    text += "".join("\t".join(r) + "\n" for r in rows) + "#close\t2024-01-01-00-00-01\n"
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_tsv_values_escapes_sets_and_unset(tmp_path: Path) -> None:
    p = _write(
        tmp_path, "http.log", "http",
        ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "host", "user_agent",
         "orig_fuids", "tags", "request_body_len"],
        ["time", "string", "addr", "port", "addr", "port", "string", "string", "vector[string]",
         "set[enum]", "count"],
        [["1700000000.5", "Cabc", "10.0.0.5", "5000", "8.8.8.8", "80", "a\\x09b\\x2cc",
          "x\\xff\\x5cy", "F1,F2", "(empty)", "-"]],
    )  # fmt: skip
    stats = LogStats(str(p))
    [(line, rec)] = list(read_log(p, stats))
    assert line == 9 and stats.kind == "http" and stats.format == "tsv"
    assert rec["ts"] == 1700000000.5 and rec["id.orig_p"] == 5000
    assert rec["host"] == "a\tb,c"  # escaped separators come back as the bytes they were
    assert rec["user_agent"] == "x\ufffd\\y"  # an invalid UTF-8 byte, an escaped backslash
    assert (
        rec["orig_fuids"] == ["F1", "F2"] and rec["tags"] == [] and rec["request_body_len"] is None
    )
    assert unescape(b"\\x41\\x42") == "AB"


def test_json_and_cut_and_gzip_logs(tmp_path: Path) -> None:
    rows = [
        {"ts": 1700000000.0, "uid": "C1", "id.orig_h": "10.0.0.7", "id.orig_p": 40000,
         "id.resp_h": "93.184.216.34", "id.resp_p": 443, "server_name": "cloud.example.com",
         "cert_chain_fps": []},
        {"ts": "2024-01-01T00:00:00Z", "uid": "C2", "id.orig_h": "10.0.0.7", "id.orig_p": 40001,
         "id.resp_h": "93.184.216.34", "id.resp_p": 443, "server_name": "api.example.com"},
    ]  # fmt: skip
    with gzip.open(tmp_path / "ssl.09:00:00-10:00:00.log.gz", "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "conn.log.cut").write_text(
        "uid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_ip_bytes\tresp_ip_bytes\n"
        "C1\t10.0.0.7\t40000\t93.184.216.34\t443\ttcp\t1200\t5000\n"
    )
    assert log_kind(tmp_path / "ssl.09:00:00-10:00:00.log.gz") == "ssl"
    r = analyze_zeek(Analyzer(Options()), tmp_path)
    rep = json_report.build(r)
    jsonschema.validate(rep, json_report.schema())
    ep = rep["endpoints"][0]
    assert ep["names"] == ["api.example.com", "cloud.example.com"]
    flows = {f["uid"]: f for f in rep["flows"] if "uid" in f}
    assert flows["C1"]["bytes_up"] == 1200 and flows["C1"]["bytes_down"] == 5000


def test_hostile_lines_are_bounded_and_counted(tmp_path: Path) -> None:
    fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "query",
              "qtype_name", "rcode", "answers"]  # fmt: skip
    types = ["time", "string", "addr", "port", "addr", "port", "string", "string", "count",
             "vector[string]"]  # fmt: skip
    good = ["1.0", "C1", "10.0.0.2", "5353", "10.0.0.1", "53", "ok.example.com", "A", "0",
            "93.184.216.34"]  # fmt: skip
    huge = list(good)
    huge[6] = "a" * (MAX_LINE + 10)
    many = list(good)
    many[9] = ",".join(["1.2.3.4"] * 5000)
    p = _write(tmp_path, "dns.log", "dns", fields, types,
               [good, huge, good[:5], many, ["x"] * 10, good])  # fmt: skip
    with p.open("ab") as fh:
        fh.write(b"\xff\xfe not a record\n")
    stats = LogStats(str(p))
    recs = list(read_log(p, stats))
    assert stats.long_lines == 1 and stats.bad_lines == 2 and stats.cut_fields == 1
    assert len(recs) == 4 and len(recs[1][1]["answers"]) == 512
    assert stats.bad_values >= 1  # "x" as a time and as a port
    rep = json_report.build(analyze_zeek(Analyzer(Options()), tmp_path))
    assert any("overlong" in w for w in rep["warnings"])
    assert rep["inputs"][0]["warnings"]


def test_extracted_upload_goes_through_face_analysis(tmp_path: Path) -> None:
    """A picture Zeek extracted from an upload to an off-site host is carved and checked for
    faces like a reassembled HTTP body."""
    from tests.analysis.scenarios.build import face_jpeg  # the same pictures the scenarios use

    logs, files = tmp_path / "logs", tmp_path / "extract_files"
    logs.mkdir()
    files.mkdir()
    jpeg = face_jpeg()
    (files / "extract-1700000000.000000-HTTP-Fupload1").write_bytes(jpeg)
    base = ["1700000000.0", "Cup1", "192.168.1.64", "50000", "47.88.1.10", "80"]
    ids = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"]
    idt = ["time", "string", "addr", "port", "addr", "port"]
    _write(logs, "conn.log", "conn", ids + ["proto", "service", "duration", "orig_bytes",
           "resp_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"],
           idt + ["enum", "string", "interval", "count", "count", "count", "count", "count",
           "count"], [base + ["tcp", "http", "0.5", str(len(jpeg) + 300), "120", "20",
           str(len(jpeg) + 1300), "8", "500"]])  # fmt: skip
    _write(logs, "http.log", "http", ids + ["method", "host", "uri", "user_agent",
           "orig_fuids", "orig_mime_types"], idt + ["string", "string", "string", "string",
           "vector[string]", "vector[string]"], [base + ["POST", "faces.example.cn",
           "/api/face/upload", "-", "Fupload1", "image/jpeg"]])  # fmt: skip
    _write(logs, "files.log", "files", ["ts", "fuid", "uid", "source", "is_orig", "mime_type",
           "seen_bytes", "missing_bytes", "extracted"], ["time", "string", "string", "string",
           "bool", "string", "count", "count", "string"], [["1700000000.1", "Fupload1", "Cup1",
           "HTTP", "T", "image/jpeg", str(len(jpeg)), "0",
           "extract-1700000000.000000-HTTP-Fupload1"]])  # fmt: skip
    r = analyze_zeek(Analyzer(Options()), logs, files)
    rep = json_report.build(r)
    jsonschema.validate(rep, json_report.schema())
    [f] = [f for f in rep["findings"] if f["destination"]["ip"] == "47.88.1.10"]
    assert f["level"] == "confirmed" and f["faces"][0]["face"] is True
    assert f["faces"][0]["uid"] == "Cup1" and f["faces"][0]["file"].endswith("files.log")
    assert any(e.get("uid") == "Cup1" and e["log"] == "files" for e in f["evidence"])
    from netscan.report import html_report, markdown_report

    assert "uid Cup1" in html_report.render(rep) and "uid Cup1" in markdown_report.render(rep)
    assert "What this source cannot show" in html_report.render(rep)
    assert "## What this source cannot show" in markdown_report.render(rep)
    # without the extracted files, the same logs cannot confirm a face, and say so
    rep2 = json_report.build(analyze_zeek(Analyzer(Options()), logs))
    assert all(f["level"] != "confirmed" for f in rep2["findings"])
    assert any("--zeek-files" in x for x in rep2["limits"])


def test_extracted_files_from_real_zeek_logs(tmp_path: Path) -> None:
    """Zeek's files.log for the image POST and GET captures, with the objects the capture
    carries exported by tshark (names are not Zeek's, so they are found by the SHA-1 Zeek
    logged): the POST's picture is examined exactly as the packet path's reassembled body;
    the GET's picture is a download and is not."""
    import hashlib
    import shutil
    import subprocess

    assert shutil.which("tshark"), "tshark is part of the test set-up"
    a = Analyzer(Options())
    for case, trace, decode, uploads in (
        ("scripts.base.protocols.http.flip-content-line-orig", "trace.pcap",
         ["-d", "tcp.port==8000,http"], 1),
        ("scripts.base.protocols.http.flip-content-line-resp", "trace.pcapng", [], 0),
    ):  # fmt: skip
        d, out = ZEEK / case, tmp_path / case
        out.mkdir()
        subprocess.run(["tshark", "-r", str(d / trace), *decode, "-q", "--export-objects",
                        f"http,{out}"], check=True, capture_output=True)  # fmt: skip
        assert any(out.iterdir())
        pcap = a.run([str(d / trace)])
        zeek = analyze_zeek(a, d, out)

        def bodies(r):  # type: ignore[no-untyped-def]
            return sorted((b.method, b.path, b.ctx.src_ip, b.ctx.dst_ip,
                           hashlib.sha1(b.body).hexdigest()) for b in r.inventory.bodies)  # fmt: skip

        assert len(bodies(zeek)) == uploads
        assert bodies(zeek) == bodies(pcap)


@pytest.mark.parametrize(
    "case",
    [
        "opt.basic",
        "scripts.base.protocols.ssl.basic",
        "scripts.base.protocols.dhcp.dhcp-all-msg-types",
    ],
)
def test_json_logs_give_the_same_inventory(tmp_path: Path, case: str) -> None:
    """The same logs written as Zeek's JSON writer does (one object per line, unset fields left
    out, containers as arrays) give the same report as the TSV logs."""
    d = ZEEK / case
    for log in sorted(d.glob("*.log")):
        with (tmp_path / log.name).open("w") as fh:
            for _, rec in read_log(log):
                fh.write(json.dumps({k: v for k, v in rec.items() if v is not None}) + "\n")
    a = Analyzer(Options(premises=PREMISES.get(case)))
    tsv = json_report.build(analyze_zeek(a, d))
    js = json_report.build(analyze_zeek(a, tmp_path))
    assert facts(js) == facts(tsv)
    assert [i["format"].split(":")[0] for i in js["inputs"]] == ["zeek-json"] * len(js["inputs"])


def test_what_zeek_counted_missed(tmp_path: Path) -> None:
    """conn.log's missed_bytes (Zeek's count of content gaps) gives the report's
    capture_loss, without gaps (Zeek counts none), its warning and its verdict: here two
    connections of the public log given bytes missed."""
    from netscan.report import html_report, markdown_report

    src = ZEEK / "opt.basic"
    logs = tmp_path / "logs"
    logs.mkdir()
    for p in src.glob("*.log"):
        (logs / p.name).write_bytes(p.read_bytes())
    want = json_report.build(analyze_zeek(Analyzer(Options()), logs))
    payload = want["summary"]["capture_loss"]["tcp_payload_bytes"]
    assert want["summary"]["capture_loss"] == {
        "tcp_missed_bytes": 0, "tcp_connections": 0, "tcp_payload_bytes": payload,
    }  # fmt: skip
    assert not [w for w in want["warnings"] if "missed" in w]
    lines = (logs / "conn.log").read_text().splitlines(keepends=True)
    fields = next(ln for ln in lines if ln.startswith("#fields")).rstrip("\n").split("\t")[1:]
    col = {name: i for i, name in enumerate(fields)}
    tcp = [i for i, ln in enumerate(lines)
           if not ln.startswith("#") and ln.split("\t")[col["proto"]] == "tcp"]  # fmt: skip
    for i, n in ((tcp[2], 300), (tcp[3], 100)):
        cells = lines[i].rstrip("\n").split("\t")
        cells[col["missed_bytes"]] = str(n)
        lines[i] = "\t".join(cells) + "\n"
    (logs / "conn.log").write_text("".join(lines))
    rep = json_report.build(analyze_zeek(Analyzer(Options()), logs))
    jsonschema.validate(rep, json_report.schema())
    assert rep["summary"]["capture_loss"] == {
        "tcp_missed_bytes": 400, "tcp_connections": 2, "tcp_payload_bytes": payload - 400,
    }  # fmt: skip
    share = f"{400 / payload * 100:.2f} %"
    [said] = [w for w in rep["warnings"] if "missed" in w]
    assert said.startswith(f"Zeek's conn.log counts 400 bytes of TCP missed ({share} of ")
    assert " in 2 connections: content the sensor never saw " in said
    note = f"The capture missed {share} of the TCP bytes (400 bytes in 2 connections)"
    assert note in markdown_report.render(rep, lang="en")
    assert note in html_report.render(rep, lang="en")
    # a log's numbers beyond Zeek's 64-bit counts are held there, as the sums
    big = logs / "big"
    big.mkdir()
    rec = {"ts": 1.0, "uid": "C1", "id.orig_h": "192.168.1.2", "id.orig_p": 5000,
           "id.resp_h": "203.0.113.9", "id.resp_p": 443, "proto": "tcp",
           "orig_bytes": 10**30, "resp_bytes": 5, "missed_bytes": 10**25}  # fmt: skip
    (big / "conn.log").write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "uid": "C2"}) + "\n")
    loss = analyze_zeek(Analyzer(Options()), big).capture_loss
    # each connection's bytes held at 2**64 - 1, all of them missed: the sum held too
    assert loss == {"tcp_missed_bytes": 2**64 - 1, "tcp_connections": 2, "tcp_payload_bytes": 0}
