"""The bounds of a questionnaire definition and its answers, so that a hostile import
cannot blow up memory or time (``docs/spec/questionnaire.md``, "Limits"), and the defaults
of settings left out. The JSON Schema (``docs/spec/questionnaire.schema.json``) states the
same numbers; a test keeps them equal."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

FORMAT_VERSION: Final = 1
MAX_DEFINITION_BYTES: Final = 512 * 1024
MAX_TOTAL_TEXT: Final = 512 * 1024  # characters of every text together
MAX_STEPS: Final = 30
MAX_FIELDS: Final = 300  # in the whole definition, a group's own fields included
MAX_GROUP_FIELDS: Final = 30
MAX_OPTIONS: Final = 200  # per field
MAX_TOTAL_OPTIONS: Final = 2000
MAX_RULES: Final = 100
MAX_LANGUAGES: Final = 40
MAX_LABEL_CHARS: Final = 1000  # titles, labels, options
MAX_HELP_CHARS: Final = 4000  # help, descriptions, stop messages
MAX_STATIC_CHARS: Final = 10000
MAX_NAME_CHARS: Final = 200  # channel and recipient names in routes
MAX_ROUTE_RECIPIENTS: Final = 50
SHORT_TEXT_MAX: Final = 1000  # the default and the largest max_length
LONG_TEXT_MAX: Final = 50000
MAX_REPEATS: Final = 50
DEFAULT_MAX_REPEATS: Final = 10
MAX_FILES: Final = 20
DEFAULT_MAX_FILES: Final = 5
MAX_FILE_SIZE: Final = 1 << 40
MAX_NUMBER: Final = Decimal(10) ** 15
MAX_DIGITS: Final = 15
LANGUAGE_TAG: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}")
