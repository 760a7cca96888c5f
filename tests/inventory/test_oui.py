"""MAC registrants from the IEEE MA-L, MA-M and MA-S registries (a Wireshark manuf file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netscan.inventory import oui
from netscan.inventory.inventory import Inventory


@pytest.fixture(autouse=True)
def _fresh_registry():
    oui.registry.cache_clear()
    oui.oui_vendor.cache_clear()
    yield
    oui.registry.cache_clear()
    oui.oui_vendor.cache_clear()


def test_ma_m_block_gets_its_own_registrant() -> None:
    # 48:E6:C6 is an MA-L held by the IEEE Registration Authority; 48:E6:C6:4 is ZKTeco's MA-M
    assert "ZK Technology" in (oui.oui_vendor("48:e6:c6:4a:1b:2c") or "")
    assert "ZK Technology" not in (oui.oui_vendor("48:e6:c6:5a:1b:2c") or "")


def test_ma_s_block_gets_its_own_registrant() -> None:
    # 70:B3:D5 is split into MA-S (36-bit) blocks: two neighbours have different registrants
    a, b = oui.oui_vendor("70:b3:d5:12:30:01"), oui.oui_vendor("70:b3:d5:12:40:01")
    assert a and b and a != b
    assert "IEEE Registration Authority" not in a


def test_ma_l_and_locally_administered() -> None:
    assert "Hikvision" in (oui.oui_vendor("44:19:b6:2e:7c:51") or "")
    assert oui.oui_vendor("da:a1:19:00:00:01") is None  # private (locally administered)
    assert oui.oui_vendor("") is None
    assert oui.oui_vendor("zz:zz") is None


def test_registry_is_offline_data() -> None:
    reg = oui.registry()
    assert reg is not None and len(reg.table) > 40_000
    assert Path(reg.source).is_file()


def test_parse_both_manuf_layouts() -> None:
    text = (
        "# comment\n"
        "00:00:00\t00:00:00\tOfficially Xerox, but 0:0:0:0:0:0 is more common\n"
        "00:00:0C\tCisco\tCisco Systems, Inc\n"
        "48:E6:C6:40/28\tZKTechnology\tShenzhen ZK Technology CO.,LTD.\n"
        "70:B3:D5:12:30:00:00/36\tShort\n"  # Debian's older layout; no long name
        "70:B3:D5:12:40/36   \tX   \tExample Ltd\n"
        "bogus line\n"
        "GG:00:00\tBad\tNot hex\n"
        "11:22:33:44/30\tOdd\tnot a block size\n"
    )
    table = oui.parse_manuf(text)
    assert table == {
        "00000c": "Cisco Systems, Inc",
        "48e6c64": "Shenzhen ZK Technology CO.,LTD.",
        "70b3d5123": "Short",
        "70b3d5124": "Example Ltd",
    }
    reg = oui.OuiRegistry(table, "test")
    assert reg.lookup("70:b3:d5:12:3f:ff") == "Short"
    assert reg.lookup("48-E6-C6-41-00-00") == "Shenzhen ZK Technology CO.,LTD."
    assert reg.lookup("00:00:0c:01:02:03") == "Cisco Systems, Inc"
    assert reg.lookup("00:00:0d:01:02:03") is None


def test_auditor_copy_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "manuf"
    f.write_text("44:19:B6\tMine\tMy Registry Copy Ltd\n")
    monkeypatch.setenv("NETSCAN_MANUF", str(f))
    assert oui.oui_vendor("44:19:b6:00:00:01") == "My Registry Copy Ltd"
    assert oui.registry().source == str(f)  # type: ignore[union-attr]


def test_inventory_device_vendor_from_ma_m() -> None:
    inv = Inventory()
    dev = inv.device("48:e6:c6:4a:1b:2c", 0, 1, 0.0)
    assert dev.vendor is not None and "ZK Technology" in dev.vendor
