"""Logging for ``mailslot serve``: plain lines, and never a traceback.

A traceback shows local values and request data (form fields, headers) as it unwinds, so
every record that carries an exception is reduced to the exception's type name before any
handler formats it. The same goes for uvicorn's and Starlette's own error reports.
"""

from __future__ import annotations

import json
import logging
import time


def kind(exc: BaseException) -> str:
    """What a log may say of ``exc``: its type name and, for a database error, the driver's
    error code (``OperationalError SQLITE_BUSY``, ``OperationalError 40P01``): a fixed name,
    never the message, which can quote values."""
    name = type(exc).__name__
    cause = getattr(exc, "orig", None)
    code = getattr(cause, "sqlite_errorname", None) or getattr(cause, "sqlstate", None)
    return (
        f"{name} {code}"
        if isinstance(code, str) and code.isascii() and code.isprintable()
        else name
    )


class TypeOnly(logging.Filter):
    """Replace a record's exception (and its traceback) by :func:`kind`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            kind_ = kind(record.exc_info[1]) if record.exc_info[1] else "exception"
            record.msg = f"{record.getMessage()} [{kind_}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, seconds), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            },
            ensure_ascii=False,
        )


def configure(level: str, fmt: str = "text") -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(TypeOnly())
        if fmt == "json":
            handler.setFormatter(JsonLines())
    logging.getLogger("alembic").setLevel(logging.WARNING)
