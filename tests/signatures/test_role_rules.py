"""Role rules and body parsers are pack data: the loader checks them, and changing the data
changes what netscan concludes without touching code."""

from __future__ import annotations

from pathlib import Path

from netscan.analysis.content import body_router, parse_body
from netscan.analysis.roles import rule_hints, rules_for
from netscan.events import Ctx, HttpBodyEvent
from netscan.signatures.matcher import Matcher
from netscan.signatures.pack import load_active_pack, load_pack, validate_pack
from tests.signatures.helpers import make_pack, sig_yaml


def _errors(tmp_path: Path, files: dict[str, str]) -> list[str]:
    return validate_pack(make_pack(tmp_path, files))


def test_rule_needs_a_report_role(tmp_path: Path) -> None:
    bad = "signatures:\n" + sig_yaml("role.xyz", "hostname: [kiosk]", role="video-device",
                                     examples="[{hostname: kiosk}]")  # fmt: skip
    errs = _errors(tmp_path, {"role/a.yaml": bad})
    assert any("role.xyz: a role rule needs a report role" in e for e in errs), errs


def test_unknown_behaviour_is_refused(tmp_path: Path) -> None:
    bad = "signatures:\n" + sig_yaml("role.xyz", "behaviour: [teleports]", role="camera",
                                     examples="[{behaviour: teleports}]")  # fmt: skip
    errs = _errors(tmp_path, {"role/a.yaml": bad})
    assert any("unknown behaviour 'teleports'" in e for e in errs), errs


def test_behaviour_is_for_rules_only(tmp_path: Path) -> None:
    bad = "signatures:\n" + sig_yaml("device.xyz", "behaviour: [serves-rtsp]", role="camera",
                                     examples="[{behaviour: serves-rtsp}]")  # fmt: skip
    errs = _errors(tmp_path, {"device/a.yaml": bad})
    assert any("behaviour is for role rules only" in e for e in errs), errs


def test_parser_only_on_protocol_paths(tmp_path: Path) -> None:
    bad = "signatures:\n" + sig_yaml("device.xyz", "hostname: [kiosk]", role="camera",
                                     examples="[{hostname: kiosk}]", extra="    parser: viid\n")  # fmt: skip
    errs = _errors(tmp_path, {"device/a.yaml": bad})
    assert any("parser is for protocol signatures" in e for e in errs), errs


def test_a_maintainer_changes_roles_without_code(tmp_path: Path) -> None:
    """A new rule file makes kiosks printers; the same facts weigh nothing without it."""
    rule = "signatures:\n" + sig_yaml("role.kiosk-printer", "hostname: [{prefix: kiosk-}]",
                                      role="printer", examples="[{hostname: kiosk-3}]",
                                      near_misses="[{hostname: kiosk}]")  # fmt: skip
    pack = load_pack(make_pack(tmp_path, {"role/kiosk.yaml": rule}))
    facts = [("hostname", "kiosk-3")]
    assert rule_hints(rules_for(pack), facts, {}) == [
        ("printer", 0.8, "hostname kiosk-3 (role.kiosk-printer)")
    ]
    assert rule_hints(rules_for(load_active_pack()), facts, {}) == []


def test_rules_weigh_once_and_match_all_across_facts() -> None:
    rules = rules_for(load_active_pack())
    hints = rule_hints(rules, [("behaviour", "records-streams"), ("device_role", "video-device"),
                               ("behaviour", "records-streams")],
                       {"records-streams": "pulls 3"})  # fmt: skip
    assert sorted(hints) == [("nvr", 0.7, "pulls 3 (role.recorder)"),
                             ("nvr", 0.8, "pulls 3 (role.recorder-video-vendor)")]  # fmt: skip


def _body(path: str, body: bytes, ctype: str = "application/json") -> HttpBodyEvent:
    return HttpBodyEvent(ctx=Ctx(file=0, frame=1, ts=0.0), method="POST", path=path,
                         content_type=ctype, body=body)  # fmt: skip


def test_body_parsers_follow_the_pack() -> None:
    route = body_router(Matcher(load_active_pack()))
    assert route("/VIID/Faces") == {"viid"}
    assert route("/iclock/cdata?SN=1&table=ATTPHOTO") == {"iclock"}
    assert route("/ISAPI/Event/notification/alertStream") == {"isapi"}
    assert route("/upload") == frozenset()


def test_a_new_parser_path_is_data(tmp_path: Path) -> None:
    """A platform that serves VIID under another path: one pack entry routes its bodies."""
    sig = "signatures:\n" + sig_yaml(
        "protocol.viid-mirror", "http_path_prefix: [/gat1400/]",
        examples="[{http_path_prefix: /gat1400/Faces}]", extra="    parser: viid\n",
    )  # fmt: skip
    route = body_router(Matcher(load_pack(make_pack(tmp_path, {"protocol/v.yaml": sig}))))
    ev = _body("/gat1400/Faces", b"[]")
    assert parse_body(ev, route).protocol == "viid"
    assert parse_body(ev, body_router(Matcher(load_active_pack()))).protocol != "viid"
