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
        assert not [f for f in analyse(name).findings if f.kind == "face-library-sync"], name


# -- the other records each protocol sends, and the knowledge coming from the pack ----------


def isapi_face_data_record(d: Path) -> Path:
    """One person added by POST to FaceDataRecord: JSON record part and the picture part."""
    cap = Capture(205)
    rec = {"faceLibType": "blackFD", "FDID": "2", "FPID": "2001", "name": "Zhao Lei"}
    b = "----NetscanBoundary"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="FaceDataRecord"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode() + json.dumps(rec).encode()
    body += (
        f'\r\n--{b}\r\nContent-Disposition: form-data; name="FaceImage"; '
        'filename="2001.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode() + face_jpeg()
    body += f"\r\n--{b}--\r\n".encode()
    req = _request("POST", "/ISAPI/Intelligent/FDLib/FaceDataRecord?format=json",
                   HIK_TERMINAL.ip, body, f"multipart/form-data; boundary={b}")  # fmt: skip
    _push(cap, 1.0, ISAPI_PLATFORM, HIK_TERMINAL, 80, req)
    return cap.write(d / "facelib_isapi_fdr.pcap")


def dahua_face_info(d: Path) -> Path:
    """Two people added one by one through FaceInfoManager.cgi (record in Info)."""
    cap = Capture(206)
    photo = base64.b64encode(face_jpeg()).decode()
    t = 1.0
    for uid in ("31", "32"):
        doc = {"UserID": uid, "Info": {"UserName": f"user {uid}", "PhotoData": [photo]}}
        req = _request("POST", "/cgi-bin/FaceInfoManager.cgi?action=add", DAHUA_CAM.ip,
                       json.dumps(doc).encode(), "application/json")  # fmt: skip
        t = _push(cap, t, DAHUA_PLATFORM, DAHUA_CAM, 80, req) + 1.0
    return cap.write(d / "facelib_dahua_faceinfo.pcap")


def zkteco_userpic_face(d: Path) -> Path:
    """Older ADMS commands: USERPIC (user photo), FACE (face template) and a fingerprint
    BIODATA (Type=1: a template, but not a face)."""
    cap = Capture(207)
    photo = base64.b64encode(face_jpeg()).decode()
    tmpl = base64.b64encode(bytes(range(256)) * 2).decode()
    cmds = "\n".join([
        "C:201:DATA UPDATE USERINFO PIN=3001\tName=Sun Li\tPri=0",
        f"C:202:DATA UPDATE USERPIC PIN=3001\tSize={len(photo)}\tContent={photo}",
        f"C:203:DATA UPDATE FACE PIN=3002\tFID=0\tSize={len(tmpl)}\tValid=1\tTMP={tmpl}",
        f"C:204:DATA UPDATE BIODATA Pin=3003\tNo=0\tIndex=0\tValid=1\tType=1\tTmp={tmpl}",
        "C:205:DATA QUERY ATTLOG StartTime=2026-01-01 00:00:00",
    ]).encode() + b"\n"  # fmt: skip
    req = (f"GET /iclock/getrequest?SN=CQUJ224460123 HTTP/1.1\r\nHost: {ADMS_SERVER}:8081\r\n"
           "User-Agent: iClock Proxy/1.09\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    resp = (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(cmds)}\r\n"
            "Connection: close\r\n\r\n").encode() + cmds  # fmt: skip
    tcp_exchange(cap, 1.0, ZK_TERMINAL, ADMS_SERVER, 8081, req, resp)
    return cap.write(d / "facelib_zkteco_userpic.pcap")


@pytest.fixture(scope="module")
def more(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("facelib_more")
    return {"isapi": isapi_face_data_record(d), "dahua": dahua_face_info(d),
            "zkteco": zkteco_userpic_face(d)}  # fmt: skip


def _run(capture: Path, signatures: str | None = None) -> dict[str, Any]:
    opts = Options(country="CN", signatures=signatures)
    return json_report.build(Analyzer(opts).run([str(capture)]))


def test_isapi_face_data_record_post(more: dict[str, Path]) -> None:
    (f,) = _lib(_run(more["isapi"]))
    assert f["device"] == HIK_TERMINAL.mac and f["level"] == "confirmed"
    assert (f["library"]["records"], f["library"]["pictures"]) == (1, 1)
    assert f["library"]["protocols"] == ["hikvision-isapi"]


def test_dahua_face_info_manager(more: dict[str, Path]) -> None:
    (f,) = _lib(_run(more["dahua"]))
    assert f["device"] == DAHUA_CAM.mac and f["level"] == "confirmed"
    assert (f["library"]["records"], f["library"]["pictures"]) == (2, 2)
    assert len(f["evidence"]) == 2


def test_zkteco_userpic_and_face_templates(more: dict[str, Path]) -> None:
    (f,) = _lib(_run(more["zkteco"]))
    lib = f["library"]
    # USERINFO 3001, FACE 3002, BIODATA 3003: three people; one photo; one face template
    # (the Type=1 BIODATA is a fingerprint); the QUERY command is not a push
    assert (lib["records"], lib["pictures"], lib["templates"]) == (3, 1, 1)
    assert lib["faces_detected"] == 1 and f["level"] == "confirmed"


def test_the_knowledge_comes_from_the_pack(more: dict[str, Path], tmp_path: Path) -> None:
    """Without the pack's library blocks the same pushes are not recognised; with their
    words changed, only what the words name is counted."""
    import re
    import shutil

    from tests.signatures.helpers import BUNDLED

    bare = tmp_path / "bare"
    shutil.copytree(BUNDLED, bare)
    lib_file = bare / "protocol" / "face-library.yaml"
    text = lib_file.read_text(encoding="utf-8")
    stripped = re.sub(r"(?m)^    library:\n(?:      .*\n)+", "", text)
    assert stripped != text and not re.search(r"(?m)^    library:", stripped)
    lib_file.write_text(stripped, encoding="utf-8")
    for name in ("isapi", "dahua", "zkteco"):
        assert _lib(_run(more[name], str(bare))) == [], name

    photos_only = tmp_path / "photos"
    shutil.copytree(BUNDLED, photos_only)
    lib_file = photos_only / "protocol" / "face-library.yaml"
    lib_file.write_text(
        text.replace("template_tables: [BIODATA, FACE]", "template_tables: [BIODATA]"),
        encoding="utf-8",
    )
    (f,) = _lib(_run(more["zkteco"], str(photos_only)))
    assert f["library"]["templates"] == 0 and f["library"]["pictures"] == 1
