"""Body parsers and the local face detector on hand-made bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

import cv2
import numpy as np
import pytest

from netscan.analysis import faces
from netscan.analysis.content import MAX_ITEMS, carve_images, decode_b64_image, parse_body
from netscan.analysis.faces import FaceChecker
from netscan.events import Ctx, HttpBodyEvent
from tests.analysis.scenarios import build as sc


def _body(path: str, body: bytes, ctype: str | None = None) -> HttpBodyEvent:
    ctx = Ctx(0, 1, 0.0, src_ip="192.168.1.10", dst_ip="1.2.3.4", transport="tcp")
    return HttpBodyEvent(ctx=ctx, method="POST", path=path, content_type=ctype, body=body)


def test_carving_finds_whole_pictures_only() -> None:
    face = sc.face_jpeg()
    found = carve_images(b"junk" + face + b"\r\n--b\r\n" + face[: len(face) // 2])
    assert [(off, len(img), fmt) for off, img, fmt in found] == [(4, len(face), "jpeg")]


def test_base64_data_uri() -> None:
    uri = "data:image/jpeg;base64," + base64.b64encode(sc.face_jpeg()).decode()
    assert decode_b64_image(uri) == (sc.face_jpeg(), "jpeg")
    assert decode_b64_image("QUJD" * 200) is None


def test_iclock_biodata_face_template() -> None:
    tmpl = base64.b64encode(bytes(range(256)) * 4).decode()
    body = (
        f"BIODATA Pin=1007\tNo=0\tIndex=0\tValid=1\tDuress=0\tType=9\tMajorVer=5\tTmp={tmpl}\n"
        f"BIODATA Pin=1008\tNo=0\tIndex=0\tValid=1\tDuress=0\tType=1\tTmp={tmpl}\n"
    ).encode()
    parsed = parse_body(_body("/iclock/cdata?SN=X1&table=BIODATA", body))
    assert parsed.protocol == "iclock"
    assert [(i.fields["pin"], i.declared_face, i.template is not None) for i in parsed.items] == [
        ("1007", True, True)
    ]


def test_viid_person_object_without_picture() -> None:
    body = b'{"PersonListObject":{"PersonObject":[{"PersonID":"1"}]}}'
    parsed = parse_body(_body("/VIID/Persons", body, "application/VIID+JSON"))
    assert parsed.protocol == "viid" and parsed.items == []


def test_detector_face_and_non_face() -> None:
    checker = FaceChecker()
    face = checker.check(sc.face_jpeg(), "jpeg")
    cup = checker.check(sc.coffee_jpeg(), "jpeg")
    assert face.faces == 1 and (face.width, face.height) == (176, 176)
    assert cup.faces == 0
    assert face.kept_as is None and cup.kept_as is None


def test_json_pictures_in_document_order_with_their_paths() -> None:
    """Base64 pictures anywhere in a JSON upload: the first MAX_ITEMS in document order,
    each with the path that leads to it (keys, list indexes, an empty key)."""
    pic = base64.b64encode(sc.face_jpeg()).decode()
    doc = {
        "meta": {"note": "x" * 400, "n": 3, "ok": True, "none": None},
        "": {"face": pic},
        "list": [[pic], {"img": pic, "short": "abc"}],
        "many": [pic] * (MAX_ITEMS + 5),
    }
    parsed = parse_body(_body("/api/upload", json.dumps(doc).encode(), "application/json"))
    paths = [i.fields["field"] for i in parsed.items]
    assert parsed.protocol == "json" and len(paths) == MAX_ITEMS
    assert paths[:4] == ["face", "list[0][0]", "list[1].img", "many[0]"]
    assert paths[-1] == f"many[{MAX_ITEMS - 4}]"
    assert [i.declared_face for i in parsed.items[:2]] == [True, False]
    top = parse_body(_body("/api/upload", json.dumps([{"a": pic}]).encode()))
    assert [i.fields["field"] for i in top.items] == ["[0].a"]


def test_a_picture_is_decoded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Later analyses in the process (each snapshot of a step-by-step run) reuse what the
    detector found in the same bytes; every run still counts the picture in its budget."""
    calls: list[int] = []
    real = faces._detect

    def counting(data: bytes, dims: tuple[int, int]) -> Any:
        calls.append(len(data))
        return real(data, dims)

    monkeypatch.setattr(faces, "_detect", counting)
    monkeypatch.setattr(faces, "_DETECTIONS", faces._Detections(size=2))
    face, cup = sc.face_jpeg(), sc.coffee_jpeg()
    first = FaceChecker().check(face, "jpeg")
    again = FaceChecker()
    repeat = again.check(face, "jpeg")
    assert repeat is not first and repeat.as_dict() == first.as_dict() and repeat.faces == 1
    assert len(calls) == 1 and again.decoded == 1
    repeat.boxes.append([0, 0, 1, 1])  # a caller's copy: the remembered boxes stay as found
    assert FaceChecker().check(face, "jpeg").boxes == first.boxes
    # bounded: two other pictures push the face out, and it is decoded again
    flipped = cv2.imencode(".jpg", cv2.flip(cv2.imdecode(np.frombuffer(cup, np.uint8), 1), 1))
    for pic in (cup, flipped[1].tobytes(), face):
        FaceChecker().check(pic, "jpeg")
    assert len(calls) == 4
