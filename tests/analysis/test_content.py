"""Body parsers and the local face detector on hand-made bodies."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from netscan.analysis import content, faces
from netscan.analysis.content import (
    MAX_ITEMS,
    ContentWords,
    body_router,
    carve_images,
    carving_stopped,
    decode_b64_image,
    parse_body,
)
from netscan.analysis.faces import FaceChecker
from netscan.events import Ctx, HttpBodyEvent
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import load_active_pack, load_pack, validate_pack
from tests.analysis.scenarios import build as sc
from tests.signatures.helpers import make_pack, sig_yaml


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


# -- what marks content as a face is the pack's (content blocks) ---------------------------

_WORDS_PACK = (
    "signatures:\n"
    + sig_yaml(
        "protocol.acme-biodata",
        "http_path_prefix: [/acme/bio]",
        examples="[{http_path_prefix: /acme/bio?t=1}]",
        extra='    parser: iclock\n    content:\n      face_template_types: ["7"]\n',
    )
    + sig_yaml(
        "protocol.acme-upload",
        "http_path_prefix: [/acme/up]",
        examples="[{http_path_prefix: /acme/up/1}]",
        extra="    content:\n      face_field_words: [MugShot]\n",
    )
)


def test_the_bundled_pack_says_what_marks_a_face() -> None:
    words = body_router(Matcher(load_active_pack())).words
    assert words.face_template_types == {"2", "9"}  # ZKTeco BIODATA face types
    assert {"face", "portrait"} <= set(words.face_field_words)


def test_face_words_and_template_types_come_from_the_pack(tmp_path: Path) -> None:
    route = body_router(Matcher(load_pack(make_pack(tmp_path, {"protocol/a.yaml": _WORDS_PACK}))))
    bundled = body_router(Matcher(load_active_pack()))
    assert route.words.face_field_words == ("mugshot",)  # lower-cased once
    pic = base64.b64encode(sc.face_jpeg()).decode()
    upload = _body("/acme/up/1", json.dumps({"mugshot": pic, "face": pic}).encode())
    assert [i.declared_face for i in parse_body(upload, route).items] == [True, False]
    assert [i.declared_face for i in parse_body(upload, bundled).items] == [False, True]
    tmpl = base64.b64encode(bytes(range(256)) * 4).decode()
    body = f"BIODATA Pin=1\tType=7\tTmp={tmpl}\nBIODATA Pin=2\tType=9\tTmp={tmpl}\n".encode()
    ev = _body("/acme/bio?table=BIODATA", body)
    assert [i.fields["pin"] for i in parse_body(ev, route).items] == ["1"]
    ev = _body("/iclock/cdata?SN=X1&table=BIODATA", body)
    assert [i.fields["pin"] for i in parse_body(ev, bundled).items] == ["2"]


def test_content_blocks_are_checked_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netscan.signatures import pack as pack_mod

    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(tmp_path / "cache"))
    pack = make_pack(tmp_path, {"protocol/a.yaml": _WORDS_PACK})
    parsed = load_pack(pack)
    monkeypatch.setattr(pack_mod, "_collect", None)  # the second load comes from the cache
    assert ContentWords.of(load_pack(pack)) == ContentWords.of(parsed)
    monkeypatch.undo()
    bad = _WORDS_PACK.replace("    parser: iclock\n", "")
    errors = validate_pack(make_pack(tmp_path / "b", {"protocol/a.yaml": bad}))
    assert any("face_template_types are read by a parser" in e for e in errors), errors
    device = "signatures:\n" + sig_yaml(
        "device.acme", "http_server: [acme]", examples="[{http_server: acme}]",
        extra="    content:\n      face_field_words: [mugshot]\n",
    )  # fmt: skip
    errors = validate_pack(make_pack(tmp_path / "c", {"device/a.yaml": device}))
    assert any("content is for protocol signatures" in e for e in errors), errors


@pytest.mark.parametrize(
    "boundary",
    [
        "b\ufffd\ufffdx",  # undecodable bytes in the head, replaced: only the body has them
        "\u00e9t\u00e9-\u4e2d",  # UTF-8 the head was decoded from
        "not-the-one",  # the header lies
        "\ud800",  # a lone surrogate (never from the network's UTF-8, but never a crash)
    ],
)
def test_multipart_boundary_the_head_cannot_give_back(boundary: str) -> None:
    """A multipart boundary is found in the body when the header's is not there (bytes
    the head decoding replaced, another encoding, a lie): the face part is still read, and
    no boundary text is ever an exception (a fuzzed upload crashed the analysis here)."""
    raw = boundary.encode("utf-8", "surrogatepass")
    if "\ufffd" in boundary or boundary == "not-the-one":
        raw = b"b\xff\xfex"  # what the body really carries
    face = sc.face_jpeg()
    body = (b"--" + raw + b"\r\nContent-Disposition: form-data; name=\"facePic\"; "
            b"filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" + face + b"\r\n--"
            + raw + b"--\r\n")  # fmt: skip
    parsed = parse_body(_body("/api/face/add", body, f"multipart/form-data; boundary={boundary}"))
    assert [(i.protocol, i.declared_face, i.image) for i in parsed.items] == [
        ("multipart", True, face)
    ]


def _isapi_alert(xml: str) -> bytes:
    face = sc.face_jpeg()
    return (b"--b\r\nContent-Type: application/xml\r\n\r\n" + xml.encode() + b"\r\n--b\r\n"
            b"Content-Disposition: form-data; name=\"Picture\"; filename=\"p.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + face + b"\r\n--b--\r\n")  # fmt: skip


def test_isapi_alert_values_with_prefixes_and_blanks() -> None:
    xml = ("<EventNotificationAlert><ns:eventType>\n  faceCapture \t</ns:eventType>"
           "<channelID><bad></channelID><channelID> 3 </channelID>"
           "<dateTime>2026-01-02T03:04:05</dateTime></EventNotificationAlert>")  # fmt: skip
    parsed = parse_body(_body("/upload", _isapi_alert(xml), "multipart/form-data; boundary=b"))
    assert parsed.protocol == "isapi"
    assert parsed.facts["event_type"] == "faceCapture"
    assert parsed.facts["channel"] == "3"  # the first channelID closed right after its text
    assert parsed.facts["time"] == "2026-01-02T03:04:05"
    assert parsed.items and parsed.items[0].declared_face


@contextlib.contextmanager
def _hang_guard(seconds: float = 30) -> Iterator[None]:
    """Turns a hang into a failure (not a speed target: the work is bounded by counting)."""

    def hang(_sig: int, _frame: object) -> None:
        raise TimeoutError("did not end")

    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_isapi_alert_blanks_cost_time_in_proportion() -> None:
    """An alert part of 20,000 characters (the most read of one part) whose tags open on
    blanks that never close: the old pattern backtracked cubically (a minute for 5,000
    blanks, hours for these); the scan reads each character a bounded number of times. The
    alarm only turns a hang into a failure."""
    hostile = ("<EventNotificationAlert><eventType>" + " " * 19000 + "x"
               + "<channelID>" + "\t" * 400 + "<dateTime>" * 40)  # fmt: skip
    body = _isapi_alert(hostile)
    with _hang_guard():
        parsed = parse_body(_body("/upload", body, "multipart/form-data; boundary=b"))
    assert parsed.protocol == "isapi" and parsed.facts["event_type"] == ""
    assert parsed.facts["channel"] is None and parsed.facts["time"] is None


def _scans_landing_backwards(starts: int, tail: int) -> bytes:
    """JPEG starts whose scans enter one run of zeros at places ever further back."""
    span, out = 6 * starts, bytearray()
    for k in range(starts):
        out += b"\xff\xd8\xff\xda" + struct.pack(">H", span + starts - k - (6 * k + 4))
    return bytes(out) + bytes(tail)


# buffers whose picture signatures made the carving walk the same bytes again and again
# (time in the square of their size: a minute for 1.3 MB of PNG signatures)
HOSTILE_CARVES = {
    "png signatures": b"\x89PNG\r\n\x1a\n" * 160_000,
    "jpeg signatures": b"\xff\xd8\xff\xe0" * 640_000,
    "jpeg fill bytes": (b"\xff\xd8\xff" + b"\xff" * 10) * 100_000,
    "restart markers": b"\xff\xd8" + b"\xff\xd0" * 600_000,
    "scans": (b"\xff\xd8\xff\xda\x00\x02" + b"\x00" * 20) * 50_000,
    "scans entering backwards": _scans_landing_backwards(8000, 1_000_000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CARVES))
def test_carving_costs_work_in_proportion_to_the_buffer(name: str) -> None:
    """Whatever the signatures, the carving's steps and scanned bytes are at most the
    buffer's size (each place is walked once: ``_Carver``), its safety net is never
    reached, and the face picture after them is carved. The counts are the measure; the
    alarm only turns a hang into a failure."""
    from netscan.analysis.content import _Carver

    face = sc.face_jpeg()
    data = HOSTILE_CARVES[name] + face
    carver = _Carver(data)
    with _hang_guard(), carving_stopped() as stopped:
        found = carver.carve(MAX_ITEMS)
    assert found and found[-1][0] + len(found[-1][1]) == len(data)  # ends with the face
    assert stopped == [0]
    assert carver.steps <= len(data) and carver.scanned <= len(data)
    assert carve_images(b"") == [] and carve_images(face[:100]) == []


def test_carving_safety_net_keeps_what_it_found_and_is_counted() -> None:
    """Were the walks ever to need more than the safety net allows (they cannot: each
    place is walked once), the buffer would stop there, keep the pictures found and be
    counted for the run's warning."""
    from netscan.analysis.content import _Carver

    face = sc.face_jpeg()
    carver = _Carver(face + b"\xff\xd8\xff\xe0" * 1000 + face)
    carver.limit_steps = carver.steps + 40  # the first face's walk, and a few more
    with carving_stopped() as stopped:
        found = carver.carve(MAX_ITEMS)
    assert [(off, img) for off, img, _ in found] == [(0, face)] and stopped == [1]


def test_carving_budget_leaves_real_pictures_alone() -> None:
    """Many real pictures, stray signatures between them, a progressive JPEG (several
    scans): all are carved and the budget is never reached."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    pics = []
    for i in range(MAX_ITEMS - 1):
        img = rng.integers(0, 255, size=(24 + i, 32, 3), dtype=np.uint8)
        ext, params = (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, i % 2]) if i % 3 else (".png", [])
        ok, buf = cv2.imencode(ext, img, params)
        assert ok
        pics.append(buf.tobytes())
    data = b"".join(b"\xff\xd8\xff\xe0junk\x89PNG\r\n\x1a\nxx" + p for p in pics)
    with carving_stopped() as stopped:
        found = carve_images(data)
    assert [img for _, img, _ in found] == pics and stopped == [0]


@pytest.mark.parametrize("depth", [50, 5_000, 200_000])
def test_json_nested_past_the_decoder_is_never_an_exception(depth: int) -> None:
    """A JSON upload nested deeper than the decoder goes (a 10 kB body of brackets crashed
    the analysis with RecursionError) is read as a document the decoder refused: its
    base64 pictures are still found by their string values; a shallow one is walked."""
    pic = base64.b64encode(sc.face_jpeg()).decode()
    body = ('{"a":' * depth + '{"faceImage":"' + pic + '"}' + "}" * depth).encode()
    parsed = parse_body(_body("/api/upload", body, "application/json"))
    assert [i.protocol for i in parsed.items] == ["json"]
    (item,) = parsed.items
    assert item.image == sc.face_jpeg() and item.declared_face
    if depth == 50:
        assert item.fields["field"] == "a." * 50 + "faceImage"
    else:  # the first levels and the innermost key: the ones between are not kept (past
        # MAX_JSON_TOKENS, as here at 200,000 levels, the key alone)
        assert item.fields["field"].endswith("….faceImage"), item.fields["field"]
        assert item.fields["field"].startswith("a.a.a.") == (depth == 5_000)
        assert "could not be read" in item.what
    bare = parse_body(_body("/api/upload", b"[" * depth + b"]" * depth, "application/json"))
    assert bare.items == []


def test_json_upload_cut_short_still_gives_its_whole_pictures() -> None:
    """A JSON upload cut at the capture's bound: the pictures whole before the cut are found
    (escaped slashes and line breaks in the base64 as some encoders write them), with the
    path to each as the document would give it, and the cut one as far as it goes (the
    decoder shows the top of a cut picture)."""
    face = sc.face_jpeg()
    pic = base64.b64encode(face)
    escaped = pic.replace(b"/", b"\\/")
    body = (b'{"records":[{"facePic":"' + pic + b'"},{"photo": "data:image/jpeg;base64,'
            + escaped[:4000] + b"\\r\\n" + escaped[4000:] + b'"},["' + pic + b'"],{"cut":"'
            + pic[: len(pic) // 2])  # fmt: skip
    parsed = parse_body(_body("/api/upload", body, "application/json"))
    got = [(i.fields["field"], i.image == face, i.declared_face) for i in parsed.items]
    assert got == [
        ("records[0].facePic", True, True),
        ("records[1].photo", True, False),
        ("records[2][0]", True, False),
        ("records[3].cut", False, False),
    ]
    cut = parsed.items[-1].image
    assert cut is not None and len(cut) > 1000 and face.startswith(cut)
    # in a list, by its index; outside any level, by where it starts
    (item,) = parse_body(_body("/api/upload", b'["' + pic + b'"', "application/json")).items
    assert item.fields["field"] == "[0]"
    body = b'{"a":1}} "' + pic + b'"'
    (item,) = parse_body(_body("/api/upload", body, "application/json")).items
    assert item.fields["field"] == f"@{body.index(pic)}"


def test_cut_json_keeps_the_paths_of_nested_records() -> None:
    """A GA/T 1400 upload cut short (the capture's bound, a gap): its picture is found, and
    its path names the face list it is in, as the whole document's would (the key before
    the picture alone, "Data", says nothing of faces). Before, a GA/T 1400 upload that did
    not decode gave no picture at all."""
    pic = base64.b64encode(sc.face_jpeg())
    body = (b'{"FaceListObject":{"FaceObject":[{"FaceID":"1","SubImageList":{"SubImageInfoObject"'
            b':[{"Type":"14","Data":"' + pic + b'"}]}},{"FaceID":"2","SubImageList":{"Sub')  # fmt: skip
    (item,) = parse_body(_body("/VIID/Faces", body, "application/json")).items
    path = "FaceListObject.FaceObject[0].SubImageList.SubImageInfoObject[0].Data"
    assert (item.protocol, item.fields["field"], item.fields["object"]) == (
        "viid",
        path,
        "FaceObject",
    )
    assert item.declared_face and item.image == sc.face_jpeg()
    # the same cut short elsewhere than a GA/T 1400 path: read as any JSON upload
    (item,) = parse_body(_body("/api/upload", body, "application/json")).items
    assert (item.protocol, item.fields["field"]) == ("json", path)
    assert item.declared_face
    # an image list's pictures are not declared faces
    scene = body.replace(b"FaceListObject", b"ImageListObject").replace(b"FaceObject", b"Image")
    (item,) = parse_body(_body("/VIID/Images", scene, "application/json")).items
    assert (item.protocol, item.fields["object"], item.declared_face) == ("viid", "Image", False)


def test_json_tokens_past_the_budget_still_give_their_pictures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``MAX_JSON_TOKENS`` (a text of little but brackets and keys) the pictures of the
    rest are found by the pattern, named by the key before each."""
    monkeypatch.setattr(content, "MAX_JSON_TOKENS", 1000)
    pic = base64.b64encode(sc.face_jpeg())
    body = b'{"a":[' + b"[]," * 2000 + b'{"faceImage":"' + pic + b'"}'  # cut
    (item,) = parse_body(_body("/api/upload", body, "application/json")).items
    assert item.fields["field"] == "….faceImage" and item.declared_face
    assert item.image == sc.face_jpeg()


def test_multipart_json_record_part_gives_its_base64_pictures() -> None:
    """A multipart upload whose record part is JSON holding a base64 face (and a part cut
    short): the picture is found with the part and the path to it; a part that is a
    picture is carved as before."""
    face = sc.face_jpeg()
    pic = base64.b64encode(face).decode()
    record = json.dumps({"person": {"name": "x", "faceImage": pic}}).encode()
    body = (b"--b\r\nContent-Disposition: form-data; name=\"record\"\r\n"
            b"Content-Type: application/json\r\n\r\n" + record + b"\r\n--b\r\n"
            b"Content-Disposition: form-data; name=\"cut\"\r\n\r\n"
            + b'{"img": "' + pic.encode() + b'", "more": [' + b"\r\n--b\r\n"
            b"Content-Disposition: form-data; name=\"snap\"; filename=\"s.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + face + b"\r\n--b--\r\n")  # fmt: skip
    parsed = parse_body(_body("/api/upload", body, "multipart/form-data; boundary=b"))
    got = [(i.fields.get("part"), i.fields.get("field"), i.image == face, i.declared_face)
           for i in parsed.items]  # fmt: skip
    assert parsed.protocol == "multipart"
    assert got == [
        ("record", "person.faceImage", True, True),
        ("cut", "img", True, False),
        ("snap", None, True, False),
    ]


def test_json_text_that_does_not_decode_keeps_its_raw_pictures_too() -> None:
    """A body that starts like JSON but does not decode, holding a base64 picture and a raw
    one: both are found (the raw carving is not skipped for the base64 one)."""
    face = sc.face_jpeg()
    pic = base64.b64encode(face)
    body = b'{"faceImage":"' + pic + b'", "raw": ' + face + b" }"
    parsed = parse_body(_body("/api/upload", body, "application/json"))
    assert parsed.protocol == "json"
    assert [(i.protocol, i.fields.get("field"), i.image == face) for i in parsed.items] == [
        ("json", "faceImage", True),
        ("raw", None, True),
    ]


def test_sender_text_in_every_item_is_clipped() -> None:
    """A part name of 2 MB over 64 pictures made 256 MB of item text: part names, file
    names and types, ISAPI values and ZKTeco PINs go into every picture's item, so they are
    clipped to their head and tail."""
    face = sc.face_jpeg()
    name = "n" * 2_000_000
    body = (b'--b\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n" + face * 64 + b"\r\n--b--\r\n")  # fmt: skip
    parsed = parse_body(_body("/up", body, "multipart/form-data; boundary=b"))
    assert len(parsed.items) == 64
    assert {i.fields["part"] for i in parsed.items} == {"n" * 99 + "…" + "n" * 100}
    xml = "<EventNotificationAlert><eventType>" + "x" * 15000 + "</eventType>"
    isapi = parse_body(_body("/up", _isapi_alert(xml), "multipart/form-data; boundary=b"))
    assert len(isapi.facts["event_type"]) == 200 and len(isapi.items[0].what) < 400
    photo = b"PIN=" + b"7" * 100_000 + b"\0" + face * 3
    zk = parse_body(_body("/iclock/cdata?SN=1&table=ATTPHOTO", photo, "application/octet-stream"))
    assert len(zk.items) == 3 and all(len(i.fields["pin"]) == 200 for i in zk.items)


def test_dahua_codes_listed_are_bounded_and_face_is_seen_in_all() -> None:
    """800 parts each naming 1,200 other event codes (the distinct codes were kept in a list
    searched once per code: 71 s for 3 MB): 16 codes are listed, and a face code in the last
    part still marks the pictures as faces."""
    parts = b"".join(
        b"--b\r\nContent-Type: text/plain\r\n\r\n"
        + b"".join(b"Code=p%dc%d;" % (k, i) for i in range(1200)) + b"\r\n"
        for k in range(800)
    )  # fmt: skip
    face = sc.face_jpeg()
    body = (parts + b"--b\r\nContent-Type: text/plain\r\n\r\nCode=FaceDetection;\r\n"
            b"--b\r\nContent-Type: image/jpeg\r\n\r\n" + face + b"\r\n--b--\r\n")  # fmt: skip
    with _hang_guard():
        parsed = parse_body(_body("/up", body, "multipart/form-data; boundary=b"))
    assert parsed.protocol == "dahua" and len(parsed.facts["codes"]) == 16
    assert [(i.image == face, i.declared_face) for i in parsed.items] == [(True, True)]
