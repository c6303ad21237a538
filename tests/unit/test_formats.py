"""Formatting in every locale through Babel (mailslot.formats): the few CLDR tables copied at
build time format exactly as Babel's full data does, for every supported locale."""

from __future__ import annotations

import datetime
import pickle
from pathlib import Path

import babel
import pytest
from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal
from babel.units import format_unit
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot import formats, i18n
from mailslot.sizes import human_size

pytestmark = pytest.mark.no_database

# From 1970 to 2100, every hour of the day and every month and weekday come up.
TIMESTAMPS = st.integers(min_value=0, max_value=4_102_444_800)


def test_the_build_step_wrote_the_tables() -> None:
    # python -m mailslot.i18n (./scripts/i18n, every install) writes them for this Babel.
    tables = formats._tables()
    assert set(tables) == set(i18n.SUPPORTED_LOCALES), "run ./scripts/i18n"
    assert isinstance(formats.babel_locale("ko"), formats._TablesLocale)


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
@settings(max_examples=60, deadline=None)
@given(timestamp=TIMESTAMPS, number=st.floats(min_value=0, max_value=1e15))
def test_every_locale_formats_as_babels_full_data_does(
    locale: str, timestamp: int, number: float
) -> None:
    full = Locale.parse(locale)
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    trimmed = formats.babel_locale(locale)
    for width in ("short", "medium", "long", "full"):
        assert format_date(moment, width, locale=trimmed) == format_date(moment, width, locale=full)
        expected = format_time(moment, width, tzinfo=datetime.UTC, locale=full)
        if "z" not in str(full.time_formats[width]).lower():  # zone names are not copied
            assert format_time(moment, width, tzinfo=datetime.UTC, locale=trimmed) == expected
        assert str(get_datetime_format(width, locale=trimmed)) == str(
            get_datetime_format(width, locale=full)
        )
    for pattern in ("#,##0", "#,##0.0"):
        expected = format_decimal(number, pattern, locale=full)
        assert format_decimal(number, pattern, locale=trimmed) == expected
    days = round(number % 2000, 1)
    expected = format_unit(days, "duration-day", format="#,##0.#", locale=full)
    assert formats.format_days(locale, days) == expected


@pytest.mark.parametrize(
    ("locale", "day", "moment"),
    [
        ("en", "May 6, 2024", "May 6, 2024, 2:00 PM"),
        ("ko", "2024. 5. 6.", "2024. 5. 6. 오후 2:00"),
        ("de", "06.05.2024", "06.05.2024, 14:00"),
        ("ru", "6 мая 2024\u202fг.", "6 мая 2024 г., 14:00"),
        ("ja", "2024/05/06", "2024/05/06 14:00"),
        ("ar", "06\u200f/05\u200f/2024", "06\u200f/05\u200f/2024، 2:00 م"),
    ],
)
def test_days_and_moments(locale: str, day: str, moment: str) -> None:
    timestamp = int(datetime.datetime(2024, 5, 6, 14, tzinfo=datetime.UTC).timestamp())
    assert formats.format_day(locale, timestamp) == day
    # The time zone's words come from each catalogue ("%(time)s UTC").
    found = formats.format_moment(locale, timestamp).replace("\u202f", " ")
    assert moment in found
    assert found == i18n.translate(locale, "%(time)s UTC", {"time": moment})
    if locale == "en":
        assert found == moment + " UTC"


@pytest.mark.parametrize(
    ("locale", "size", "expected"),
    [
        ("en", 0, "0 B"),
        ("en", 980, "980 B"),
        ("en", 1023, "1,023 B"),
        ("en", 1024, "1.0 KiB"),
        ("en", 1536 * 1024, "1.5 MiB"),
        ("en", 2 * 1024**3, "2.0 GiB"),
        ("en", 5 * 1024**5, "5,120.0 TiB"),
        ("de", 1536 * 1024, "1,5 MiB"),
        ("ru", 1536 * 1024, "1,5 MiB"),
        ("es", 1023, "1.023 B"),
    ],
)
def test_sizes(locale: str, size: int, expected: str) -> None:
    # Units come from the catalogues ("%(n)s MiB"); the number always from Babel.
    found = human_size(size, locale).replace("\u00a0", " ").replace("\u202f", " ")
    if i18n.translations(locale).gettext("%(n)s MiB") == "%(n)s MiB":
        assert found == expected
    else:
        assert found.split(" ")[0] == expected.split(" ", maxsplit=1)[0]


def test_sizes_for_the_cli_stay_english() -> None:
    assert human_size(1536 * 1024) == "1.5 MiB"


def test_without_the_tables_babels_own_data_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "_tables", lambda: {})
    formats.babel_locale.cache_clear()
    try:
        assert not isinstance(formats.babel_locale("fr"), formats._TablesLocale)
        assert formats.format_number("fr", 1234.5, 1).replace("\u202f", " ") == "1 234,5"
    finally:
        formats.babel_locale.cache_clear()


def test_tables_from_another_babel_are_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stale = tmp_path / "formats.pickle"
    data = formats.build_data()
    data["babel"] = "0.0"
    stale.write_bytes(pickle.dumps(data))
    monkeypatch.setattr(formats, "_data_file", lambda: stale)
    formats._tables.cache_clear()
    try:
        assert formats._tables() == {}
    finally:
        formats._tables.cache_clear()
    assert babel.__version__ != "0.0"


@pytest.mark.parametrize(
    ("locale", "days", "expected"),
    [
        ("en", 1, "1 day"),
        ("en", 3.5, "3.5 days"),
        ("ru", 1, "1 день"),
        ("ru", 2, "2 дня"),
        ("ru", 5, "5 дней"),
        ("ru", 3.5, "3,5 дня"),
        ("de", 1500, "1.500 Tage"),
        ("ko", 2, "2일"),
    ],
)
def test_days_take_the_plural_form_cldr_gives_whole_and_fractional_numbers(
    locale: str, days: float, expected: str
) -> None:
    assert formats.format_days(locale, days) == expected
