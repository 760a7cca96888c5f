"""Languages of the human-readable outputs: the HTML and Markdown reports, the terminal
summary and the TUI (the JSON report stays language-neutral: its keys are a contract).

Messages are gettext catalogues managed with Babel: ``netscan/locale/netscan.pot`` is
extracted from the sources (``pybabel extract -F babel.cfg``), each language has its
``.po`` source and its compiled ``.mo`` beside it (both committed, so a fresh clone, an
editable install and a wheel all carry them; a test checks the ``.mo`` is the compilation
of the ``.po`` and that every message is translated). Dates and numbers are formatted for
the locale by Babel.

The current language is a context variable: ``with use("zh-CN"): ...`` renders in Chinese;
``_`` looks the message up at call time, so module-level texts are marked with ``N_`` and
translated where they are shown. Translated templates are plain text with ``{name}``
fields: callers fill them and then escape the whole line for its output (``netscan.untrusted``),
so a network string is never interpolated into markup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import NumberPattern, parse_pattern
from babel.support import NullTranslations, Translations

DOMAIN = "netscan"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGS = ("en", "zh-CN")  # the languages netscan speaks; the first is the source language
DEFAULT = "en"
NAMES = {"en": "English", "zh-CN": "中文"}  # each language in its own words, for switches
_BABEL = {"en": "en", "zh-CN": "zh_Hans_CN"}  # CLDR locale for dates and numbers
_CATALOGUE = {"zh-CN": "zh_CN"}  # catalogue directory under LOCALE_DIR
_ALIASES = {
    "en": "en", "en-us": "en", "en-gb": "en", "english": "en",
    "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN",
    "chinese": "zh-CN",
}  # fmt: skip

_current: ContextVar[str] = ContextVar("netscan_lang", default=DEFAULT)


class LangError(ValueError):
    """A language netscan does not speak."""


def normalise(value: str) -> str:
    """A language tag (``zh-CN``, ``zh_CN``, ``zh``, ``en``) as one of ``LANGS``."""
    key = str(value).strip().replace("_", "-").lower()
    lang = _ALIASES.get(key)
    if lang is None:
        shown = str(value)[:40].encode("ascii", "backslashreplace").decode()
        raise LangError(f"unknown language {shown!r} (known: {', '.join(LANGS)})")
    return lang


def parse_langs(value: str | list[str] | None) -> list[str]:
    """``--lang`` / the ``lang`` setting: one language, or several separated by commas
    (``zh-CN,en``: reports in Chinese, the HTML report switchable to English)."""
    if value is None:
        return [DEFAULT]
    items = value if isinstance(value, list) else str(value).split(",")
    out: list[str] = []
    for item in items:
        if str(item).strip():
            lang = normalise(item)
            translations(lang)  # a missing catalogue (a broken install) is refused here
            if lang not in out:
                out.append(lang)
    if not out:
        raise LangError(f"no language given (known: {', '.join(LANGS)})")
    return out


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (the source language needs none)."""
    cat = _CATALOGUE.get(lang)
    if cat is None:
        return NullTranslations()
    mo = LOCALE_DIR / cat / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():  # a broken install: say so rather than silently speak English
        raise LangError(f"the {lang} message catalogue is missing ({mo})")
    return Translations.load(str(LOCALE_DIR), [cat], DOMAIN)


def current() -> str:
    return _current.get()


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[str]:
    """Render in ``lang`` inside the block (``None``: keep the current language)."""
    lang = normalise(lang) if lang else current()
    translations(lang)  # fail early on a missing catalogue
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current()).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a message for extraction; translated later with ``_``."""
    return message


# -- words from netscan's own vocabulary (levels, roles, categories) ----------------------

# marked for extraction with their context; values outside these sets are shown as they are
_TERMS: dict[str, tuple[str, ...]] = {
    "level": ("confirmed", "likely", "possible"),
    "role": ("camera", "nvr", "face-terminal", "doorbell", "edge-server", "computer", "phone",
             "printer", "router", "iot", "unknown", "video-device", "device"),
    "category": ("face-cloud", "vendor-cloud", "device", "protocol", "cloud", "cdn"),
    "shape": ("media", "image-uploads", "chatter", "content"),
    "kind": ("face-upload", "face-cloud-upload", "face-cloud-contact", "offsite-upstream",
             "wlan-camera-upstream", "face-library-sync", "device", "finding", "endpoint"),
    "verdict": ("confirmed", "likely", "possible", "off-site", "local"),
    "state": ("starting", "analysing", "done", "failed"),
    # the premises inferred from the link: where the premises came from, what showed a range
    "origin": ("default", "given", "default+inferred"),
    "source": ("router-advertisement", "dhcpv6", "local-link"),
}  # fmt: skip


def _mark_terms() -> None:  # never called: lets the extractor see every term with its context
    for _unused in (
        pgettext("level", "confirmed"),
        pgettext("level", "likely"),
        pgettext("level", "possible"),
        pgettext("role", "camera"),
        pgettext("role", "nvr"),
        pgettext("role", "face-terminal"),
        pgettext("role", "doorbell"),
        pgettext("role", "edge-server"),
        pgettext("role", "computer"),
        pgettext("role", "phone"),
        pgettext("role", "printer"),
        pgettext("role", "router"),
        pgettext("role", "iot"),
        pgettext("role", "unknown"),
        pgettext("role", "video-device"),
        pgettext("role", "device"),
        pgettext("category", "face-cloud"),
        pgettext("category", "vendor-cloud"),
        pgettext("category", "device"),
        pgettext("category", "protocol"),
        pgettext("category", "cloud"),
        pgettext("category", "cdn"),
        pgettext("shape", "media"),
        pgettext("shape", "image-uploads"),
        pgettext("shape", "chatter"),
        pgettext("shape", "content"),
        pgettext("kind", "face-upload"),
        pgettext("kind", "face-library-sync"),
        pgettext("kind", "face-cloud-upload"),
        pgettext("kind", "face-cloud-contact"),
        pgettext("kind", "offsite-upstream"),
        pgettext("kind", "wlan-camera-upstream"),
        pgettext("kind", "device"),
        pgettext("kind", "finding"),
        pgettext("kind", "endpoint"),
        pgettext("verdict", "confirmed"),
        pgettext("verdict", "likely"),
        pgettext("verdict", "possible"),
        pgettext("verdict", "off-site"),
        pgettext("verdict", "local"),
        pgettext("state", "starting"),
        pgettext("state", "analysing"),
        pgettext("state", "done"),
        pgettext("state", "failed"),
        pgettext("origin", "default"),
        pgettext("origin", "given"),
        pgettext("origin", "default+inferred"),
        pgettext("source", "router-advertisement"),
        pgettext("source", "dhcpv6"),
        pgettext("source", "local-link"),
    ):
        pass


def term(context: str, value: Any) -> str:
    """A word of netscan's vocabulary (a level, role, category...) in the current language;
    anything else (it may have come from elsewhere) unchanged, for the caller to escape."""
    s = "" if value is None else str(value)
    if s in _TERMS.get(context, ()):
        return pgettext(context, s)
    return s


def yes_no(value: bool | None) -> str:
    if value is None:
        return _("unknown")
    return _("yes") if value else _("no")


# -- numbers and dates --------------------------------------------------------------------


def locale() -> Locale:
    return _locale(current())


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(_BABEL[lang])


@cache
def _number_pattern(digits: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))


def number(n: Any, digits: int = 0) -> str:
    """A number grouped for the locale; non-numbers as they are. (``format_decimal`` with
    the locale and the pattern parsed once: the summary formats a thousand numbers.)"""
    if isinstance(n, bool) or not isinstance(n, int | float):
        try:
            n = float(n) if "." in str(n) else int(str(n))
        except (TypeError, ValueError):
            return "" if n is None else str(n)
    return _number_pattern(digits).apply(n, locale(), decimal_quantization=True,
                                         group_separator=True, numbering_system="latn")  # fmt: skip


def size(n: Any) -> str:
    """A byte count in decimal units (B, kB, MB, GB), the number formatted for the locale."""
    if n is None:
        return ""
    try:
        v = float(n)
    except (TypeError, ValueError):
        return str(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(v) < 1000 or unit == "GB":
            return f"{number(v, 0 if unit == 'B' else 1)} {unit}"
        v /= 1000
    return f"{number(v, 1)} GB"  # pragma: no cover - the loop always returns


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def when(value: Any) -> str:
    """A timestamp (ISO 8601 text, epoch seconds or datetime) as the locale writes it, in
    UTC and saying so; text that is not a timestamp is returned as it is."""
    dt = _parse_time(value)
    if dt is None:
        return "" if value is None else str(value)
    return format_datetime(dt, format="medium", tzinfo=UTC, locale=locale()) + " UTC"


def native_name(lang: str) -> str:
    return NAMES.get(lang, lang)
