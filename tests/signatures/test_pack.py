"""Pack format, bundled pack content, validation errors with file:line, pack lookup."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from netscan.signatures import pack as pack_mod
from netscan.signatures.pack import (
    CATEGORIES,
    PackError,
    check_regex,
    check_source,
    load_pack,
    resolve_pack_dir,
    resolve_pack_source,
    run_examples,
    validate_pack,
)
from tests.signatures.helpers import BUNDLED, make_pack, sig_yaml

# --- the bundled pack ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    return load_pack(BUNDLED)


def test_schema_is_draft_2020_12_and_every_file_conforms():
    schema = json.loads((BUNDLED / "schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(BUNDLED.glob("*/*.yaml"))
    assert {f.parent.name for f in files} == set(CATEGORIES)
    for f in files:
        errors = list(validator.iter_errors(yaml.safe_load(f.read_text())))
        assert not errors, f"{f}: {errors[0].message}"


def test_bundled_pack_validates_cleanly():
    assert validate_pack(BUNDLED) == []


def test_bundled_examples_and_near_misses_pass(bundled):
    assert run_examples(bundled) == []
    assert sum(len(s.examples) for s in bundled.signatures) >= len(bundled.signatures)


def test_bundled_counts_meet_the_floor(bundled):
    counts = bundled.counts
    assert counts["face-cloud"] >= 25
    assert counts["vendor-cloud"] >= 20
    assert counts["device"] >= 30
    assert counts["protocol"] >= 8
    assert sum(counts.values()) == len(bundled.signatures)


def test_every_signature_cites_wellformed_sources(bundled):
    for sig in bundled.signatures:
        assert sig.sources, sig.id
        for src in sig.sources:
            assert check_source(src) is None, (sig.id, src)


def test_bundled_pack_covers_the_named_services(bundled):
    ids = set(bundled.by_id)
    for needed in (
        "face-cloud.megvii-faceplusplus-cn",
        "face-cloud.megvii-faceplusplus-us",
        "face-cloud.megvii-faceplusplus-legacy",
        "face-cloud.baidu-face-api",
        "face-cloud.tencent-iai",
        "face-cloud.tencent-youtu",
        "face-cloud.alibaba-facebody",
        "face-cloud.huawei-frs",
        "face-cloud.iflytek-face",
        "face-cloud.jd-neuhub-face",
        "face-cloud.ezviz-ai-face",
        "face-cloud.sensetime",
        "face-cloud.arcsoft-arcface",
        "face-cloud.ntechlab-findface-license",
        "face-cloud.aws-rekognition",
        "face-cloud.azure-face",
        "face-cloud.google-cloud-vision",
        "face-cloud.clearview-ai",
        "face-cloud.kairos",
        "face-cloud.luxand",
        "vendor-cloud.hikvision-hik-connect",
        "vendor-cloud.dahua-easy4ip-p2p",
        "vendor-cloud.xiongmai-xmeye",
        "vendor-cloud.tutk-kalay",
        "vendor-cloud.cs2-pppp",
        "vendor-cloud.tuya",
        "vendor-cloud.tplink-tapo-nbu",
        "vendor-cloud.dlink-mydlink",
        "vendor-cloud.xiaomi-mijia",
        "vendor-cloud.yi-xiaoyi",
        "vendor-cloud.amazon-blink",
        "vendor-cloud.gwell-yoosee-cloudlinks",
        "protocol.gat1400-viid-face",
        "protocol.hikvision-isapi-access-event",
        "protocol.dahua-event-face",
        "protocol.zkteco-adms-biometric-upload",
    ):
        assert needed in ids, needed


def test_negative_controls_are_not_cameras(bundled):
    from netscan.signatures.matcher import Matcher

    m = Matcher(bundled)
    # TP-Link HS110 plug: OUI and host name from the public capture.
    hits = m.match_mac("50:c7:bf:00:c7:03", "TP-LINK TECHNOLOGIES CO.,LTD.")
    hits += m.match_fields({"dhcp_hostname": "HS110(EU)"})
    hits += m.match_name("devs.tplinkcloud.com")
    assert hits and all(h.role not in ("camera", "video-device", "nvr") for h in hits)
    # Tuya local protocol; Zowee module OUI of the Yi camera.
    assert {h.role for h in m.match_port("udp", 6667)} == {"iot"}
    assert {h.role for h in m.match_mac("b0:d5:9d:11:22:33", "Shenzhen Zowee Technology")} == {
        "module"
    }


def test_pack_version_reports_git_commit_of_a_work_tree(tmp_path):
    pack = make_pack(tmp_path, {"device/a.yaml": "signatures: []\n"})
    assert load_pack(pack).version.git_commit is None
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "PATH": "/usr/bin:/bin",
    }
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "pack"]):
        subprocess.run(["git", "-C", str(pack), *cmd], check=True, env=env)
    short = subprocess.run(
        ["git", "-C", str(pack), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    v = load_pack(pack).version
    assert v.git_commit == short
    assert v.git_date and v.git_date[:4].isdigit()
    assert v.git_dirty is False
    assert v.name == "netscan-core" and v.format_version == 1


# --- invalid packs: each error names the file and the line --------------------------


def _one_sig_file(body: str) -> str:
    return "signatures:\n" + body


def test_duplicate_id_is_reported_with_both_locations(tmp_path):
    a = sig_yaml(
        "face-cloud.dup", "dns_name: [a.example.com]", examples="[{dns_name: a.example.com}]"
    )
    b = sig_yaml(
        "face-cloud.dup", "dns_name: [b.example.com]", examples="[{dns_name: b.example.com}]"
    )
    pack = make_pack(
        tmp_path, {"face-cloud/one.yaml": _one_sig_file(a), "face-cloud/two.yaml": _one_sig_file(b)}
    )
    errors = validate_pack(pack)
    assert len(errors) == 1
    assert f"{pack / 'face-cloud/two.yaml'}:2: duplicate id 'face-cloud.dup'" in errors[0]
    assert f"{pack / 'face-cloud/one.yaml'}:2" in errors[0]
    with pytest.raises(PackError, match="duplicate id"):
        load_pack(pack)


def test_schema_error_points_at_the_signature_line(tmp_path):
    good = sig_yaml("device.ok", "dns_name: [ok.example.com]", role="camera")
    bad = sig_yaml("device.bad", "dns_name: [x.example.com]", role="camera").replace(
        "    confidence: 0.8\n", "    confidence: 7\n"
    )
    pack = make_pack(tmp_path, {"device/x.yaml": _one_sig_file(good + bad)})
    errors = validate_pack(pack)
    bad_line = 1 + good.count("\n") + 1  # "signatures:" + first signature + 1
    assert errors, "a confidence of 7 must be rejected"
    assert errors[0].startswith(f"{pack / 'device/x.yaml'}:{bad_line}: schema:")
    assert "confidence" in errors[0]


def test_unknown_field_and_unknown_category_folder(tmp_path):
    body = sig_yaml("device.aa", "dns_name: [a.example.com]\nmac_colour: [red]", role="camera")
    pack = make_pack(
        tmp_path,
        {
            "device/a.yaml": _one_sig_file(body),
            "gadgets/b.yaml": "signatures: []\n",
        },
    )
    errors = validate_pack(pack)
    assert any("unknown category folder 'gadgets'" in e for e in errors)
    assert any(e.startswith(f"{pack / 'device/a.yaml'}:") and "mac_colour" in e for e in errors)


def test_category_must_match_folder_and_id(tmp_path):
    body = sig_yaml("device.misplaced", "dns_name: [a.example.com]", role="camera")
    pack = make_pack(tmp_path, {"protocol/a.yaml": _one_sig_file(body)})
    errors = validate_pack(pack)
    assert any(":2: device.misplaced: category 'device' does not match" in e for e in errors)


def test_contradictory_entries_are_rejected_with_line(tmp_path):
    a = sig_yaml("device.cam", "dhcp_hostname: [cam-]", role="camera")
    b = sig_yaml("device.plug", "dhcp_hostname:\n  - CAM-", role="iot")
    pack = make_pack(tmp_path, {"device/a.yaml": _one_sig_file(a + b)})
    errors = validate_pack(pack)
    assert len(errors) == 1, errors
    line_of_entry = 1 + a.count("\n") + 11  # the "- CAM-" line of the second signature
    assert errors[0].startswith(f"{pack / 'device/a.yaml'}:{line_of_entry}: device.plug:")
    assert "contradicts device.cam" in errors[0]


def test_same_value_same_claim_is_not_a_contradiction(tmp_path):
    a = sig_yaml("device.cam-a", "dhcp_hostname: [cam-]", role="camera")
    b = sig_yaml("device.cam-b", "dhcp_hostname: [cam-]", role="camera")
    pack = make_pack(tmp_path, {"device/a.yaml": _one_sig_file(a + b)})
    assert validate_pack(pack) == []


def test_host_name_fields_share_one_namespace_for_contradictions(tmp_path):
    a = sig_yaml("face-cloud.xx", "dns_name: [api.example.com]")
    b = sig_yaml("vendor-cloud.xx", "tls_sni: [api.example.com]")
    pack = make_pack(
        tmp_path, {"face-cloud/a.yaml": _one_sig_file(a), "vendor-cloud/b.yaml": _one_sig_file(b)}
    )
    errors = validate_pack(pack)
    assert any("contradicts face-cloud.xx" in e for e in errors)


@pytest.mark.parametrize(
    "source",
    ["not a source", "github:onlyowner", "https://", "ftp://example.org/x", "code-index:x", " "],
)
def test_malformed_sources_are_rejected(tmp_path, source):
    body = sig_yaml("face-cloud.src", "dns_name: [s.example.com]").replace(
        "[https://example.org/doc]", json.dumps([source])
    )
    pack = make_pack(tmp_path, {"face-cloud/a.yaml": _one_sig_file(body)})
    errors = validate_pack(pack)
    assert any(
        re.match(rf"{re.escape(str(pack / 'face-cloud/a.yaml'))}:(2|8): .*source", e)
        for e in errors
    ), errors


@pytest.mark.parametrize(
    "source",
    [
        "code-index:15915547666",
        "capture:cam_tapo_c200_boot_shncp.pcap",
        "doc:Shaykhnazar HikvisionIsapi FaceService (public code search excerpt)",
        "doc:Shodan dork notes (CCTV section)",
        "doc:Blink APK dossier",
        "doc:ieu.hik-proconnect.com user manual pages",
    ],
)
def test_non_reference_sources_are_rejected(tmp_path, source):
    """An index number, a local file name or a note is not a reference anyone can check."""
    assert "not a reference" in (check_source(source) or "")
    body = sig_yaml("face-cloud.src", "dns_name: [s.example.com]").replace(
        "[https://example.org/doc]", json.dumps([source])
    )
    pack = make_pack(tmp_path, {"face-cloud/a.yaml": _one_sig_file(body)})
    assert any("not a reference" in e for e in validate_pack(pack))


@pytest.mark.parametrize(
    "source",
    [
        "https://docs.aws.amazon.com/general/latest/gr/rekognition.html",
        "github:nmap/nmap/nmap-service-probes",
        "github:rroller/dahua",
        "doc:GA/T 1400.4-2017 section 7.2.12.1 (batch face add)",
        "doc:Dahua HTTP API for IPC & NVR, Zhejiang Dahua Technology",
    ],
)
def test_references_are_accepted(source):
    assert check_source(source) is None


def test_bundled_pack_sources_are_real_references():
    """Read straight from the YAML files (not through the loader): every source of every
    bundled signature is a URL, a public repository (file) or a named document."""
    seen = 0
    for path in sorted(BUNDLED.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            continue
        for sig in doc.get("signatures") or []:
            for src in sig.get("sources") or []:
                seen += 1
                assert src.startswith(("https://", "http://", "github:", "doc:")), (sig["id"], src)
                assert check_source(src) is None, (sig["id"], src)
    assert seen > 200


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("oui_prefix", '"38:af"', "hex digits"),
        ("ip_cidr", '"10.0.0.1/8"', "bad CIDR"),
        ("port", '"udp/70000"', "port"),
        ("dns_name", '"bad..name"', "malformed domain"),
        ("dns_name", '"*.com"', "too broad"),
        ("dhcp_prl", '"1,x,3"', "DHCP parameter list"),
        ("mdns_service", '"axis-video"', "mDNS service"),
        ("http_server", '{regex: "(a+)+$"}', "nests a quantifier"),
        ("http_server", '{regex: "(a)\\\\1"}', "backreferences"),
        ("http_server", '{regex: "(?=x)y"}', "lookaround"),
        ("oui_prefix", '{prefix: "38:af:29"}', "not allowed"),
    ],
)
def test_malformed_values_are_rejected_with_line(tmp_path, field, value, reason):
    body = sig_yaml("device.val", f"{field}:\n  - {value}", role="camera")
    pack = make_pack(tmp_path, {"device/a.yaml": _one_sig_file(body)})
    errors = validate_pack(pack)
    entry_line = 1 + 11  # "signatures:" + 10 signature lines before the entry
    assert any(
        e.startswith(f"{pack / 'device/a.yaml'}:{entry_line}:") and reason in e for e in errors
    ), errors


def test_invalid_yaml_reports_its_line(tmp_path):
    pack = make_pack(tmp_path, {"device/a.yaml": "signatures:\n  - id: [unclosed\n"})
    errors = validate_pack(pack)
    assert len(errors) == 1 and errors[0].startswith(f"{pack / 'device/a.yaml'}:")
    assert "invalid YAML" in errors[0]


def test_unsafe_yaml_tags_are_refused(tmp_path):
    pack = make_pack(
        tmp_path, {"device/a.yaml": "signatures: !!python/object/apply:os.system ['true']\n"}
    )
    errors = validate_pack(pack)
    assert errors and "invalid YAML" in errors[0]


def test_unsupported_format_version(tmp_path):
    pack = make_pack(tmp_path, {"device/a.yaml": "signatures: []\n"})
    (pack / "PACK.yaml").write_text("name: x\nformat_version: 99\n")
    errors = validate_pack(pack)
    assert errors == [
        f"{pack / 'PACK.yaml'}:1: unsupported format_version 99 (this netscan reads 1)"
    ]


def test_missing_directory_is_one_error(tmp_path):
    errors = validate_pack(tmp_path / "nope")
    assert len(errors) == 1 and "not found" in errors[0]


def test_failing_examples_and_near_misses_are_reported(tmp_path):
    body = sig_yaml(
        "face-cloud.ex",
        "dns_name: [api.example.com]",
        examples="[{dns_name: other.example.com}]",
        near_misses="[{dns_name: API.example.com.}]",
    )
    pack = make_pack(tmp_path, {"face-cloud/a.yaml": _one_sig_file(body)})
    failures = run_examples(load_pack(pack))
    assert len(failures) == 2
    assert "example does not match" in failures[0] and "other.example.com" in failures[0]
    assert "near-miss matches" in failures[1]
    assert failures[0].startswith(f"{pack / 'face-cloud/a.yaml'}:2:")


def test_check_regex_accepts_simple_patterns():
    assert check_regex(r"^camera_[0-9a-f]{4}$") is None
    assert check_regex(r"^/v[12]/[^/]{1,64}/face") is None
    assert check_regex("x" * 300) is not None


# --- pack lookup order -------------------------------------------------------------------


def test_resolve_order(tmp_path, monkeypatch):
    cli_dir = tmp_path / "cli"
    env_dir = tmp_path / "env"
    xdg = tmp_path / "xdg"
    user_dir = xdg / "netscan" / "signatures"
    for d in (cli_dir, env_dir, user_dir):
        d.mkdir(parents=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    monkeypatch.setenv("NETSCAN_SIGNATURES", str(env_dir))
    assert resolve_pack_source(str(cli_dir)) == (cli_dir, "cli")
    assert resolve_pack_source(None) == (env_dir, "env")
    monkeypatch.delenv("NETSCAN_SIGNATURES")
    assert resolve_pack_source(None) == (user_dir, "user")
    user_dir.rmdir()
    path, origin = resolve_pack_source(None)
    assert origin in ("bundled", "source")
    assert (path / "PACK.yaml").is_file()
    assert resolve_pack_dir(None) == path


def test_resolve_prefers_bundled_copy_over_source_tree(tmp_path, monkeypatch):
    monkeypatch.delenv("NETSCAN_SIGNATURES", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "empty"))
    bundled = tmp_path / "_bundled_signatures"
    bundled.mkdir()
    monkeypatch.setattr(pack_mod, "_bundled_dir", lambda: bundled)
    assert resolve_pack_source(None) == (bundled, "bundled")


def test_resolve_rejects_missing_explicit_dirs(tmp_path, monkeypatch):
    with pytest.raises(PackError, match="--signatures directory not found"):
        resolve_pack_dir(str(tmp_path / "missing"))
    monkeypatch.setenv("NETSCAN_SIGNATURES", str(tmp_path / "missing-env"))
    with pytest.raises(PackError, match="NETSCAN_SIGNATURES"):
        resolve_pack_dir(None)


def test_relative_xdg_data_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pack_mod.user_pack_dir() == Path(tmp_path) / ".local/share/netscan/signatures"


# --- the compiled pack in the cache directory --------------------------------------------


def _count_loads(monkeypatch) -> list[Path]:
    """The packs loaded from their files (not the cache) from now on, in a list."""
    real_collect = pack_mod._collect
    calls: list[Path] = []

    def counting(path):
        calls.append(path)
        return real_collect(path)

    monkeypatch.setattr(pack_mod, "_collect", counting)
    return calls


def test_compiled_pack_is_cached_checked_and_rebuilt(tmp_path, monkeypatch):
    """A clean load is kept compiled (0600 in a 0700 directory) and the next load of the same
    files is the same pack without parsing them; a changed file, or a cache file that does
    not read back, and the pack is loaded from its files again."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(cache))
    files = {"device/a.yaml": "signatures:\n" + sig_yaml("device.cam", "dns_name: [a.example]")}
    pack = make_pack(tmp_path, files)
    first = load_pack(pack)
    cached = cache / "pack-explicit.idx"
    assert cached.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700

    calls = _count_loads(monkeypatch)
    again = load_pack(pack)
    assert calls == [] and again.signatures == first.signatures
    assert again.version == first.version

    # a changed pack file: loaded (and checked) from the files
    files["device/a.yaml"] = files["device/a.yaml"].replace("a.example", "b.example")
    make_pack(tmp_path, files)
    changed = load_pack(pack)
    assert len(calls) == 1 and changed.signatures[0].match[0].value == "b.example"
    assert load_pack(pack).signatures == changed.signatures and len(calls) == 1

    # an invalid pack is never cached, and says what is wrong every time
    (pack / "device" / "a.yaml").write_text("signatures: [oops", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(PackError, match="invalid YAML"):
            load_pack(pack)
    make_pack(tmp_path, files)
    assert load_pack(pack).signatures == changed.signatures

    # a cache file that does not read back whole (or holds garbage): the slow path
    for damage in (cached.read_bytes()[:-40], cached.read_bytes().replace(b'"id"', b'"xx"')):
        cached.write_bytes(damage)
        before = len(calls)
        assert load_pack(pack).signatures == changed.signatures and len(calls) == before + 1
    assert load_pack(pack).signatures == changed.signatures and len(calls) == before + 1


def test_a_change_of_the_checks_the_load_calls_rebuilds_the_cache(tmp_path, monkeypatch):
    """The HTTP response paths' bounds live with the HTTP parser (the packet core holds them
    too): a cached pack is tied to that module's source as well as this one's, so that a
    pack the older checks let through is checked again, never handed to the core as is."""
    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(tmp_path / "cache"))
    files = {"device/a.yaml": "signatures:\n" + sig_yaml("device.cam", "dns_name: [a.example]")}
    pack = make_pack(tmp_path, files)
    load_pack(pack)
    calls = _count_loads(monkeypatch)
    load_pack(pack)
    assert calls == []  # cached
    other = tmp_path / "http_checks.py"
    other.write_text(Path(pack_mod._http.__file__).read_text(encoding="utf-8") + "\n# changed\n")
    monkeypatch.setattr(pack_mod._http, "__file__", str(other))
    load_pack(pack)
    assert len(calls) == 1  # loaded and checked from its files again


def test_compiled_bundled_pack_equals_the_parsed_one(tmp_path, monkeypatch):
    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(tmp_path / "cache"))
    parsed = load_pack(BUNDLED)
    compiled = load_pack(BUNDLED)
    assert (tmp_path / "cache" / "pack-explicit.idx").is_file()
    assert compiled.signatures == parsed.signatures and compiled.version == parsed.version
    for a, b in zip(compiled.signatures, parsed.signatures, strict=True):
        assert a.to_dict() == b.to_dict()
