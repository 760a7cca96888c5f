"""``netscan tui --lang zh-CN``: the TUI in Chinese, driven by Textual's pilot on the demo
capture; the language stays inside the app (the caller's language is left as it was), and
the report it exports is in the TUI's languages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from netscan import i18n
from netscan.analyze import Options
from netscan.cli import build_parser
from netscan.tui.app import NetscanApp
from netscan.tui.widgets.device_detail import DeviceScreen
from netscan.tui.widgets.help import HelpScreen
from tests.tui.test_tui import DEMO, screenshot_text, until_done

WIDE = (140, 40)


def drive(app: NetscanApp, script: Any) -> None:
    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await script(pilot, app)

    asyncio.run(go())


def test_tui_in_chinese(tmp_path: Path) -> None:
    out = tmp_path / "导出.html"

    async def script(pilot: Pilot[Any], app: NetscanApp) -> None:
        await until_done(pilot, app)
        text = screenshot_text(app, tmp_path, "devices")
        for words in ("设备", "发现", "关系图", "标记", "退出", "帮助",  # tabs and footer keys
                      "结论", "角色", "厂商", "已确认", "人脸识别终端", "摄像机",
                      "数据包 8,443", "特征库"):  # fmt: skip
            assert words in text, words
        assert "Devices" not in text and "Quit" not in text
        await pilot.press("enter")  # the selected device's own screen
        await pilot.pause()
        assert isinstance(app.screen, DeviceScreen)
        text = screenshot_text(app, tmp_path, "device")
        for words in ("身份", "身份是如何确定的", "角色依据：", "返回"):
            assert words in text, words
        # the edge server's role reason and evidence lines, in Chinese too
        assert "接收来自 2 台本地设备的媒体流，并向场所外发送 720,360 字节（role.edge-box）" in text
        assert "'/VIID/Faces' 匹配 protocol.gat1400-viid-face" in text
        assert " matches protocol" not in text and "(role." not in text
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        text = screenshot_text(app, tmp_path, "findings")
        for words in ("发现 4", "级别", "理由", "目的地", "地址位于 CN", "证据帧", "法律规定"):
            assert words in text, words
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screenshot_text(app, tmp_path, "help")
        assert "netscan 帮助" in text and "标记此刻（走测）" in text
        await pilot.press("escape", "e")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.press("enter")
        for _ in range(100):
            if out.exists() and out.stat().st_size > 1000:
                break
            await pilot.pause(0.1)

    app = NetscanApp([DEMO], batch=2000, export_dir=tmp_path, lang="zh-CN,en",
                     options=Options(country="CN"))  # fmt: skip
    drive(app, script)
    assert i18n.current() == "en"  # the app's language never leaked into its caller
    page = out.read_text("utf-8")
    assert '<html lang="zh-CN">' in page and "id='lang-en'" in page and "设备清单" in page


def test_tui_lang_option_and_default() -> None:
    args = build_parser().parse_args(["tui", DEMO, "--lang", "zh-CN"])
    assert args.lang == ["zh-CN"]
    app = NetscanApp([DEMO])
    assert app.lang == "en" and app.langs == ["en"]


def test_device_evidence_and_role_reasons_in_chinese() -> None:
    """The device screen's lines (from the live inventory, not a report) in Chinese, a
    hostile parameter as bounded plain text, and lines without parts in English."""
    import dataclasses
    import io

    from rich.console import Console

    from netscan import reasons
    from netscan.analyze import Analyzer
    from netscan.tui.state import build_snapshot
    from netscan.tui.widgets.device_detail import established
    from netscan.untrusted import NAME_LIMIT

    snap = build_snapshot(Analyzer(Options()).run([DEMO]), source="demo")
    nvr = snap.devices["24:48:45:b1:3c:70"]

    def shown(lang: str) -> str:
        with i18n.use(lang):
            console = Console(file=io.StringIO(), width=300, color_system=None)
            console.print(established(nvr))
            return console.file.getvalue()  # type: ignore[attr-defined]

    en = shown("en")
    assert "receives media streams from 3 local devices (role.recorder)" in en
    assert "sadp discovery answer model DS-7608NI-K2/8P" in en
    zh = shown("zh-CN")
    assert "角色依据：接收来自 3 台本地设备的媒体流（role.recorder）；" in zh
    assert "；特征 device.hikvision-oui；" in zh and "sadp 发现应答，型号 DS-7608NI-K2/8P" in zh
    assert "receives" not in zh and "discovery answer" not in zh and " matches " not in zh
    hostile = "<b>[red]x[/red]</b> \u202e\x1b[31m" + "A" * 5000
    sadp = next(e for e in nvr.evidence if e.part and e.part["msg"] == reasons.EV_DISCOVERY_MODEL)
    sadp.part["args"]["model"] = hostile
    nvr.reason_parts[2]["args"]["signature"] = hostile
    nvr.evidence[0] = dataclasses.replace(nvr.evidence[0], part=None)  # English
    zh = shown("zh-CN")
    assert "sadp 发现应答，型号 <b>[red]x[/red]</b> \\u202e\\x1b[31m" in zh
    assert "特征 <b>[red]x[/red]</b>" in zh
    assert "\u202e" not in zh and "\x1b" not in zh and "A" * (NAME_LIMIT + 1) not in zh
    assert "oui_prefix '24:48:45:b1:3c:70' matches device.hikvision-oui" in zh
