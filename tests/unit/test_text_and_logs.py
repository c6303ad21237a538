"""Clear text typed by people, and log records that must never carry a traceback."""

from __future__ import annotations

import logging

import pytest

from mailslot.logs import TypeOnly
from mailslot.text import plain_text

pytestmark = pytest.mark.no_database


def test_plain_text_drops_controls_but_keeps_line_breaks() -> None:
    assert plain_text("a\x00b\x1b[31mc\u0007") == "ab[31mc"
    assert plain_text("line one\r\nline\ttwo\rthree", multiline=True) == (
        "line one\nline\ttwo\nthree"
    )
    assert plain_text("one\ntwo") == "onetwo"
    assert plain_text("e\u0301") == "\u00e9"  # NFC
    assert plain_text("\u202eRTL stays visible") == "\u202eRTL stays visible"


def test_type_only_filter_removes_the_traceback() -> None:
    secret = "codename marble violet"
    try:
        raise ValueError(secret)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", ("now",), None)
        import sys

        record.exc_info = sys.exc_info()
    assert TypeOnly().filter(record) is True
    text = logging.Formatter("%(message)s").format(record)
    assert text == "failed: now [ValueError]"
    assert secret not in text
    assert record.exc_info is None


def test_json_lines_carry_no_traceback() -> None:
    import json

    from mailslot.logs import JsonLines

    try:
        raise KeyError("a form field")
    except KeyError:
        import sys

        record = logging.LogRecord("mailslot.web", logging.ERROR, __file__, 1, "boom", (), None)
        record.exc_info = sys.exc_info()
    TypeOnly().filter(record)
    line = json.loads(JsonLines().format(record))
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["message"] == "boom [KeyError]"
    assert line["level"] == "error"
    assert "a form field" not in json.dumps(line)


def test_a_database_error_is_logged_with_its_code_never_its_message() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from mailslot.logs import kind

    secret = "codename marble violet"
    try:  # a real driver error, with the code sqlite3 gives it
        sqlite3.connect(":memory:").execute(f'SELECT * FROM "{secret}"')  # noqa: S608 - a test
    except sqlite3.OperationalError as exc:
        wrapped = OperationalError("SELECT ...", {}, exc)
    assert kind(wrapped) == "OperationalError SQLITE_ERROR"
    assert secret in str(wrapped)  # the message would have leaked it
    assert kind(ValueError(secret)) == "ValueError"
