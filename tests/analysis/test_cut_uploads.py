"""GA/T 1400 uploads that do not decode as JSON (cut at the capture's bound, or by a gap in
the capture) still give their face pictures, end to end. Before, a GA/T 1400 body the JSON
decoder refused gave no picture at all, and the face upload was not confirmed."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.analysis.scenarios import build as sc
from tests.hostile_inputs import run_netscan, write_posts


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
