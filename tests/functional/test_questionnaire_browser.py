"""A source answers a branching questionnaire in Chromium with JavaScript off, both ways:
the conditional step appears for one answer and not for the other; Back and Next keep what
was typed; a validation error shows next to its field with everything typed still there. A
file chosen on a step is kept (sealed) through Back and Next, shown on the review, sent, and
listed under its question for the case's reader."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import Account, LiveServer
from tests.functional.test_browser import (  # the fixtures are used by name
    Session,
    browser,  # noqa: F401
    open_session,  # noqa: F401
)
from tests.functional.test_questionnaires import BRANCHING, WITH_FILES, _case_with_answers

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def desk(server: LiveServer) -> str:
    admin: Account = server.add_user("admin")
    server.add_user("custodian")  # identity answers are taken only with a custodian
    reader = server.add_user("recipient", channels=())
    channel_id = server.add_channel("Compliance desk", (reader.username,))
    with server.api_client(admin) as api:
        stored = api.put(f"/channels/{channel_id}/questionnaire", content=json.dumps(BRANCHING))
        assert stored.status_code == 200, stored.text
    return channel_id


@pytest.fixture(scope="module")
def evidence_desk(server: LiveServer) -> Account:
    """A channel whose questionnaire has a file field; returns its reader."""
    admin: Account = server.add_user("admin")
    reader = server.add_user("recipient", channels=())
    channel_id = server.add_channel("Evidence desk", (reader.username,))
    with server.api_client(admin) as api:
        stored = api.put(f"/channels/{channel_id}/questionnaire", content=json.dumps(WITH_FILES))
        assert stored.status_code == 200, stored.text
    return reader


def begin(server: LiveServer, session: Session, channel: str = "Compliance desk") -> Page:
    page = session.page
    page.goto(server.source_url + "/new")
    page.get_by_role("button", name="Show my codename").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="I have written it down. Continue").click()
    page.wait_for_url(server.source_url + "/submit")
    page.get_by_role("link", name=channel).click()
    page.wait_for_load_state()
    assert page.locator("script").count() == 0
    return page


def progress(page: Page) -> str:
    return page.locator("#progress").inner_text().strip()


def next_(page: Page) -> None:
    page.get_by_role("button", name="Next").click()
    page.wait_for_load_state()


def back(page: Page) -> None:
    page.get_by_role("button", name="Back").click()
    page.wait_for_load_state()


def test_the_fraud_answer_shows_the_conditional_step(
    server: LiveServer,
    desk: str,
    open_session: Any,  # noqa: F811 - the fixture
) -> None:
    session: Session = open_session(server.source_url)
    page = begin(server, session)
    assert progress(page) == "Step 1 of 2"
    assert page.get_by_label("Describe the fraud").count() == 0
    page.get_by_label("Fraud", exact=True).check()
    next_(page)
    # The same step again, now with the field its answer shows.
    assert progress(page) == "Step 1 of 3"
    assert page.get_by_label("Fraud", exact=True).is_checked()
    page.get_by_label("Describe the fraud").fill("Invoices were paid twice.")
    next_(page)
    assert progress(page) == "Step 2 of 3"
    page.get_by_label("How much money?").fill("lots")
    next_(page)
    error = page.locator(".q-error")
    assert error.count() == 1
    assert "Please enter a number" in error.inner_text()
    assert page.get_by_label("How much money?").input_value() == "lots"
    back(page)
    assert progress(page) == "Step 1 of 3"
    assert page.get_by_label("Describe the fraud").input_value() == "Invoices were paid twice."
    next_(page)
    assert page.get_by_label("How much money?").input_value() == "lots"
    page.get_by_label("How much money?").fill("12000")
    next_(page)
    assert progress(page) == "Step 3 of 3"
    page.get_by_label("How do you know?").fill("abc")
    page.get_by_label("Your name (optional)").fill("Jo")
    next_(page)
    assert "at least 5" in page.locator(".q-error").inner_text()
    assert page.get_by_label("How do you know?").input_value() == "abc"
    assert page.get_by_label("Your name (optional)").input_value() == "Jo"
    page.get_by_label("How do you know?").fill("I keep the ledger.")
    next_(page)
    review = page.locator("#answers").inner_text()
    assert "How much money?" in review
    assert "12000" in review
    assert "I keep the ledger." in review
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    session.assert_no_third_party()


def test_another_answer_skips_it(
    server: LiveServer,
    desk: str,
    open_session: Any,  # noqa: F811 - the fixture
) -> None:
    session: Session = open_session(server.source_url)
    page = begin(server, session)
    page.get_by_label("Something else").check()
    next_(page)
    assert progress(page) == "Step 2 of 2"
    assert page.get_by_label("How much money?").count() == 0
    page.get_by_label("How do you know?").fill("A colleague told me.")
    back(page)
    assert progress(page) == "Step 1 of 2"
    assert page.get_by_label("Something else").is_checked()
    next_(page)
    assert page.get_by_label("How do you know?").input_value() == "A colleague told me."
    next_(page)
    review = page.locator("#answers").inner_text()
    assert "A colleague told me." in review
    assert "How much money?" not in review
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    session.assert_no_third_party()


def test_a_file_chosen_on_a_step_is_kept_until_sent_and_read_under_its_question(
    server: LiveServer,
    evidence_desk: Account,
    open_session: Any,  # noqa: F811 - the fixture
) -> None:
    session: Session = open_session(server.source_url)
    page = begin(server, session, "Evidence desk")
    content = b"Ledger page one, paid twice.\n"
    page.get_by_label("Evidence files").set_input_files(
        files=[{"name": "ledger.txt", "mimeType": "text/plain", "buffer": content}]
    )
    page.get_by_label("Yes", exact=True).check()
    next_(page)
    # "What?" was left empty: the error, and the file kept.
    assert "Please answer this question." in page.locator(".q-error").inner_text()
    assert "ledger.txt" in page.locator(".q-kept").inner_text()
    page.get_by_label("What?").fill("Ledgers")
    next_(page)
    assert progress(page) == "Step 2 of 2"
    back(page)
    assert progress(page) == "Step 1 of 2"
    assert "ledger.txt" in page.locator(".q-kept").inner_text()
    assert page.get_by_label("What?").input_value() == "Ledgers"
    next_(page)  # no file chosen again: the kept one still answers the field
    page.get_by_label("Anything else?").fill("Nothing more.")
    next_(page)
    review = page.locator("#answers").inner_text()
    assert "Evidence files" in review
    assert "ledger.txt" in review
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    session.assert_no_third_party()
    with server.api_client(evidence_desk) as api:
        case = _case_with_answers(api, "Nothing more.")
        (item,) = [i for i in case["items"] if i["filename"] == "ledger.txt"]
        assert api.get(f"/cases/{case['id']}/items/{item['id']}/content").content == content
        text = api.get(f"/cases/{case['id']}").json()
    answers = next(i["text"] for i in text["items"] if i["filename"] == "answers.json")
    question = answers.index("Evidence files")
    assert question < answers.index(f"ledger.txt (29 B), item {item['id']}")
    assert answers.index(f"item {item['id']}") < answers.index("Is it urgent?")
