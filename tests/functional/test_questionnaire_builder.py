"""The admins' questionnaire builder through the real server, as a browser without
JavaScript posts it: start from a template, edit, a refused edit that keeps what was typed,
reorder, preview, export, import, publish (a new version, audited); recipients refused.
One server and one admin session for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import mailslot.db.models  # noqa: F401 - every table, for the foreign keys
from mailslot.audit.models import AuditEvent
from mailslot.channels.models import Channel
from mailslot.questionnaires import store
from mailslot.questionnaires.canonical import to_data
from tests.conftest import Account, LiveServer


class _Form(HTMLParser):
    """The controls of the builder's one form (class ``q-builder``), as a browser posts them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.values: dict[str, str] = {}
        self.buttons: set[str] = set()
        self._text: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "q-builder" in a.get("class", ""):
            self.inside = True
        if not self.inside:
            return
        name = a.get("name", "")
        if tag == "input" and a.get("type") == "checkbox":
            if "checked" in a:
                self.values[name] = a.get("value", "on")
        elif tag == "input":
            self.values[name] = a.get("value", "")
        elif tag == "textarea":
            self._text, self.values[name] = name, ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select is not None:
            if self._select not in self.values or "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "button" and name == "action":
            self.buttons.add(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._text = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self.values[self._text] += (
                data.removeprefix("\n") if not self.values[self._text] else data
            )


def form_of(html: str) -> _Form:
    parser = _Form()
    parser.feed(html)
    assert parser.values, "no builder form on the page"
    return parser


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Account:
    return server.add_user("admin")


@pytest.fixture(scope="module")
def web(server: LiveServer, admin: Account) -> Iterator[httpx.Client]:
    with closing(server.staff_client(admin)) as client:
        yield client


@pytest.fixture(scope="module")
def path(server: LiveServer) -> str:
    runtime = server.runtime()
    try:
        channel_id = runtime.default.transact(
            lambda db: db.scalar(select(Channel.id).where(Channel.name == "default"))
        )
    finally:
        runtime.close()
    return f"/admin/channels/{channel_id}/questionnaire"


def post(web: httpx.Client, path: str, page: httpx.Response, action: str, **changes: str) -> Any:
    form = form_of(page.text)
    assert action.split(":", maxsplit=1)[0] in {b.split(":")[0] for b in form.buttons} | {"save"}
    data = {**form.values, **changes, "action": action}
    return web.post(path, data=data)


def test_build_a_questionnaire_and_publish_it(
    server: LiveServer, web: httpx.Client, path: str
) -> None:
    empty = web.get(path)
    assert empty.status_code == 200, empty.text
    assert "no questionnaire" in empty.text
    csrf = form_of_start(empty.text)
    page = web.post(
        path, data={"csrf": csrf, "action": "start", "template": "newsroom_tip", "languages": ""}
    )
    assert page.status_code == 200, page.text
    assert "Send us a tip" in page.text
    # An empty questionnaire, then a choice question and a question shown only for one answer.
    page = web.post(path, data={"csrf": csrf, "action": "start", "template": "", "languages": ""})
    assert form_of(page.text).values["s0f0_id"] == "question_1"
    page = post(web, path, page, "add_field:0", s0_type="single_choice")
    page = post(
        web,
        path,
        page,
        "add_field:0",
        s0_type="long_text",
        s0f1_id="kind",
        s0f1_label_en="Which kind of wrongdoing?",
        s0f1_options_en="fraud = Fraud\nother = Something else",
        s0f1_required="1",
    )
    values = form_of(page.text).values
    assert values["s0f1_options_en"] == "fraud = Fraud\nother = Something else"
    assert values["s0f1_required"] == "1"
    # A refused edit: the error next to its control, everything typed kept.
    refused = post(
        web,
        path,
        page,
        "save",
        s0f2_id="Bad Id",
        s0f2_label_en="Describe the fraud, typed and kept",
        title_en="A title typed and kept",
    )
    assert refused.status_code == 400, refused.text
    assert "an id is 1 to 40 characters" in refused.text
    kept = form_of(refused.text).values
    assert kept["s0f2_label_en"] == "Describe the fraud, typed and kept"
    assert kept["title_en"] == "A title typed and kept"
    assert kept["s0f2_id"] == "Bad Id"
    assert '<details class="q-builder-field" open>' in refused.text
    page = post(
        web,
        path,
        refused,
        "field_up:0:2",
        s0f2_id="detail",
        s0f2_cond_field="kind",
        s0f2_cond_op="equals",
        s0f2_cond_values="fraud",
    )
    assert page.status_code == 400  # the condition now names a later field: refused
    assert "comes later; a condition can only use earlier answers" in page.text
    page = post(web, path, page, "field_remove:0:0", s0f2_cond_op="")
    assert page.status_code == 200, page.text
    page = post(
        web,
        path,
        page,
        "save",
        s0f1_cond_field="kind",
        s0f1_cond_op="equals",
        s0f1_cond_values="fraud",
        s0f0_statistics="1",
        description_en="Tell us what happened.",
        s0_description_en="The facts first.",
    )
    assert page.status_code == 200, page.text
    # Preview shows the source's controls; export gives the draft's JSON.
    preview = post(web, path, page, "preview")
    assert "Preview: what sources see" in preview.text
    assert 'type="radio" name="kind" value="fraud"' in preview.text
    exported = post(web, path, page, "export")
    assert exported.headers["content-disposition"].startswith("attachment")
    definition = exported.json()
    assert [f["id"] for f in definition["steps"][0]["fields"]] == ["kind", "detail"]
    assert definition["steps"][0]["fields"][1]["show_if"] == {"field": "kind", "equals": "fraud"}
    assert definition["steps"][0]["fields"][0]["statistics"] is True
    assert definition["description"] == {"en": "Tell us what happened."}
    assert definition["steps"][0]["description"] == {"en": "The facts first."}
    # Import it back (changed), then publish: a new version, audited.
    definition["title"] = {"en": "Imported report"}
    imported = web.post(
        path + "/import",
        data={"csrf": csrf, "languages": "en"},
        files={"file": ("q.json", json.dumps(definition).encode(), "application/json")},
    )
    assert imported.status_code == 200, imported.text
    assert form_of(imported.text).values["title_en"] == "Imported report"
    bad = web.post(
        path + "/import",
        data={"csrf": csrf, "draft": json.dumps(definition)},
        files={"file": ("q.json", b'{"version": 1}', "application/json")},
    )
    assert bad.status_code == 400
    assert "missing" in bad.text
    assert form_of(bad.text).values["title_en"] == "Imported report"  # the draft stays
    published = post(web, path, imported, "publish")
    assert published.status_code == 303, published.text
    assert published.headers["location"].endswith("?published=1")
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            channel_id = path.split("/")[3]
            stored = store.current(db, channel_id)
            events = db.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "channel.questionnaire.set")
            ).all()
    finally:
        runtime.close()
    assert stored is not None
    assert stored.definition.title.get("en") == "Imported report"
    assert events
    shown = web.get(path)
    assert f"Sources answer version {stored.ref.version} of this questionnaire" in shown.text


def form_of_start(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_a_tampered_draft_is_refused(web: httpx.Client, path: str) -> None:
    page = web.get(path)
    csrf = form_of_start(page.text)
    refused = web.post(path, data={"csrf": csrf, "action": "save", "draft": '{"version": 2}'})
    assert refused.status_code == 400
    assert "unsupported version" in refused.text


def test_recipients_are_refused(server: LiveServer, path: str) -> None:
    recipient = server.add_user("recipient")
    with closing(server.staff_client(recipient)) as client:
        assert client.get(path).status_code == 403


def test_the_directive_template_previews_in_two_languages(web: httpx.Client, path: str) -> None:
    csrf = form_of_start(web.get(path).text)
    page = web.post(
        path, data={"csrf": csrf, "action": "start", "template": "eu_directive", "languages": ""}
    )
    assert page.status_code == 200, page.text
    page = post(web, path, page, "language", language="fr")
    values = form_of(page.text).values
    assert values["languages"] == "en,fr"
    assert "title_fr" in values
    preview = post(web, path, page, "preview")
    assert preview.status_code == 200, preview.text
    assert 'type="file"' in preview.text  # every type the template uses, as sources see it
    # Saving what the page shows changes nothing (identity answers stay identity answers).
    saved = post(web, path, page, "save")
    assert form_of(saved.text).values["draft"] == form_of(page.text).values["draft"]


def test_a_group_and_its_own_questions(web: httpx.Client, path: str) -> None:
    csrf = form_of_start(web.get(path).text)
    page = web.post(path, data={"csrf": csrf, "action": "start", "template": "", "languages": ""})
    page = post(web, path, page, "add_field:0", s0_type="group")
    page = post(web, path, page, "add_child:0:1", s0f1_ctype="number")
    values = form_of(page.text).values
    assert "s0f1c1_id" in values
    assert "s0f1c1_cond_op" not in values  # no conditions inside a group
    page = post(
        web,
        path,
        page,
        "child_up:0:1:1",
        s0f1c1_id="age",
        s0f1c1_label_en="Age",
        s0f1c1_integer="1",
        s0f1c1_high="120",
    )
    values = form_of(page.text).values
    assert values["s0f1c0_id"] == "age"
    assert values["s0f1c0_integer"] == "1"
    assert values["s0f1c0_high"] == "120"
    page = post(web, path, page, "child_remove:0:1:1")
    assert "s0f1c1_id" not in form_of(page.text).values


def test_an_answer_routes_another_stops_and_a_file_size_in_mib(
    server: LiveServer, web: httpx.Client, path: str
) -> None:
    csrf = form_of_start(web.get(path).text)
    page = web.post(path, data={"csrf": csrf, "action": "start", "template": "", "languages": ""})
    page = post(web, path, page, "add_field:0", s0_type="single_choice")
    page = post(web, path, page, "add_field:0", s0_type="file")
    values = form_of(page.text).values
    assert values["s0f1_o_first_channel"] == ""  # not routed, offered the channels
    assert 'option value="default"' in page.text
    refused = post(web, path, page, "save", s0f2_max_size="lots", s0f1_o_second_stop_en="Kept")
    assert refused.status_code == 400
    assert "expected a number" in refused.text
    kept = form_of(refused.text).values
    assert (kept["s0f2_max_size"], kept["s0f1_o_second_stop_en"]) == ("lots", "Kept")
    page = post(web, path, refused, "add_rule", s0f2_max_size="")
    assert form_of(page.text).values["r0_cond_field"] == "question_2"
    both = post(web, path, page, "save", r0_channel="default")  # and its new stop
    assert both.status_code == 400
    rule = both.text[both.text.index("<legend>Rule 1</legend>") :]
    assert rule.index("a rule needs either a route or a stop") < rule.index("</fieldset>")
    assert form_of(both.text).values["r0_channel"] == "default"
    page = post(
        web,
        path,
        both,
        "save",
        r0_cond_op="in",
        r0_cond_values="first, second",
        r0_stop_en="",
        s0f1_o_first_channel="default",
        s0f1_o_second_stop_en="This line is not for complaints.",
        s0f2_max_size="2.5",
        s0f2_high="3",
    )
    assert page.status_code == 200, page.text
    values = form_of(page.text).values
    assert values["s0f1_o_first_channel"] == "default"
    assert values["s0f2_max_size"] == "2.5"
    published = post(web, path, page, "publish")
    assert published.status_code == 303, published.text
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            stored = store.current(db, path.split("/")[3])
    finally:
        runtime.close()
    assert stored is not None
    fields = to_data(stored.definition)["steps"][0]["fields"]
    assert fields[1]["options"][0]["route"] == {"channel": "default"}
    assert fields[1]["options"][1]["stop"] == {"en": "This line is not for complaints."}
    assert (fields[2]["max_size"], fields[2]["max_files"]) == (2621440, 3)
    assert to_data(stored.definition)["rules"] == [
        {"if": {"field": "question_2", "in": ["first", "second"]}, "route": {"channel": "default"}}
    ]
