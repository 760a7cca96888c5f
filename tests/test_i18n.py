"""The message catalogues and locale formatting: every message netscan shows is translated
in zh_CN (checked with Babel's own extraction and catalogue reader), the compiled catalogue
is the compilation of its source, and dates and numbers are written as each locale does."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from netscan import i18n
from netscan.analysis.findings import load_provisions

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netscan"
LOCALE = PACKAGE / "locale"
PO = LOCALE / "zh_CN" / "LC_MESSAGES" / "netscan.po"
MO = LOCALE / "zh_CN" / "LC_MESSAGES" / "netscan.mo"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def extracted() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """Every message in the sources, as ``pybabel extract -F babel.cfg`` finds them."""
    out: dict[tuple[str | None, str], tuple[str, ...]] = {}
    method_map = [("**.py", "netscan.i18n_extract:extract")]
    for _file, _line, msg, _comments, context in extract_from_dir(
        str(PACKAGE), method_map=method_map, keywords=KEYWORDS
    ):
        ids = (msg,) if isinstance(msg, str) else tuple(msg)
        out[(context, ids[0])] = ids
    return out


def fields(s: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(s) if name is not None}


def test_the_extractor_finds_messages_inside_f_strings() -> None:
    from netscan.i18n_extract import messages

    found = list(messages("x = f\"<h2>{_e(_('Findings'))}</h2>\"\ny = pgettext('role', 'nvr')\n"))
    assert (1, "_", ("Findings",)) in found and (2, "pgettext", ("role", "nvr")) in found


def test_every_message_is_translated_in_zh_cn() -> None:
    messages = extracted()
    assert len(messages) > 250  # the reports, the summary and the TUI
    catalog = read_po(PO.open("rb"))
    assert not catalog.fuzzy
    po = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
    missing = sorted(set(messages) - set(po), key=str)
    assert not missing, f"not in {PO.name} (run pybabel extract/update): {missing[:10]}"
    stale = sorted(set(po) - set(messages), key=str)
    assert not stale, f"no longer in the sources: {stale[:10]}"
    for key, m in po.items():
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"untranslated: {key}"
        assert "fuzzy" not in m.flags, f"fuzzy: {key}"
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        for s in strings:  # the same {fields}: str.format would fail at run time otherwise
            assert fields(s) == fields(ids[0]), (key, s)
    # Babel's own checks (format strings, plural forms)
    problems = [(m.id, errs) for m, errs in catalog.check() if errs]
    assert not problems, problems


def test_template_is_up_to_date() -> None:
    pot = read_po((LOCALE / "netscan.pot").open("rb"))
    ids = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in pot if m.id}
    assert ids == set(extracted())


def test_compiled_catalogue_is_the_compilation_of_the_source() -> None:
    source = read_po(PO.open("rb"))
    buf = io.BytesIO()
    write_mo(buf, source)
    compiled = read_mo(io.BytesIO(buf.getvalue()))
    shipped: Catalog = read_mo(MO.open("rb"))

    def tup(x: object) -> object:
        return tuple(x) if isinstance(x, list | tuple) else x

    def table(c: Catalog) -> dict[object, object]:
        return {(m.context, tup(m.id)): tup(m.string) for m in c if m.id}

    assert table(shipped) == table(compiled), "run: pybabel compile -d netscan/locale -D netscan"


def test_translations_load_through_gettext() -> None:
    with i18n.use("zh-CN"):
        assert i18n._("Device inventory") == "设备清单"
        assert i18n.term("role", "face-terminal") == "人脸识别终端"
        assert i18n.term("level", "confirmed") == "已确认"
        assert i18n.term("role", "<b>made-up</b>") == "<b>made-up</b>"  # not ours: unchanged
        assert (
            i18n.ngettext("{n} {role}", "{n} {role}", 3).format(n=3, role="摄像机") == "3 个摄像机"
        )
    assert i18n._("Device inventory") == "Device inventory"
    assert i18n.current() == "en"  # the block left the language as it was


def test_language_tags() -> None:
    assert i18n.parse_langs("zh_CN") == ["zh-CN"]
    assert i18n.parse_langs("zh-cn, en,zh") == ["zh-CN", "en"]
    assert i18n.parse_langs(None) == ["en"]
    with pytest.raises(i18n.LangError, match="unknown language 'fr'"):
        i18n.parse_langs("fr")
    with pytest.raises(i18n.LangError):
        i18n.parse_langs(" , ")


def test_a_missing_catalogue_is_refused_when_the_language_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    i18n.translations.cache_clear()
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    try:
        with pytest.raises(i18n.LangError, match="zh-CN message catalogue is missing"):
            i18n.parse_langs("zh-CN")
        assert i18n.parse_langs("en") == ["en"]  # the source language needs none
    finally:
        i18n.translations.cache_clear()


def test_numbers_dates_and_sizes_follow_the_locale() -> None:
    stamp = "2026-03-02T09:00:35Z"
    with i18n.use("zh-CN"):
        assert i18n.number(1234567) == "1,234,567"
        assert i18n.number(0.5, 1) == "0.5"
        assert i18n.when(stamp) == "2026年3月2日 09:00:35 UTC"
        assert i18n.size(4_798_498) == "4.8 MB"
        assert i18n.yes_no(True) == "是" and i18n.yes_no(None) == "未知"
    with i18n.use("en"):
        assert i18n.number(1234567) == "1,234,567"
        assert i18n.when(stamp).replace("\u202f", " ") == "Mar 2, 2026, 9:00:35 AM UTC"
        assert i18n.size(999) == "999 B" and i18n.size(49_698) == "49.7 kB"
    # not a timestamp (a report may hold anything): shown as it is, for the caller to escape
    assert i18n.when("<script>") == "<script>" and i18n.when(None) == ""
    assert i18n.number("12,x") == "12,x"


def test_every_provision_is_quoted_in_its_original_language_with_translations() -> None:
    for p in load_provisions():
        orig = p.get("original") or {}
        assert orig.get("lang") in i18n.LANGS, p["id"]
        assert orig.get("text") and orig.get("instrument") and orig.get("article"), p["id"]
        assert str(orig.get("source", "")).startswith("https://"), p["id"]
        others = [lang for lang in i18n.LANGS if lang != orig["lang"]]
        assert set(others) <= set(p.get("translations") or {}), p["id"]
        assert {x for x in i18n.LANGS if x != "en"} <= set(p.get("summaries") or {}), p["id"]
        if orig["lang"] == "zh-CN":
            assert " " not in orig["text"].strip(), "Chinese text folded with spaces"
