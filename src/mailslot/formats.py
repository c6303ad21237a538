"""Dates, times, numbers and byte sizes in a locale's own way, through Babel, for every
supported locale alike (English too: no hand-written English branch).

Babel keeps each locale's whole CLDR data in memory once it is used: about 1.4 MiB per
locale, 18 MiB for all thirteen. Formatting needs a few of its tables (date, time and number
patterns, month and day names, day periods, number symbols), so the build step
(``python -m mailslot.i18n``, see :mod:`mailslot.i18n`) copies just those into
``locale/formats.pickle`` (about 50 KB, 0.5 MiB in memory), and each :class:`babel.Locale`
here reads its data from that copy. If the file is missing or was written by another Babel
version, the tables are taken from Babel's own data at first use instead (correct, but with
the memory of the full data). ``tests/unit/test_formats.py`` checks that every locale
formats exactly as Babel does with its full data.
"""

from __future__ import annotations

import datetime
import pickle
from collections.abc import Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

import babel
from babel import Locale, localedata
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal
from babel.units import format_unit

from mailslot.i18n import N_, SUPPORTED_LOCALES, translate

# The CLDR tables that format_date, format_time and format_decimal read.
TABLES: Final = (
    "date_formats",
    "time_formats",
    "datetime_formats",
    "months",
    "days",
    "quarters",
    "eras",
    "periods",
    "day_periods",
    "day_period_rules",
    "number_symbols",
    "decimal_formats",
    "default_numbering_system",
    "unit_patterns",  # of which only UNIT_PATTERNS: all of them are most of a locale's data
    "plural_form",
)
# The units counted on pages, with CLDR's plural forms for whole and fractional numbers.
UNIT_PATTERNS: Final = ("duration-day",)
_UNITS: Final = (N_("%(n)s B"), N_("%(n)s KiB"), N_("%(n)s MiB"), N_("%(n)s GiB"), N_("%(n)s TiB"))


def _data_file() -> Traversable:
    return resources.files("mailslot") / "locale" / "formats.pickle"


def build_data() -> dict[str, Any]:
    """The tables of every supported locale, from Babel's data (merged with its parents)."""
    locales = {}
    for locale in SUPPORTED_LOCALES:
        full = localedata.load(locale)
        tables = {name: full[name] for name in TABLES if name in full}
        tables["unit_patterns"] = {unit: full["unit_patterns"][unit] for unit in UNIT_PATTERNS}
        locales[locale] = tables
    return {"babel": babel.__version__, "tables": TABLES, "locales": locales}


def write_data() -> str:
    with resources.as_file(_data_file()) as path:
        path.write_bytes(pickle.dumps(build_data(), protocol=pickle.HIGHEST_PROTOCOL))
        return str(path)


@cache
def _tables() -> Mapping[str, Any]:
    source = _data_file()
    if source.is_file():
        # Written by write_data from Babel's own (pickled) data; read from our own package.
        stored = pickle.loads(source.read_bytes())  # noqa: S301
        if stored.get("babel") == babel.__version__ and stored.get("tables") == TABLES:
            return dict(stored["locales"])
    return {}


class _TablesLocale(Locale):
    """A Babel locale whose data is the few tables formatting reads."""

    def __init__(self, locale: str, tables: Mapping[str, Any]) -> None:
        super().__init__(*babel.core.parse_locale(locale))
        data: dict[str | int | None, Any] = dict(tables.items())
        self._tables = localedata.LocaleDataDict(data)

    @property
    def _data(self) -> localedata.LocaleDataDict:
        return self._tables


@cache
def babel_locale(locale: str) -> Locale:
    """The Babel locale to format with (English for a locale not supported)."""
    locale = locale if locale in SUPPORTED_LOCALES else "en"
    tables = _tables().get(locale)
    return Locale.parse(locale) if tables is None else _TablesLocale(locale, tables)


def _moment(timestamp: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def format_day(locale: str, timestamp: int) -> str:
    """A day: ``6 May 2024``, ``2024. 5. 6.``, ``06.05.2024`` (CLDR's medium date)."""
    return format_date(_moment(timestamp), "medium", locale=babel_locale(locale))


def format_moment(locale: str, timestamp: int) -> str:
    """A day and a time of day in UTC (medium date, short time, as CLDR joins them)."""
    moment = _moment(timestamp)
    cldr = babel_locale(locale)
    joined = (
        str(get_datetime_format("medium", locale=cldr))
        .replace("'", "")
        .replace("{0}", format_time(moment, "short", tzinfo=datetime.UTC, locale=cldr))
        .replace("{1}", format_date(moment, "medium", locale=cldr))
    )
    return translate(locale, N_("%(time)s UTC"), {"time": joined})


def format_number(locale: str, value: float, decimals: int = 0) -> str:
    """A number with the locale's digits grouping and decimal sign."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, pattern, locale=babel_locale(locale))


def format_days(locale: str, days: float) -> str:
    """A number of days, whole or not, in the locale's words: ``1 day``, ``3.5 days``,
    ``3,5 дня``, ``2일`` (CLDR's plural rules, which gettext's cannot apply to fractions)."""
    return format_unit(days, "duration-day", format="#,##0.#", locale=babel_locale(locale))


def format_size(locale: str, size: int) -> str:
    """Bytes for people, in powers of 1024: ``980 B``, ``1.5 MiB``, ``1,5 Mio``."""
    value = float(size)
    for step, unit in enumerate(_UNITS):
        if value < 1024 or step == len(_UNITS) - 1:
            return translate(locale, unit, {"n": format_number(locale, value, 1 if step else 0)})
        value /= 1024
    raise AssertionError  # pragma: no cover - the loop returns at its last unit
