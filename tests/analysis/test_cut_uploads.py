"""GA/T 1400 uploads that do not decode as JSON (cut at the capture's bound, or by a gap in
the capture) still give their face pictures, end to end. Before, a GA/T 1400 body the JSON
decoder refused gave no picture at all, and the face upload was not confirmed."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest

from netscan.analysis.content import parse_body
from tests.analysis.scenarios import build as sc
from tests.analysis.test_content import _body
from tests.hostile_inputs import (
    FACE_API_HOST,
    T0,
    http_post,
    run_netscan,
    tcp_session,
    write_frames,
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
    finding = run.finding()
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
    write_frames(pcap, frames, start)
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] == "confirmed", run.warnings
    whats = run.evidence()
    path = "FaceListObject.FaceObject[0].SubImageList.SubImageInfoObject[0].Data"
    assert any(path in w and "1 face(s) detected" in w for w in whats), whats


def _drop_segment(src: Path, dst: Path, which: str) -> None:
    """``src`` without one of the client's data segments of its upload (the last or the
    middle one): a segment the capture never saw."""
    from scapy.all import TCP, Raw, rdpcap, wrpcap

    pkts = rdpcap(str(src))
    ups = [i for i, p in enumerate(pkts) if TCP in p and Raw in p and p[TCP].sport > 32767]
    assert len(ups) >= 4
    drop = ups[-1] if which == "last" else ups[len(ups) // 2]
    wrpcap(str(dst), [p for i, p in enumerate(pkts) if i != drop])


@pytest.mark.parametrize("scenario", ["isapi_multipart", "dahua_snapshot", "iclock_attphoto",
                                      "json_face_api"])  # fmt: skip
def test_an_upload_missing_its_last_segment_still_confirms_the_face(
    scenario: str, tmp_path: Path
) -> None:
    """The last segment of the upload lost (with the end of the picture): the picture is
    carved as far as it goes and decoded; the face in it is still found, and the evidence
    says the picture was cut short. Before, no finding at all: the picture was never
    carved (no end marker), or (base64) did not decode."""
    whole = getattr(sc, scenario)(tmp_path)
    pcap = tmp_path / f"{scenario}-cut.pcap"
    _drop_segment(whole, pcap, "last")
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] == "confirmed", run.warnings
    assert any("cut short, 1 face(s) detected" in e["what"] for e in finding["evidence"])
    assert [f["cut"] for f in finding["faces"]] == [True]
    assert "Corrupt JPEG" not in run.stderr  # libjpeg's warning on the cut picture


@pytest.mark.parametrize("scenario", ["isapi_multipart", "iclock_attphoto"])
def test_an_upload_missing_a_middle_segment_is_still_a_finding(
    scenario: str, tmp_path: Path
) -> None:
    """Half the picture lost: too little of it for the detector, but the face terminal's
    upload of a picture labelled a face is still a finding (before: none)."""
    whole = getattr(sc, scenario)(tmp_path)
    pcap = tmp_path / f"{scenario}-gap.pcap"
    _drop_segment(whole, pcap, "middle")
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] in ("likely", "confirmed"), run.warnings


def test_a_cut_picture_is_carved_only_from_a_body_cut_short() -> None:
    """A JPEG cut inside its entropy-coded data at the end of the body: kept as far as it goes
    when the capture cut the body short, not when the body is whole (a sender's broken
    picture is not taken for one the capture lost)."""
    face = sc.face_jpeg()
    cut = face[: len(face) * 3 // 4]
    whole = _body("/upload", b"--b\r\n\r\n" + cut, "image/jpeg")
    assert parse_body(whole).items == []
    (item,) = parse_body(replace(whole, complete=False)).items
    assert item.image == cut
    # a start whose walk runs out in its headers (no scan begun) is nothing
    head = face[: face.index(b"\xff\xda")]
    assert parse_body(replace(_body("/upload", head, "image/jpeg"), complete=False)).items == []


def _two_picture_upload() -> tuple[bytes, bytes, list[tuple[float, bytes]]]:
    """A camera's multipart upload of two face pictures: the picture, the request, and
    the TCP session's frames (handshake first, then the request's 1,460-byte segments)."""
    face = sc.face_jpeg()
    part = (
        b'--b\r\nContent-Disposition: form-data; name="pic%d"\r\nContent-Type: image/jpeg\r\n\r\n'
    )
    body = part % 1 + face + b"\r\n" + part % 2 + face + b"\r\n--b--\r\n"
    request = http_post("/api/face/upload", FACE_API_HOST, body, "multipart/form-data; boundary=b")
    frames, _ = tcp_session(float(T0), 40000, request)
    return face, request, frames


def test_pictures_whole_after_a_lost_segment_are_still_found(tmp_path: Path) -> None:
    """Two pictures in one upload, a segment of the first lost: the length frames the body
    past the hole (the core's HTTP parser skips the bytes lost), so the second picture,
    whole after it, is carved and its face confirmed. Before, parsing gave up the body at
    the hole and looked for the next request: only "likely"."""
    face, request, frames = _two_picture_upload()
    lost = 3 + (request.index(face) + len(face) // 2) // 1460  # inside the first picture
    assert lost < 3 + request.index(face, request.index(face) + 1) // 1460  # not the second
    pcap = tmp_path / "two-pictures-gap.pcap"
    write_frames(pcap, frames, lost)
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] == "confirmed", run.warnings
    whats = run.evidence()
    assert any("part 'pic2'" in w and "1 face(s) detected" in w for w in whats), whats


def test_a_picture_after_a_lost_request_head_is_still_found(tmp_path: Path) -> None:
    """The upload's first segment lost, with its request line and headers: what follows,
    up to the next request, is kept as the rest of a request whose head was not captured
    (the hole's length is known), and the picture whole in it confirms the face. Before, the
    bytes were passed over looking for the next request: no finding at all."""
    _face, request, frames = _two_picture_upload()
    assert frames[3][1].endswith(request[:1460])  # the head's segment
    pcap = tmp_path / "head-lost.pcap"
    write_frames(pcap, frames, 3)
    run = run_netscan([str(pcap)], tmp_path)
    finding = run.finding()
    assert finding["level"] == "confirmed", run.warnings
    whats = run.evidence()
    assert any(
        w.startswith("a request whose head was not captured: JPEG body posted to an unknown path")
        and "1 face(s) detected" in w
        for w in whats
    ), whats
