"""Legal provisions as the reports show them: quoted in their original language, with a
translation beside when the report is in another language.

A finding in the JSON report names its provisions by ``id`` (with the English instrument,
article and summary); the quoted text, its translations and the summaries in other
languages live in the legal data file (``netscan/analysis/provisions.yaml``), looked up here
at render time so the JSON report stays language-neutral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from netscan import i18n
from netscan.i18n import N_, _

# the reasons ``provisions_for`` gives, marked for translation
WHY = (
    N_("face data may be processed by the device or its recipient"),
    N_("the destination lies outside the premises country"),
)
_FINDING_IS = re.compile(r"the finding is (\w+)")


@dataclass(frozen=True)
class Provision:
    id: str
    instrument: str  # in the report's language where known, else as the JSON has it
    article: str
    summary: str
    why: str
    source: str
    quote: str  # the text in its original language ("" when the data file has none)
    quote_lang: str
    quote_instrument: str
    quote_article: str
    quote_source: str
    translation: str  # the quote in the report's language ("" when the quote is in it)


def _known() -> dict[str, dict[str, Any]]:
    from netscan.analysis.findings import load_provisions

    return {str(p.get("id")): p for p in load_provisions()}


def _one_line(s: Any) -> str:
    return " ".join(str(s or "").split())


def _cjk_line(s: Any) -> str:
    """Folded YAML text: Chinese lines join without spaces, other lines with one."""
    return (
        _one_line(s) if not re.search(r"[\u3000-\u9fff]", str(s or "")) else "".join(str(s).split())
    )


def why_text(why: Any) -> str:
    """The JSON's ``why`` (our own sentences joined by '; ') in the current language."""
    parts = []
    for part in str(why or "").split("; "):
        m = _FINDING_IS.fullmatch(part)
        if part in WHY:
            parts.append(_(part))
        elif m:
            parts.append(_("the finding is {level}").format(level=i18n.term("level", m[1])))
        else:
            parts.append(part)
    return _("; ").join(parts)


def view(p: dict[str, Any]) -> Provision:
    """A provision of a finding, for the current language. Values from the report are
    untrusted like the rest of it: callers escape every field for their output."""
    lang = i18n.current()
    data = _known().get(str(p.get("id")), {})
    orig = data.get("original") or {}
    quote_lang = str(orig.get("lang") or "")
    instrument, article = str(p.get("instrument") or ""), str(p.get("article") or "")
    summary = str(p.get("summary") or "")
    if lang != "en":
        if quote_lang == lang:
            instrument = str(orig.get("instrument") or instrument)
            article = str(orig.get("article") or article)
        instrument = str((data.get("instruments") or {}).get(lang) or instrument)
        summary = str((data.get("summaries") or {}).get(lang) or summary)
    if lang == "zh-CN" and instrument and "《" not in instrument:
        instrument = f"《{instrument}》"  # titles of instruments, as Chinese writes them
    translation = "" if quote_lang == lang else (data.get("translations") or {}).get(lang, "")
    return Provision(
        id=str(p.get("id") or ""),
        instrument=_one_line(instrument),
        article=_one_line(article),
        summary=_cjk_line(summary),
        why=why_text(p.get("why")),
        source=str(p.get("source") or ""),
        quote=_cjk_line(orig.get("text")),
        quote_lang=quote_lang,
        quote_instrument=_one_line(orig.get("instrument")),
        quote_article=_one_line(orig.get("article")),
        quote_source=str(orig.get("source") or ""),
        translation=_cjk_line(translation),
    )
