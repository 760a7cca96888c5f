"""GA/T 1400 uploads that do not decode as JSON (cut at the capture's bound, or by a gap in
the capture) still give their face pictures, end to end. Before, a GA/T 1400 body the JSON
decoder refused gave no picture at all, and the face upload was not confirmed."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.analysis.scenarios import build as sc
from tests.hostile_inputs import (
    FACE_API_HOST,
    PCAP_HEADER,
    T0,
    http_post,
    record,
    run_netscan,
    tcp_session,
    write_posts,
)


def _viid_cut() -> bytes:
    pic = base64.b64encode(sc.face_jpeg())
    return (b'{"FaceListObject":{"FaceObject":[{"FaceID":"1","SubImageList":{"SubImageInfoObject'
            b'":[{"Type":"11","Data":"' + pic + b'"}]}},{"FaceID":"2","SubImageList":{"SubIm')  # fmt: skip


def test_a_cut_gat1400_face_upload_is_a_confirmed_finding(tmp_path: Path) -> None:
    pcap = tmp_path / "viid-cut.pcap"
    write_posts(pcap, [(_viid_cut(), "application/VIID+JSON")], url="/VIID/Faces")
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] == "confirmed", run.warnings
    (body,) = [e for e in finding["evidence"] if "face(s) detected" in e["what"]]
    assert "GA/T 1400 FaceObject" in body["what"]
    assert "FaceListObject.FaceObject[0].SubImageList.SubImageInfoObject[0].Data" in body["what"]
    assert "1 face(s) detected" in body["what"]


def test_a_gat1400_upload_with_a_gap_gives_the_pictures_before_it(tmp_path: Path) -> None:
    """A segment of the upload never captured (a mirror port dropping under load): the body
    up to the gap is handed over and its whole picture still confirms the face."""
    pic = base64.b64encode(sc.face_jpeg())
    obj = b'{"FaceID":"%d","SubImageList":{"SubImageInfoObject":[{"Type":"11","Data":"%s"}]}}'
    body = (b'{"FaceListObject":{"FaceObject":[' + obj % (1, pic) + b"," + obj % (2, pic)
            + b"]}}")  # fmt: skip
    request = http_post("/VIID/Faces", FACE_API_HOST, body, "application/VIID+JSON")
    frames, _ = tcp_session(float(T0), 40000, request)
    lost = request.index(pic, request.index(b'"FaceID":"2"')) + len(pic) // 2
    start = 3 + lost // 1460  # the handshake's three frames, then the request's segments
    assert frames[start][1].endswith(request[(start - 3) * 1460 : (start - 2) * 1460])
    pcap = tmp_path / "viid-gap.pcap"
    with pcap.open("wb") as fh:
        fh.write(PCAP_HEADER)
        for k, (ts, frame) in enumerate(frames):
            if k != start:
                fh.write(record(ts, frame))
    run = run_netscan([str(pcap)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.report is not None
    (finding,) = run.report["findings"]
    assert finding["level"] == "confirmed", run.warnings
    whats = [e["what"] for e in finding["evidence"]]
    path = "FaceListObject.FaceObject[0].SubImageList.SubImageInfoObject[0].Data"
    assert any(path in w and "1 face(s) detected" in w for w in whats), whats
