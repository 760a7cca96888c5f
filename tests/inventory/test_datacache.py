"""The compact indexes of the offline registries (IEEE MAC blocks, geoip2fast's country
and AS ranges): the same answers as the parsed sources, kept 0600 in a 0700 cache
directory, rebuilt whenever the source changes or the index does not read back whole."""

from __future__ import annotations

import ipaddress
import os
import random
import stat
from pathlib import Path

import pytest

from netscan import datacache
from netscan.inventory import geodb, oui
from netscan.inventory.enrich import Geo

SYSTEM_MANUF = Path("/usr/share/wireshark/manuf")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache" / "netscan"
    monkeypatch.setenv("NETSCAN_CACHE_DIR", str(d))
    oui.registry.cache_clear()
    oui.oui_vendor.cache_clear()
    geodb.table.cache_clear()
    yield d
    oui.registry.cache_clear()
    oui.oui_vendor.cache_clear()
    geodb.table.cache_clear()


def _macs(table: dict[str, str], rng: random.Random) -> list[str]:
    out = [":".join(f"{rng.randrange(256):02x}" for _ in range(6)) for _ in range(5000)]
    for k in list(table)[::3]:
        d = (k + "0123456789ab")[:12]
        out.append(":".join(d[i : i + 2] for i in range(0, 12, 2)))
    return out


@pytest.mark.parametrize("source", ["bundled", "wireshark"])
def test_manuf_index_answers_as_the_parsed_file(source: str, _cache: Path) -> None:
    path = oui._bundled_manuf() if source == "bundled" else SYSTEM_MANUF
    assert path is not None and path.is_file()
    parsed = oui._parse_file(path)
    for _ in range(2):  # built from the file, then read back from the cache
        table = oui._load_file(path)
        assert isinstance(table, oui.CompactTable)
        assert len(table) == len(parsed) and dict(table.items()) == parsed
    files = list(_cache.iterdir())
    assert [f.name.startswith("manuf-") for f in files] == [True]
    assert stat.S_IMODE(_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    ref, idx = oui.OuiRegistry(parsed, "parsed"), oui.OuiRegistry(table, "index")
    for mac in _macs(parsed, random.Random(3)):
        assert idx.lookup(mac) == ref.lookup(mac), mac
    assert "0000c" not in table and "00000C" not in table and " 00000c" not in table


def test_index_is_rebuilt_when_the_source_changes(
    tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "manuf"
    f.write_text("44:19:B6\tHik\tFirst Registrant Ltd\n")
    assert dict(oui._load_file(f).items()) == {"4419b6": "First Registrant Ltd"}  # type: ignore[union-attr]
    before = f.stat()
    # same size and modification time, other content: the SHA-256 tells
    f.write_text("44:19:B6\tHik\tOther Registrant Ltd\n")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert dict(oui._load_file(f).items()) == {"4419b6": "Other Registrant Ltd"}  # type: ignore[union-attr]
    # a damaged index file is not used: the answer comes from the source again
    (idx,) = _cache.iterdir()
    data = idx.read_bytes()
    for broken in (
        data[: len(data) - 3],
        b"garbage",
        data.replace(b'"version": 1', b'"version": 9'),
    ):
        idx.write_bytes(broken)
        assert dict(oui._load_file(f).items()) == {"4419b6": "Other Registrant Ltd"}  # type: ignore[union-attr]
    # a cached index is used as it is: the source is not parsed again
    monkeypatch.setattr(oui, "parse_manuf", lambda text: pytest.fail("parsed again"))
    assert dict(oui._load_file(f).items()) == {"4419b6": "Other Registrant Ltd"}  # type: ignore[union-attr]


def test_unsafe_cache_directory_is_not_used(tmp_path: Path, _cache: Path) -> None:
    _cache.mkdir(parents=True)
    _cache.chmod(0o777)
    f = tmp_path / "manuf"
    f.write_text("44:19:B6\tHik\tFirst Registrant Ltd\n")
    assert datacache.cache_dir() is None
    assert dict(oui._load_file(f).items()) == {"4419b6": "First Registrant Ltd"}  # type: ignore[union-attr]
    assert list(_cache.iterdir()) == []


def _addresses(g: object, rng: random.Random) -> list[str]:
    out = []

    def text(x: int) -> str:
        return str(ipaddress.IPv4Address(x) if x < 1 << 32 else ipaddress.IPv6Address(x))

    for lists in (g.mainListFirstIP, g.mainListFirstIPASN):  # type: ignore[attr-defined]
        flat = [v for c in lists for v in c]
        for v in flat[::101]:
            out += [text(y) for y in (v - 1, v, v + 1) if 0 <= y < 1 << 128]
    for _ in range(3000):
        out.append(text(rng.randrange(1 << 32)))
        out.append(text((0x2000 << 112) + rng.randrange(1 << 125)))
        out.append(text(rng.randrange(1 << 128)))
    return out + ["", "x", "1.2.3", "::", "::1", "::ffff:1.2.3.4", "255.255.255.255"]


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4-file", "ipv6-file"])
def test_geo_index_answers_as_geoip2fast(ipv6: bool, _cache: Path) -> None:
    import geoip2fast
    from geoip2fast import GeoIP2Fast

    path = geodb.data_file(ipv6)
    assert path is not None and (geodb.FILE_V6 in path.name) == ipv6
    ref = GeoIP2Fast(geoip2fast_data_file=str(path), verbose=False)
    built = geodb.table(ipv6)
    geodb.table.cache_clear()
    cached = geodb.table(ipv6)
    assert built is not None and cached is not None
    assert [f.name.startswith("geoip2fast-") for f in _cache.iterdir()] == [True]
    for ip in _addresses(geoip2fast.geoip2fast, random.Random(7)):
        r = ref.lookup(ip)
        want = (r.country_code, r.asn_name)
        assert built.lookup(ip) == want == cached.lookup(ip), ip


def test_geo_loads_only_for_offsite_lookups_and_keeps_the_file_choice() -> None:
    geo = Geo()
    assert geo._table is None  # nothing is read before an address needs it
    geo.prepare(["47.74.128.10"])
    assert geo._table is not None and not geo._has_v6
    sg = geo.lookup("47.74.128.10")
    assert sg.country == "SG" and sg.org
    assert geo.lookup("10.0.0.1").country is None  # private: no country
    v6 = geo.lookup("2001:4860:4860::8888")
    assert geo._has_v6 and v6.country == "US"


def test_pack_files_checked_once_against_their_schema(
    tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import jsonschema

    from netscan.signatures import pack

    src = pack._bundled_dir()
    copy = tmp_path / "pack"
    shutil.copytree(src, copy, symlinks=False)
    first = pack.load_pack(copy)
    marks = [f for f in _cache.iterdir() if f.name.startswith("pack-schema-")]
    assert len(marks) >= 5 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in marks)

    # every file checked before: the schema validator is not even built
    def refuse(*args: object, **kw: object) -> None:
        pytest.fail("schema validator built for files checked before")

    with monkeypatch.context() as m:
        m.setattr(jsonschema.Draft202012Validator, "check_schema", refuse)
        again = pack.load_pack(copy)
    assert [s.id for s in again.signatures] == [s.id for s in first.signatures]
    # a file changed in a way the schema refuses is checked, and refused, as before
    yml = next(p for p in sorted(copy.rglob("*.yaml")) if "signatures:" in p.read_text())
    yml.write_text(yml.read_text().replace("signatures:", "signatures: 7\nbogus:", 1))
    errors = pack.validate_pack(copy)
    assert any("schema" in e and yml.name in e for e in errors), errors
    # so is a schema that is not fit for use, even when every file passed an older one
    yml.unlink()
    (copy / "schema.json").write_text('{"type": 5}')
    with pytest.raises(pack.PackError, match="unusable schema"):
        pack.load_pack(copy)


def test_public_suffix_rules_as_the_library_parses_them() -> None:
    from publicsuffixlist import PublicSuffixList

    from netscan.inventory import enrich

    enrich._psl.cache_clear()
    ours, lib = enrich._psl(), PublicSuffixList()
    assert ours._publicsuffix == lib._publicsuffix and ours._maxlabel == lib._maxlabel
    assert any(not r.isascii() for r in lib._publicsuffix)  # IDN rules and their punycode
    names = ["www.example.co.uk", "a.b.kobe.jp", "city.kobe.jp", "xn--p1ai", "foo.xn--p1ai",
             "cam.example.com", "x.y.z.blogspot.com", "host.local", "예시.한국", "a.b.c.d"]  # fmt: skip
    for n in names:
        assert ours.privatesuffix(n) == lib.privatesuffix(n), n


def test_geo_falls_back_to_the_library_for_other_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    def other_layout(path: Path) -> dict[str, bytes]:
        raise ValueError(f"{path}: ranges not in the order geoip2fast searches them")

    ours = geodb.table(False)
    geodb.table.cache_clear()
    for f in datacache.cache_dir().iterdir():  # type: ignore[union-attr]
        f.unlink()
    monkeypatch.setattr(geodb, "build_parts", other_layout)
    lib = geodb.table(False)
    assert isinstance(ours, geodb.GeoTable) and isinstance(lib, geodb._Library)
    for ip in ("47.74.128.10", "10.1.2.3", "8.8.8.8", "2001:db8::1", "bogus"):
        assert lib.lookup(ip) == ours.lookup(ip), ip
    assert lib.lookup("47.74.128.10")[0] == "SG"
