"""Questionnaires: structured, branching intake that works without JavaScript.

A library without a database (spec: ``docs/spec/questionnaire.md``). What the rest of
Mailslot calls:

- definitions: :func:`load_definition` (JSON text) and :func:`parse_definition` (parsed
  JSON) give a :class:`Definition` or raise :class:`QuestionnaireError`;
  :func:`definition_json` and :func:`definition_hash` (the version's identity);
  :func:`load_template` and :data:`TEMPLATES` for the shipped templates;
- answering, step by step: :func:`validate_step` (form data to :class:`StepAnswers` and
  per-field :class:`FieldError` messages), :func:`collect` (every shown step, hidden answers
  dropped), :func:`visible_steps`, :func:`visible_fields`, :func:`next_step`,
  :func:`previous_step`, :func:`route`, :func:`stop_message`;
- the sealed form: :func:`seal_form` (the answers document, and the identity document apart),
  :func:`read_document`, :func:`render_text`;
- statistics: ``questionnaires.stats.choice_counts`` (imported apart: it uses the
  statistics package and its database models).
"""

from mailslot.questionnaires.answers import Collected, StepAnswers, collect, validate_step
from mailslot.questionnaires.canonical import definition_hash, definition_json, to_data
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.logic import (
    Routing,
    next_step,
    previous_step,
    route,
    stop,
    stop_message,
    visible_fields,
    visible_steps,
)
from mailslot.questionnaires.model import Definition, Field, FieldType, Label, Option, Step
from mailslot.questionnaires.parse import load_definition, parse_definition
from mailslot.questionnaires.render import render_text
from mailslot.questionnaires.sealed import QuestionnaireRef, SealedForm, read_document, seal_form
from mailslot.questionnaires.templates import TEMPLATES, load_template, template_names
from mailslot.questionnaires.values import (
    Answers,
    AttachedFile,
    DateRange,
    FieldError,
    Value,
    form_data,
)

__all__ = [
    "TEMPLATES",
    "Answers",
    "AttachedFile",
    "Collected",
    "DateRange",
    "Definition",
    "Field",
    "FieldError",
    "FieldType",
    "Label",
    "Option",
    "QuestionnaireError",
    "QuestionnaireRef",
    "Routing",
    "SealedForm",
    "Step",
    "StepAnswers",
    "Value",
    "collect",
    "definition_hash",
    "definition_json",
    "form_data",
    "load_definition",
    "load_template",
    "next_step",
    "parse_definition",
    "previous_step",
    "read_document",
    "render_text",
    "route",
    "seal_form",
    "stop",
    "stop_message",
    "template_names",
    "to_data",
    "validate_step",
    "visible_fields",
    "visible_steps",
]
