"""ISO 3166-1 alpha-2 country codes, for the premises country (``--country``, settings).

The list of codes is pycountry's copy of the ISO 3166-1 table (kept from Debian's
``iso-codes`` data, offline). A premises country that is not an assigned alpha-2 code is
refused: a wrong one would make every destination cross-border and select no provisions.
"""

from __future__ import annotations

from functools import lru_cache


class CountryError(ValueError):
    """Not an ISO 3166-1 alpha-2 code; the message is one line with a hint."""


@lru_cache(maxsize=1)
def alpha2_codes() -> frozenset[str]:
    """Every assigned ISO 3166-1 alpha-2 code."""
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


def _hint(value: str) -> str:
    import pycountry

    cleaned = value.strip()
    candidates = []
    if 2 <= len(cleaned) <= 64 and cleaned.isprintable():
        try:
            candidates = [pycountry.countries.lookup(cleaned)]
        except LookupError:
            if len(cleaned) >= 4:
                try:
                    candidates = list(pycountry.countries.search_fuzzy(cleaned))[:3]
                except LookupError:
                    candidates = []
    if candidates:
        return "did you mean " + " or ".join(f"{c.alpha_2} ({c.name})" for c in candidates) + "?"
    return "use a two-letter ISO 3166-1 code such as CN, DE, GB or US"


def country_code(value: str) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code; ``CountryError`` otherwise."""
    code = value.upper()
    if len(code) == 2 and code.isascii() and code in alpha2_codes():
        return code
    shown = repr(value if len(value) <= 64 else value[:64] + "…")
    raise CountryError(f"{shown} is not an ISO 3166-1 alpha-2 country code; {_hint(value)}")
