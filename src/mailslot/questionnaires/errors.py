"""Errors of the questionnaire library.

    InvalidInput
    └── QuestionnaireError   a definition (imported JSON, a template) that is not valid,
                             or a sealed answer document that does not match its definition

One class, because there is one thing to do with it: show the message to the admin who
imported the definition, who fixes the file. The message is a gettext msgid whose first
parameter is always ``path``, the place of the problem (``steps[0].fields[2].options``), so
that ``str(error)`` reads ``steps[0].fields[2].options: duplicate id "fraud"``. Answers that
a source typed are never errors: they get per-field messages (``answers.FieldError``).
"""

from __future__ import annotations

from mailslot.errors import InvalidInput


class QuestionnaireError(InvalidInput):
    def __init__(self, path: str, message: str, **params: object) -> None:
        super().__init__(message, path=path or "(top)", **params)
        self.path = path or "(top)"

    def __str__(self) -> str:
        return self.message % self.params
