"""One role vocabulary: the roles the pack names are the code's ``Role`` words (plus the few
roles only a signature may claim), and the families the analysis uses are made of them."""

from __future__ import annotations

from netscan.inventory.model import (
    CAMERA_FAMILY,
    FEEDER_ROLES,
    GENERIC_VIDEO,
    LOCAL_SINK_ROLES,
    MODULE_ROLE,
    ROLES,
    SIGNATURE_ONLY_ROLES,
    VIDEO_SIGNATURE_ROLES,
    Role,
)
from netscan.signatures.pack import load_active_pack


def test_the_pack_and_the_code_speak_the_same_role_words() -> None:
    pack = load_active_pack()
    named = {s.role for s in pack.signatures if s.role}
    # every role the pack names is a report role or a signature-only role ...
    assert named <= set(ROLES) | set(SIGNATURE_ONLY_ROLES), named - set(ROLES)
    # ... and every report role but "unknown" is one the pack names (no word only code knows)
    assert {r for r in Role if r is not Role.UNKNOWN} <= named
    rules = {s.role for s in pack.signatures if s.category == "role"}
    assert rules <= set(ROLES) - {Role.UNKNOWN}
    assert {GENERIC_VIDEO, MODULE_ROLE} <= set(SIGNATURE_ONLY_ROLES)
    assert all(v is None or v in ROLES for v in SIGNATURE_ONLY_ROLES.values())


def test_the_families_are_made_of_role_words() -> None:
    assert tuple(r.value for r in Role) == ROLES and ROLES[-1] == "unknown"
    for family in (CAMERA_FAMILY, FEEDER_ROLES, LOCAL_SINK_ROLES):
        assert all(isinstance(r, Role) for r in family)
    assert set(FEEDER_ROLES) < set(CAMERA_FAMILY) and set(LOCAL_SINK_ROLES) < set(CAMERA_FAMILY)
    assert set(VIDEO_SIGNATURE_ROLES) == {*FEEDER_ROLES, GENERIC_VIDEO}
    # a role read from a report string compares equal to the word
    assert "face-terminal" in CAMERA_FAMILY and Role("nvr") in LOCAL_SINK_ROLES
