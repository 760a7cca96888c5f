"""Face libraries pushed to terminals from off-site, on generated captures: Hikvision ISAPI
face-library records, Dahua access-control face records, ZKTeco ADMS user photos and face
templates handed out in getrequest answers, and an encrypted bulk download to a face
terminal. Each is a finding of kind face-library-sync with its records and pictures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from netscan.analyze import Analyzer, Options
from netscan.report import json_report
from tests.analysis.scenarios.build import (
    ADMS_SERVER,
    DAHUA_CAM,
    DAHUA_PLATFORM,
    GATEWAY,
    HIK_TERMINAL,
    ISAPI_PLATFORM,
    ZK_TERMINAL,
    Capture,
    Host,
    face_jpeg,
    http_ok,
    tcp_exchange,
    tls_like_upload,
)

PLATFORM_IN_SG = "47.74.128.10"


def _request(method: str, path: str, host: str, body: bytes, ctype: str) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body  # fmt: skip


def _push(cap: Capture, t: float, platform: str, device: Host, port: int, req: bytes) -> float:
    """An off-site platform connects to the device on the premises (through the router)."""
    return tcp_exchange(cap, t, Host(GATEWAY.mac, platform), device.ip, port, req,
                        http_ok(b'{"statusCode":1}', "application/json"),
                        server_mac=device.mac)  # fmt: skip


def isapi(d: Path) -> Path:
    cap = Capture(201)
    t = 1.0
    for fpid, name in (("1001", "Zhang Wei"), ("1002", "Li Na")):
        rec = {"faceLibType": "blackFD", "FDID": "1", "FPID": fpid, "name": name}
        b = "MIME_boundary"
        body = (
            f'--{b}\r\nContent-Disposition: form-data; name="FaceDataRecord"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode() + json.dumps(rec).encode()
        body += (
            f'\r\n--{b}\r\nContent-Disposition: form-data; name="img"; filename="{fpid}.jpg"'
            "\r\nContent-Type: image/jpeg\r\n\r\n"
        ).encode() + face_jpeg()
        body += f"\r\n--{b}--\r\n".encode()
        req = _request("PUT", "/ISAPI/Intelligent/FDLib/FDSetUp?format=json", HIK_TERMINAL.ip,
                       body, f"multipart/form-data; boundary={b}")  # fmt: skip
        t = _push(cap, t, ISAPI_PLATFORM, HIK_TERMINAL, 80, req) + 2.0
    return cap.write(d / "facelib_isapi.pcap")


def dahua(d: Path) -> Path:
    cap = Capture(202)
    photo = base64.b64encode(face_jpeg()).decode()
    doc = {"FaceList": [{"UserID": "7", "PhotoData": [photo]}, {"UserID": "8", "PhotoData": [photo]},
                        {"UserID": "9", "PhotoData": [photo]}]}  # fmt: skip
    req = _request("POST", "/cgi-bin/AccessFace.cgi?action=insertMulti", DAHUA_CAM.ip,
                   json.dumps(doc).encode(), "application/json")  # fmt: skip
    _push(cap, 1.0, DAHUA_PLATFORM, DAHUA_CAM, 80, req)
    return cap.write(d / "facelib_dahua.pcap")


def zkteco(d: Path) -> Path:
    cap = Capture(203)
    photo = base64.b64encode(face_jpeg()).decode()
    tmpl = base64.b64encode(bytes(range(256)) * 4).decode()
    cmds = "\n".join([
        "C:101:DATA UPDATE USERINFO PIN=1007\tName=Wang Fang\tPri=0\tPasswd=\tCard=\tGrp=1",
        "C:102:DATA UPDATE USERINFO PIN=1008\tName=Chen Jie\tPri=0\tPasswd=\tCard=\tGrp=1",
        f"C:103:DATA UPDATE BIOPHOTO PIN=1007\tType=9\tSize={len(photo)}\tContent={photo}",
        f"C:104:DATA UPDATE BIODATA Pin=1008\tNo=0\tIndex=0\tValid=1\tDuress=0\tType=9\t"
        f"MajorVer=58\tMinorVer=12\tFormat=0\tTmp={tmpl}",
    ]).encode() + b"\n"  # fmt: skip
    sn = "CQUJ224460123"
    req = (f"GET /iclock/getrequest?SN={sn} HTTP/1.1\r\nHost: {ADMS_SERVER}:8081\r\n"
           "User-Agent: iClock Proxy/1.09\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    resp = (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(cmds)}\r\n"
            "Connection: close\r\n\r\n").encode() + cmds  # fmt: skip
    tcp_exchange(cap, 1.0, ZK_TERMINAL, ADMS_SERVER, 8081, req, resp)
    return cap.write(d / "facelib_zkteco.pcap")


def encrypted(d: Path) -> Path:
    """The ZKTeco terminal (known by its ADMS polls) downloads 3 MB over TLS from a platform."""
    cap = Capture(204)
    req = (f"GET /iclock/getrequest?SN=CQUJ224460123 HTTP/1.1\r\nHost: {ADMS_SERVER}:8081\r\n"
           "User-Agent: iClock Proxy/1.09\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    tcp_exchange(cap, 0.5, ZK_TERMINAL, ADMS_SERVER, 8081, req, http_ok(b"OK"))
    # small requests up, big answers down: the library arrives encrypted
    tls_like_upload(cap, 2.0, ZK_TERMINAL, PLATFORM_IN_SG,
                    [(3.0 + 0.05 * k, 100) for k in range(2500)], down_each=1300)  # fmt: skip
    return cap.write(d / "facelib_encrypted.pcap")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    d = tmp_path_factory.mktemp("facelib")
    out = {}
    for name, build in (("isapi", isapi), ("dahua", dahua), ("zkteco", zkteco),
                        ("encrypted", encrypted)):  # fmt: skip
        res = Analyzer(Options(country="CN")).run([str(build(d))])
        out[name] = json_report.build(res)
    return out


def _lib(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == "face-library-sync"]


def test_isapi_face_library_records(results: dict[str, dict[str, Any]]) -> None:
    (f,) = _lib(results["isapi"])
    assert f["device"] == HIK_TERMINAL.mac and f["destination"]["ip"] == ISAPI_PLATFORM
    assert f["level"] == "confirmed"
    assert f["library"] == {"protocols": ["hikvision-isapi"], "records": 2, "pictures": 2,
                            "faces_detected": 2, "templates": 0, "encrypted": False}  # fmt: skip
    assert len(f["evidence"]) == 2 and all(e["frame"] > 0 for e in f["evidence"])
    assert "face library held off-site" in f["reason"] and f["provisions"]


def test_dahua_face_records(results: dict[str, dict[str, Any]]) -> None:
    (f,) = _lib(results["dahua"])
    assert f["device"] == DAHUA_CAM.mac and f["destination"]["ip"] == DAHUA_PLATFORM
    assert f["library"]["records"] == 3 and f["library"]["pictures"] == 3
    assert f["level"] == "confirmed"


def test_zkteco_adms_commands_in_getrequest_answers(results: dict[str, dict[str, Any]]) -> None:
    (f,) = _lib(results["zkteco"])
    assert f["device"] == ZK_TERMINAL.mac and f["destination"]["ip"] == ADMS_SERVER
    lib = f["library"]
    assert (lib["records"], lib["pictures"], lib["templates"]) == (2, 1, 1)
    assert lib["faces_detected"] == 1 and f["level"] == "confirmed"


def test_encrypted_bulk_download(results: dict[str, dict[str, Any]]) -> None:
    (f,) = _lib(results["encrypted"])
    assert f["device"] == ZK_TERMINAL.mac and f["destination"]["ip"] == PLATFORM_IN_SG
    assert f["level"] == "possible" and f["library"]["encrypted"] is True
    assert f["bytes_down"] >= 3_000_000 and f["cross_border"] is True
    assert f["destination"]["ip_country"] == "SG"


def test_reports_valid_and_other_scenarios_untouched(results: dict[str, dict[str, Any]]) -> None:
    import jsonschema

    from netscan.report.json_report import schema

    for r in results.values():
        jsonschema.validate(r, schema())


def test_uploads_alone_make_no_library_finding(analyse: Any) -> None:
    for name in ("iclock_attphoto", "isapi_multipart", "dahua_snapshot", "possible_vendor_cloud"):
        assert not [f for f in analyse(name).findings if f["kind"] == "face-library-sync"], name
