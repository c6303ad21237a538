"""Hypothesis over HTTP, against one live server: definitions put through the API and the
CLI import are stored or refused with a clear message naming the place of the problem
(never a server error, never a broken form), and any form posted to any step of a live
questionnaire (random values, missing and extra fields, huge values, wrong types, files
where none belong) gives a page, never a server error; a step refused with errors shows
again what was typed."""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Iterator
from contextlib import closing
from html import unescape
from typing import Any, Final

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailslot.cli.main import main
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, new_source
from tests.unit.questionnaires.test_fuzz import definitions, json_values, paths

HTTP_FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

EVERY_TYPE: Final[dict[str, Any]] = {
    "version": 1,
    "title": {"en": "Every field"},
    "steps": [
        {
            "title": {"en": "One"},
            "fields": [
                {
                    "id": "kind",
                    "type": "single_choice",
                    "required": True,
                    "statistics": True,
                    "label": {"en": "Kind"},
                    "options": [
                        {"id": "a", "label": {"en": "A"}},
                        {"id": "b", "label": {"en": "B"}},
                    ],
                },
                {
                    "id": "areas",
                    "type": "multiple_choice",
                    "max_choices": 2,
                    "label": {"en": "Areas"},
                    "options": [
                        {"id": "x", "label": {"en": "X"}},
                        {"id": "y", "label": {"en": "Y"}},
                        {"id": "z", "label": {"en": "Z"}},
                    ],
                },
                {"id": "urgent", "type": "yes_no", "label": {"en": "Urgent"}},
                {
                    "id": "short",
                    "type": "short_text",
                    "min_length": 3,
                    "max_length": 40,
                    "label": {"en": "Short"},
                },
                {"id": "evidence", "type": "file", "max_files": 2, "label": {"en": "Files"}},
            ],
        },
        {
            "title": {"en": "Two"},
            "fields": [
                {"id": "long", "type": "long_text", "max_length": 2000, "label": {"en": "Long"}},
                {"id": "day", "type": "date", "label": {"en": "Day"}},
                {"id": "span", "type": "date_range", "label": {"en": "Span"}},
                {"id": "amount", "type": "number", "min": 0, "max": 1000, "label": {"en": "N"}},
                {"id": "terms", "type": "acknowledgement", "label": {"en": "Terms"}},
                {"id": "note", "type": "static_text", "text": {"en": "A note"}},
                {
                    "id": "persons",
                    "type": "group",
                    "max_repeats": 3,
                    "label": {"en": "Persons"},
                    "fields": [
                        {"id": "who", "type": "short_text", "required": True, "label": {"en": "W"}}
                    ],
                },
            ],
        },
    ],
}
KEYS: Final = [
    "kind",
    "areas",
    "urgent",
    "short",
    "evidence",
    "long",
    "day",
    "span.start",
    "span.end",
    "amount",
    "terms",
    "note",
    "persons[0].who",
    "persons[1].who",
    "persons[999].who",
    "persons[x].who",
    "shown",
    "go",
    "csrf",
    "extra",
]
# Values a form may hold: anything typed (up to huge), and the shapes fields expect.
TYPED: Final = string.ascii_letters + string.digits + " .,-_'\"<>&/é가"
values = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=TYPED, min_size=1, max_size=30),
    st.sampled_from(["a", "b", "x", "yes", "no", "2024-02-30", "2024-03-31", "-1", "1e9", ""]),
    st.integers(-(10**20), 10**20).map(str),
    st.builds(lambda n: "W" * n, st.integers(1000, 200_000)),
)


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Account:
    return server.add_user("admin")


@pytest.fixture(scope="module")
def api(server: LiveServer, admin: Account) -> Iterator[httpx.Client]:
    with server.api_client(admin) as client:
        yield client


@pytest.fixture(scope="module")
def target(server: LiveServer) -> str:
    return server.add_channel("fuzz-import", (server.add_user("recipient", ()).username,))


@pytest.fixture(scope="module")
def reader(server: LiveServer) -> Iterator[httpx.Client]:
    """A new source (one for every example: it never sends) that opens what was stored."""
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        yield source


def check_refusal(response: httpx.Response) -> None:
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code == 400:
        message = response.json()["detail"]
        assert message.strip()
        assert "Traceback" not in message


def mutated(base: dict[str, Any], data: st.DataObject) -> Any:
    changed = copy.deepcopy(base)
    path = data.draw(st.sampled_from(paths(changed)[1:]))
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    return changed


@HTTP_FUZZ
@given(definitions(), st.data())
def test_definitions_put_through_the_api_are_stored_or_refused_clearly(
    api: httpx.Client,
    reader: httpx.Client,
    target: str,
    base: dict[str, Any],
    data: st.DataObject,
) -> None:
    body = data.draw(
        st.one_of(
            st.just(json.dumps(base)),
            st.builds(lambda: json.dumps(mutated(base, data))),
            json_values.map(json.dumps),
            st.text(max_size=200),
        )
    )
    response = api.put(f"/channels/{target}/questionnaire", content=body.encode())
    check_refusal(response)
    if response.status_code == 200:
        # What is stored opens as a form for a source: the first step renders.
        page = reader.get(f"/questionnaire/{target}", follow_redirects=True)
        assert page.status_code == 200, page.text
        assert 'class="q-step"' in page.text


@settings(HTTP_FUZZ, max_examples=8)
@given(definitions(), st.data())
def test_definitions_imported_with_the_cli_are_stored_or_refused_clearly(
    server: LiveServer, target: str, base: dict[str, Any], data: st.DataObject
) -> None:
    body = data.draw(st.one_of(st.builds(lambda: json.dumps(mutated(base, data))), st.text()))
    result = CliRunner().invoke(
        main,
        ["questionnaires", "import", "--channel", "fuzz-import", "-"],
        input=body.encode(),
        env=server.env,
    )
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert "Error" in result.output or ":" in result.output
        assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)


@pytest.fixture(scope="module")
def live(server: LiveServer, api: httpx.Client) -> Iterator[tuple[str, httpx.Client]]:
    channel_id = server.add_channel("fuzz-answers", (server.add_user("recipient", ()).username,))
    put = api.put(f"/channels/{channel_id}/questionnaire", content=json.dumps(EVERY_TYPE))
    assert put.status_code == 200, put.text
    with closing(httpx.Client(base_url=server.source_url, timeout=60)) as source:
        new_source(source)
        yield channel_id, source


# What each step of EVERY_TYPE shows (the form's "shown"), and its text field.
SHOWN: Final = {0: "kind areas urgent short evidence", 1: "long day span amount terms note persons"}
TEXT_FIELD: Final = {0: "short", 1: "long"}


@settings(HTTP_FUZZ, max_examples=40)
@given(
    st.sampled_from([0, 1, 0, 1, 2, 7]),
    st.dictionaries(st.sampled_from(KEYS), st.lists(values, min_size=1, max_size=3)),
    st.lists(st.binary(max_size=64), max_size=3),
    st.none() | st.text(alphabet=TYPED, min_size=1, max_size=60).filter(str.strip),
)
def test_any_form_on_any_step_gives_a_page_and_errors_keep_what_was_typed(
    live: tuple[str, httpx.Client],
    index: int,
    form: dict[str, list[str]],
    files: list[bytes],
    typed: str | None,  # None: "shown" and the text field left as drawn
) -> None:
    channel_id, source = live
    page = source.get(f"/questionnaire/{channel_id}/step/0")
    if index in SHOWN and typed is not None:  # as the page sent it, and something typed
        form = {**form, "shown": [SHOWN[index]], TEXT_FIELD[index]: [typed]}
    # The token first, as the page's form sends it (a multipart form stores nothing else
    # before its token is checked).
    fields = [("csrf", csrf(page.text))]
    fields += [(key, value) for key, sent in form.items() for value in sent if key != "csrf"]
    path = f"/questionnaire/{channel_id}/step/{index}"
    if files:
        parts = [("evidence", (f"f{i}.bin", content, "application/octet-stream"))
                 for i, content in enumerate(files)]  # fmt: skip
        response = source.post(path, data=_multi(fields), files=parts)
    else:
        response = source.post(path, data=_multi(fields))
    assert response.status_code < 500, response.text
    if index in SHOWN and typed is not None:
        # On to the next step, or this step again (errors, fields that appeared) with
        # everything typed still there.
        assert response.status_code in (303, 200, 400), response.text
        if response.status_code != 303:
            assert f'action="{path}"' in response.text
            assert typed in unescape(response.text)


def _multi(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in fields:
        grouped.setdefault(key, []).append(value)
    return grouped
