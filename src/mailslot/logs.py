"""Logging for ``mailslot serve``: plain lines, and never a traceback.

A traceback shows local values and request data (form fields, headers) as it unwinds, so
every record that carries an exception is reduced to the exception's type name before any
handler formats it. The same goes for uvicorn's and Starlette's own error reports.
"""

from __future__ import annotations

import json
import logging
import time


class TypeOnly(logging.Filter):
    """Replace a record's exception (and its traceback) by the exception's type name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "exception"
            record.msg = f"{record.getMessage()} [{kind}]"
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
