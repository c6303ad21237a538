"""The builder's edits: each gives a definition the parser accepts, or the parser's error
with a path that names the control of the form it came from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mailslot.questionnaires import builder
from mailslot.questionnaires.conditions import Equals, InSet, Not
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import FieldType, Label, Route
from mailslot.questionnaires.templates import template_names

EN = ("en",)


def form(**kw: object) -> builder.FieldForm:
    base: dict[str, object] = {"id": "question_1", "labels": {"en": "What?"}, "helps": {}}
    base.update(kw)
    return builder.FieldForm(**base)  # type: ignore[arg-type]


def test_empty_and_templates_start_valid() -> None:
    empty = builder.start(None, EN)
    assert len(empty.steps) == 1
    assert [f.type for f in empty.fields()] == [FieldType.SHORT_TEXT]
    for name in template_names():
        assert builder.start(name, EN).steps
    # The draft goes through the page as JSON and comes back the same.
    assert builder.read_draft(builder.draft_text(empty)) == empty


def test_steps_added_moved_renamed_and_removed() -> None:
    draft = builder.add_step(builder.start(None, EN), EN)
    assert len(draft.steps) == 2
    second_field = draft.steps[1].fields[0].id
    assert second_field != draft.steps[0].fields[0].id  # a fresh id
    draft = builder.set_step(draft, 1, {"en": "Who"}, builder.ConditionForm())
    draft = builder.move_step(draft, 1, -1)
    assert draft.steps[0].title.get("en") == "Who"
    assert builder.move_step(draft, 0, -1) == draft  # already first
    draft = builder.remove_step(draft, 0)
    assert [s.fields[0].id for s in draft.steps] == ["question_1"]
    with pytest.raises(QuestionnaireError) as caught:
        builder.remove_step(draft, 0)  # a questionnaire needs a step
    assert caught.value.path == "steps"


@pytest.mark.parametrize("kind", [kind.value for kind in FieldType])
def test_every_type_can_be_added(kind: str) -> None:
    draft = builder.add_field(builder.start(None, EN), 0, kind, EN)
    assert draft.steps[0].fields[1].type.value == kind


def test_field_settings_options_bounds_and_condition() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "single_choice", EN)
    choice_id = draft.steps[0].fields[1].id
    draft = builder.set_field(
        draft,
        0,
        1,
        form(
            id="kind",
            labels={"en": "Which kind?", "fr": "Quel genre ?"},
            helps={"en": "Pick one."},
            required=True,
            options={"en": "fraud = Fraud\nother = Something else", "fr": "fraud = Fraude"},
        ),
    )
    kind = draft.steps[0].fields[1]
    assert kind.id == "kind" != choice_id
    assert kind.required
    assert kind.label is not None
    assert kind.label.get("fr") == "Quel genre ?"
    assert [o.id for o in kind.options] == ["fraud", "other"]
    assert kind.options[0].label.get("fr") == "Fraude"
    draft = builder.add_field(draft, 0, "long_text", EN)
    draft = builder.set_field(
        draft,
        0,
        2,
        form(
            id="detail",
            low="10",
            high="2000",
            condition=builder.ConditionForm("kind", "not", ("other",)),
        ),
    )
    detail = draft.steps[0].fields[2]
    assert (detail.min_length, detail.max_length) == (10, 2000)
    assert detail.show_if == Not(InSet("kind", ("other",)))
    assert builder.condition_form(detail.show_if) == builder.ConditionForm(
        "kind", "not", ("other",)
    )
    draft = builder.set_field(
        draft,
        0,
        2,
        form(id="detail", condition=builder.ConditionForm("kind", "equals", ("fraud",))),
    )
    assert draft.steps[0].fields[2].show_if == Equals("kind", "fraud")
    # Languages the form did not show are kept.
    draft = builder.set_field(draft, 0, 1, form(id="kind", labels={"en": "Kind?"}, options=None))
    label = draft.steps[0].fields[1].label
    assert label is not None
    assert label.get("fr") == "Quel genre ?"
    number = builder.add_field(draft, 0, "number", EN)
    number = builder.set_field(number, 0, 3, form(id="amount", low="0.5", high="10"))
    assert number.steps[0].fields[3].minimum == Decimal("0.5")


@pytest.mark.parametrize(
    ("edit", "control"),
    [
        ({"id": "Not An Id"}, "id"),
        ({"labels": {"en": ""}}, "label"),
        ({"low": "5", "high": "2"}, ""),
        ({"low": "two"}, "bounds"),
        ({"condition": builder.ConditionForm("nowhere", "equals", ("x",))}, "show_if"),
    ],
)
def test_refused_edits_name_their_control(edit: dict[str, object], control: str) -> None:
    draft = builder.start(None, EN)
    with pytest.raises(QuestionnaireError) as caught:
        builder.set_field(draft, 0, 0, form(**edit))
    assert builder.control(caught.value, 0, 0) == control


def test_options_lines_checked() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "multiple_choice", EN)
    for lines in ({"en": "no equals sign"}, {"en": "a = A", "fr": "b = B"}, {"en": "a = A\na = B"}):
        with pytest.raises(QuestionnaireError) as caught:
            builder.set_field(draft, 0, 1, form(id="many", options=lines))
        assert builder.control(caught.value, 0, 1) == "options"


def test_fields_moved_and_removed() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "yes_no", EN)
    moved = builder.move_field(draft, 0, 1, -1)
    assert [f.type for f in moved.steps[0].fields] == [FieldType.YES_NO, FieldType.SHORT_TEXT]
    removed = builder.remove_field(moved, 0, 0)
    assert [f.type for f in removed.steps[0].fields] == [FieldType.SHORT_TEXT]
    with pytest.raises(QuestionnaireError):
        builder.remove_field(removed, 0, 5)
    with pytest.raises(QuestionnaireError):
        builder.add_field(removed, 0, "nonsense", EN)


def test_flags_set_for_their_types_only() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "yes_no", EN)
    counted = builder.set_field(draft, 0, 1, form(id="seen", flags=frozenset({"statistics"})))
    assert counted.steps[0].fields[1].statistics
    cleared = builder.set_field(counted, 0, 1, form(id="seen"))
    assert not cleared.steps[0].fields[1].statistics
    with pytest.raises(QuestionnaireError) as caught:
        builder.set_field(draft, 0, 1, form(id="seen", flags=frozenset({"identity", "statistics"})))
    assert builder.control(caught.value, 0, 1) == "flags"
    # A flag that the type has not is left alone.
    text = builder.set_field(draft, 0, 0, form(flags=frozenset({"integer", "identity"})))
    assert text.steps[0].fields[0].identity
    assert not text.steps[0].fields[0].integer


def test_a_groups_own_fields() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "group", EN)
    group_id = draft.steps[0].fields[1].id
    draft = builder.add_child(draft, 0, 1, "number", EN)
    group = draft.steps[0].fields[1]
    assert [f.type for f in group.fields] == [FieldType.SHORT_TEXT, FieldType.NUMBER]
    child = form(id="age", labels={"en": "Age"}, low="0", high="120", flags=frozenset({"integer"}))
    draft = builder.set_field(
        draft,
        0,
        1,
        form(id=group_id, labels={"en": "Persons involved"}, children=(None, child)),
    )
    age = draft.steps[0].fields[1].fields[1]
    assert (age.id, age.integer, age.maximum) == ("age", True, Decimal(120))
    draft = builder.move_child(draft, 0, 1, 1, -1)
    assert draft.steps[0].fields[1].fields[0].id == "age"
    draft = builder.remove_child(draft, 0, 1, 1)
    assert [f.id for f in draft.steps[0].fields[1].fields] == ["age"]
    for refused in ("file", "group", "acknowledgement"):  # a group's rows hold simple answers
        with pytest.raises(QuestionnaireError):
            builder.add_child(draft, 0, 1, refused, EN)
    with pytest.raises(QuestionnaireError):
        builder.add_child(draft, 0, 0, "number", EN)  # not a group
    with pytest.raises(QuestionnaireError):
        builder.remove_child(draft, 0, 1, 0)  # a group needs a field


def test_save_all_sets_every_form_at_once() -> None:
    draft = builder.add_step(builder.start(None, EN), EN)
    step = builder.StepForm(
        titles={"en": "Who"},
        condition=builder.ConditionForm(),
        fields=(None,),
        descriptions={"en": "About the people."},
    )
    saved = builder.save_all(draft, {"en": "Report"}, [None, step], {"en": "Tell us."})
    assert saved.title.get("en") == "Report"
    assert saved.description is not None
    assert saved.description.get("en") == "Tell us."
    assert saved.steps[1].description is not None
    assert saved.steps[1].title.get("en") == "Who"
    cleared = builder.save_all(saved, {}, [None, None], {"en": ""})
    assert cleared.description is None
    with pytest.raises(QuestionnaireError) as caught:
        builder.save_all(saved, {"en": ""}, [None, None])
    assert builder.locate(caught.value) == (None, None, "title")
    bad = builder.StepForm({}, builder.ConditionForm(), (form(id="x", low="-1"),))
    with pytest.raises(QuestionnaireError) as caught:
        builder.save_all(saved, {}, [bad, None])
    assert builder.locate(caught.value) == (0, 0, "bounds")


def test_an_answer_routes_or_stops_and_keeps_what_the_page_does_not_show() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "single_choice", EN)
    choice = draft.steps[0].fields[1]
    answers = {
        "first": builder.OptionForm(channel="compliance"),
        "second": builder.OptionForm(stops={"en": "Not here, please."}),
    }
    draft = builder.set_field(draft, 0, 1, form(id=choice.id, answers=answers))
    first, second = draft.steps[0].fields[1].options
    assert first.route == Route(channel="compliance")
    assert second.stop == Label.of(en="Not here, please.")
    assert second.route is None
    # Recipients, one display name a line (blank lines dropped, each once).
    people = {"first": builder.OptionForm(recipients=("Ana", "", "Ana", " Bo "))}
    draft = builder.set_field(draft, 0, 1, form(id=choice.id, answers=people))
    first, second = draft.steps[0].fields[1].options
    assert first.route == Route(recipients=("Ana", "Bo"))
    assert second.stop is not None  # an answer the post left out keeps its stop
    # A page that does not offer recipients keeps them; an empty stop removes it.
    unchanged = {"first": builder.OptionForm(), "second": builder.OptionForm(stops={"en": ""})}
    draft = builder.set_field(draft, 0, 1, form(id=choice.id, answers=unchanged))
    first, second = draft.steps[0].fields[1].options
    assert first.route == Route(recipients=("Ana", "Bo"))
    assert second.stop is None
    cleared = {"first": builder.OptionForm(recipients=())}
    draft = builder.set_field(draft, 0, 1, form(id=choice.id, answers=cleared))
    assert draft.steps[0].fields[1].options[0].route is None


def test_a_refused_route_or_stop_names_its_control() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "single_choice", EN)
    choice = draft.steps[0].fields[1].id
    too_long = {"first": builder.OptionForm(stops={"en": "x" * 5000})}
    with pytest.raises(QuestionnaireError) as caught:
        builder.set_field(draft, 0, 1, form(id=choice, answers=too_long))
    assert builder.locate(caught.value) == (0, 1, "routes")
    both = {"second": builder.OptionForm(channel="compliance", recipients=("Ana",))}
    with pytest.raises(QuestionnaireError) as caught:
        builder.set_field(draft, 0, 1, form(id=choice, answers=both))
    assert caught.value.path == "steps[0].fields[1].options[1].route"
    assert builder.locate(caught.value) == (0, 1, "routes")


def test_a_file_size_is_typed_in_mib() -> None:
    draft = builder.add_field(builder.start(None, EN), 0, "file", EN)
    draft = builder.set_field(draft, 0, 1, form(id="evidence", max_size="2.5", high="3"))
    field = draft.steps[0].fields[1]
    assert (field.max_size, field.max_files) == (5 * builder.MIB // 2, 3)
    assert builder.mebibytes(field.max_size) == "2.5"
    assert builder.mebibytes(10 * builder.MIB) == "10"
    assert builder.mebibytes(None) == ""
    assert builder.set_field(draft, 0, 1, form(id="evidence")).steps[0].fields[1].max_size is None
    for typed in ("lots", "0", "-1", "NaN", "Infinity", "1e30", "1e999999999"):
        with pytest.raises(QuestionnaireError) as caught:
            builder.set_field(draft, 0, 1, form(id="evidence", max_size=typed))
        assert builder.locate(caught.value) == (0, 1, "max_size"), typed


def test_rules_added_set_refused_and_removed() -> None:
    empty = builder.start(None, EN)
    with pytest.raises(QuestionnaireError):
        builder.add_rule(empty, EN)  # nothing a rule could test
    draft = builder.add_field(empty, 0, "yes_no", EN)
    draft = builder.add_rule(draft, EN)
    (rule,) = draft.rules
    asked = draft.steps[0].fields[1].id
    assert rule.condition == Equals(asked, "yes")
    assert rule.stop is not None
    assert builder.testable_ids(draft) == [asked]
    routed = builder.RuleForm(
        builder.ConditionForm(asked, "equals", ("no",)), builder.OptionForm(channel="urgent")
    )
    with pytest.raises(QuestionnaireError) as caught:  # a route and a stop: one or the other
        builder.set_rules(draft, [routed])
    assert builder.rule_at(caught.value) == 0
    routed = builder.RuleForm(routed.condition, builder.OptionForm("urgent", None, {"en": ""}))
    draft = builder.set_rules(draft, [routed])
    assert draft.rules[0].condition == Equals(asked, "no")
    assert draft.rules[0].route == Route(channel="urgent")
    assert draft.rules[0].stop is None
    assert builder.set_rules(draft, [None]) == draft  # left out: kept
    assert builder.remove_rule(draft, 0).rules == ()
    with pytest.raises(QuestionnaireError) as caught:
        builder.remove_rule(draft, 1)
    assert builder.rule_at(caught.value) == 1
