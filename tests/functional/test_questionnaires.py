"""Questionnaires over HTTP: import and export through the CLI and the API (admins only,
invalid definitions refused with a clear message), and a source answering one without
JavaScript: steps with Back and Next, a branch both ways, a field that appears on its own
step, a validation error that keeps what was typed, a stop, the review, and the answers
sealed into the case, readable by its recipients and by no one else."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import closing, nullcontext
from html import unescape
from typing import Any, Final

import httpx
import pytest

from mailslot.questionnaires import files
from mailslot.questionnaires.models import AnswerCount, QuestionnaireDraft, QuestionnaireDraftFile
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, new_source, submit

BRANCHING: Final[dict[str, Any]] = {
    "version": 1,
    "title": {"en": "Report", "ko": "제보"},
    "steps": [
        {
            "title": {"en": "What happened"},
            "fields": [
                {
                    "id": "kind",
                    "type": "single_choice",
                    "required": True,
                    "label": {"en": "Which kind of wrongdoing?"},
                    "options": [
                        {"id": "fraud", "label": {"en": "Fraud"}},
                        {
                            "id": "other",
                            "label": {"en": "Something else"},
                            "route": {"channel": "q-other"},
                        },
                        {
                            "id": "complaint",
                            "label": {"en": "A customer complaint"},
                            "stop": {"en": "Not for complaints: write to customer service."},
                        },
                    ],
                },
                {
                    "id": "detail",
                    "type": "long_text",
                    "required": True,
                    "label": {"en": "Describe the fraud"},
                    "show_if": {"kind": "fraud"},
                },
            ],
        },
        {
            "title": {"en": "The money"},
            "show_if": {"kind": "fraud"},
            "fields": [
                {"id": "amount", "type": "number", "min": 0, "label": {"en": "How much money?"}},
            ],
        },
        {
            "title": {"en": "How you know"},
            "fields": [
                {
                    "id": "how",
                    "type": "short_text",
                    "required": True,
                    "min_length": 5,
                    "label": {"en": "How do you know?"},
                },
                {
                    "id": "name",
                    "type": "short_text",
                    "identity": True,
                    "label": {"en": "Your name (optional)"},
                },
                # An optional file field: a step with one is sent as multipart, or not at all
                # when no file is chosen (these tests post it without files).
                {"id": "papers", "type": "file", "label": {"en": "Papers"}},
            ],
        },
    ],
}


def cli(
    server: LiveServer, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "questionnaires", *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Account:
    return server.add_user("admin")


@pytest.fixture(scope="module")
def admin_api(server: LiveServer, admin: Account) -> Iterator[httpx.Client]:
    """One API session of the admin for the whole module: each login spends a TOTP code,
    and an account has only a few usable at once (a test waits 30 s for the next)."""
    with server.api_client(admin) as api:
        yield api


# Import and export.


def test_cli_imports_exports_and_refuses_invalid_definitions(
    server: LiveServer, tmp_path: Any
) -> None:
    server.add_channel("cli-desk", ())
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                **BRANCHING,
                "steps": [
                    {
                        "title": {"en": "x"},
                        "fields": [
                            {
                                "id": "a",
                                "type": "single_choice",
                                "label": {"en": "A"},
                                "options": [],
                            }
                        ],
                    }
                ],
            }
        )
    )
    refused = cli(server, "import", "--channel", "cli-desk", str(bad))
    assert refused.returncode == 1
    assert b"steps[0].fields[0]" in refused.stderr  # the place of the problem
    assert cli(server, "export", "--channel", "cli-desk").returncode == 1  # nothing stored
    not_json = cli(server, "import", "--channel", "cli-desk", "-", stdin=b"{nope")
    assert not_json.returncode == 1
    assert not_json.stderr.strip()

    good = tmp_path / "good.json"
    good.write_text(json.dumps(BRANCHING, indent=4))
    done = cli(server, "import", "--channel", "cli-desk", str(good), "--json")
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert first["version"] == 1
    assert first["hash"].startswith("sha256:")
    # The same definition again (in another layout) is not a new version.
    again = cli(
        server,
        "import",
        "--channel",
        "cli-desk",
        "-",
        "--json",
        stdin=json.dumps(BRANCHING).encode(),
    )
    assert json.loads(again.stdout) == first

    exported = cli(server, "export", "--channel", "cli-desk")
    assert exported.returncode == 0
    assert json.loads(exported.stdout)["steps"][0]["fields"][0]["id"] == "kind"
    assert json.loads(exported.stdout)["title"] == BRANCHING["title"]

    names = cli(server, "templates", "--json")
    assert {t["name"] for t in json.loads(names.stdout)} == {"newsroom_tip", "eu_directive"}
    used = cli(server, "use", "--channel", "cli-desk", "eu_directive", "--json")
    assert json.loads(used.stdout)["version"] == 2
    assert cli(server, "use", "--channel", "cli-desk", "nope").returncode == 1
    assert cli(server, "import", "--channel", "no-such", str(good)).returncode == 1
    assert cli(server, "remove", "--channel", "cli-desk").returncode == 0
    assert cli(server, "export", "--channel", "cli-desk").returncode == 1


def test_api_is_for_admins_and_refuses_invalid_definitions(
    server: LiveServer, admin_api: httpx.Client
) -> None:
    channel_id = server.add_channel("api-desk", ())
    recipient = server.add_user("recipient", channels=("api-desk",))
    path = f"/channels/{channel_id}/questionnaire"
    with nullcontext(admin_api) as api:
        assert api.get(path).status_code == 404  # none yet
        bad = api.put(path, content=json.dumps({"version": 2, "title": {"en": "x"}, "steps": []}))
        assert bad.status_code == 400
        assert "version" in bad.json()["detail"]
        assert api.put(path, content=b"\xff\xfe").status_code == 400
        assert (
            api.put("/channels/nope/questionnaire", content=json.dumps(BRANCHING)).status_code
            == 404
        )
        stored = api.put(path, content=json.dumps(BRANCHING))
        assert stored.status_code == 200, stored.text
        assert stored.json()["version"] == 1
        got = api.get(path).json()
        assert got["hash"] == stored.json()["hash"]
        assert (
            got["definition"]["steps"][1]["show_if"] == {"field": "kind", "in": ["fraud"]}
            or (got["definition"]["steps"][1]["show_if"])
        )
        changed = json.loads(json.dumps(BRANCHING))
        changed["title"]["en"] = "Report, again"
        assert api.put(path, content=json.dumps(changed)).json()["version"] == 2
    with server.api_client(recipient) as api:
        assert api.get(path).status_code == 403
        assert api.put(path, content=json.dumps(BRANCHING)).status_code == 403
        assert api.delete(path).status_code == 403
    with nullcontext(admin_api) as api:
        assert api.get(path).json()["version"] == 2
        assert api.delete(path).status_code == 204
        assert api.get(path).status_code == 404


# The source's flow.

STEP_RE: Final = re.compile(r'<p class="q-progress" id="progress">([^<]+)</p>')


def progress(page: httpx.Response) -> str:
    match = STEP_RE.search(page.text)
    assert match, page.text
    return unescape(match[1])


def shown(page: httpx.Response) -> str:
    match = re.search(r'name="shown" value="([^"]*)"', page.text)
    assert match
    return match[1]


def post_step(
    client: httpx.Client, page: httpx.Response, data: dict[str, str], go: str = "next"
) -> httpx.Response:
    action = re.search(r'<form method="post" action="([^"]+)" class="q-step"', page.text)
    assert action, page.text
    body = {"csrf": csrf(page.text), "shown": shown(page), "go": go, **data}
    return client.post(unescape(action[1]), data=body)


@pytest.fixture(scope="module")
def other_reader(server: LiveServer) -> Account:
    """The reader of "q-other", where an answer of BRANCHING routes the case."""
    reader = server.add_user("recipient", channels=())
    server.add_channel("q-other", (reader.username,))
    return reader


@pytest.fixture(scope="module")
def desk(server: LiveServer, admin_api: httpx.Client, other_reader: Account) -> tuple[str, Account]:
    reader = server.add_user("recipient", channels=())
    channel_id = server.add_channel("q-desk", (reader.username,))
    server.add_user("custodian")  # identity answers are taken only with a custodian
    with nullcontext(admin_api) as api:
        assert (
            api.put(
                f"/channels/{channel_id}/questionnaire", content=json.dumps(BRANCHING)
            ).status_code
            == 200
        )
    return channel_id, reader


def start(server: LiveServer, channel_id: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=server.source_url, timeout=60, follow_redirects=True)
    new_source(client)
    submit_page = client.get("/submit")
    assert f"/questionnaire/{channel_id}" in submit_page.text  # offered instead of free text
    return client, client.get(f"/questionnaire/{channel_id}")


def test_a_source_answers_the_fraud_branch_and_recipients_read_it(
    server: LiveServer, desk: tuple[str, Account], admin_api: httpx.Client
) -> None:
    channel_id, reader = desk
    client, page = start(server, channel_id)
    with closing(client):
        assert progress(page) == "Step 1 of 2"  # the fraud step is not shown yet
        assert "Describe the fraud" not in page.text
        # Choosing fraud makes a field of the same step appear: the step is shown again.
        page = post_step(client, page, {"kind": "fraud"})
        assert page.status_code == 200
        assert "Describe the fraud" in page.text
        assert progress(page) == "Step 1 of 3"
        assert 'value="fraud" checked' in page.text
        page = post_step(client, page, {"kind": "fraud", "detail": "Invoices paid twice <b>"})
        assert progress(page) == "Step 2 of 3"
        assert "How much money?" in page.text
        # A wrong number: the error next to the field, what was typed kept.
        page = post_step(client, page, {"amount": "lots"})
        assert page.status_code == 400
        assert "Please enter a number" in page.text
        assert 'value="lots"' in page.text
        # Back keeps what was typed, errors or not; Next again returns to it.
        page = post_step(client, page, {"amount": "lots"}, go="back")
        assert progress(page) == "Step 1 of 3"
        assert "Invoices paid twice &lt;b&gt;" in page.text  # kept, escaped
        page = post_step(client, page, {"kind": "fraud", "detail": "Invoices paid twice <b>"})
        assert 'value="lots"' in page.text
        page = post_step(client, page, {"amount": "12000"})
        assert progress(page) == "Step 3 of 3"
        page = post_step(client, page, {"how": "abc"})
        assert page.status_code == 400
        assert 'value="abc"' in page.text
        assert 'type="file" name="papers"' in page.text
        assert 'enctype="multipart/form-data"' in page.text
        review = post_step(client, page, {"how": "I saw the ledger", "name": "Jo Doe"})
        assert review.url.path.endswith("/review")
        assert "I saw the ledger" in review.text
        assert "12000" in review.text
        # The draft is sealed: nothing typed is in clear in the database.
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                rows = db.query(QuestionnaireDraft).all()
                assert rows
                assert all(b"ledger" not in r.data for r in rows)
                assert all(len(r.data) % 1024 == len(rows[0].data) % 1024 for r in rows)
        finally:
            runtime.close()
        sent = client.post(
            review.url.path,
            data={"csrf": csrf(review.text), "send_token": _token(review.text)},
        )
        assert sent.url.path == "/submitted", sent.text
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            assert db.query(QuestionnaireDraft).count() == 0  # deleted at sending
    finally:
        runtime.close()
    with server.api_client(reader) as api:
        case = _case_with_answers(api, "I saw the ledger")
        items = {item["filename"]: item for item in case["items"]}
        # The identity answers are sealed apart, for the custodian: not an item of the case.
        assert set(items) == {"answers.json", "answers.txt"}
        answers = api.get(f"/cases/{case['id']}/items/{items['answers.json']['id']}/content")
        document = json.loads(answers.content)
        assert "Jo Doe" not in answers.text  # identity answers are sealed apart
        assert document["questionnaire"]["version"] == 1
        text = api.get(f"/cases/{case['id']}/items/{items['answers.txt']['id']}/content").text
        assert "Describe the fraud" in text
        assert "Invoices paid twice <b>" in text
        assert "Jo Doe" not in text
        # The case's JSON shows the answers readable, against the version they were given with.
        assert "Which kind of wrongdoing?" in str(items["answers.json"]["text"])
        assert "sha256:" in str(items["answers.json"]["text"])
    with closing(server.staff_client(reader)) as staff:
        page = staff.get(f"/cases/{case['id']}")
        assert "Describe the fraud" in page.text
        assert "Invoices paid twice &lt;b&gt;" in page.text
        # The zip download carries the JSON and the readable text.
        download = staff.get(f"/cases/{case['id']}/download-all")
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            names = {name.split("-", 1)[1]: name for name in archive.namelist()}
            assert {"answers.json", "answers.txt"} <= set(names)
            assert "identity.json" not in names
            assert b"Invoices paid twice <b>" in archive.read(names["answers.txt"])
    # Only the case's readers: another recipient, and an admin, see nothing of it.
    outsider = server.add_user("recipient")
    with server.api_client(outsider) as outsider_api:
        for api in (outsider_api, admin_api):
            assert api.get(f"/cases/{case['id']}").status_code in (403, 404)
            item = items["answers.json"]["id"]
            assert api.get(f"/cases/{case['id']}/items/{item}/content").status_code in (403, 404)


def test_the_other_branch_skips_the_conditional_step_and_a_stop_sends_nothing(
    server: LiveServer, desk: tuple[str, Account], other_reader: Account
) -> None:
    channel_id, reader = desk
    client, page = start(server, channel_id)
    with closing(client):
        page = post_step(client, page, {"kind": "other"})
        assert progress(page) == "Step 2 of 2"
        assert "How do you know?" in page.text
        assert "How much money?" not in page.text
        # A crafted URL to the hidden step goes back to a step that is shown.
        hidden = client.get(f"/questionnaire/{channel_id}/step/1")
        assert "How much money?" not in hidden.text
        page = post_step(client, page, {"how": "A colleague told me"}, go="back")
        assert progress(page) == "Step 1 of 2"
        stopped = post_step(client, page, {"kind": "complaint"})
        assert "Not for complaints: write to customer service." in stopped.text
        assert "Nothing was sent." in stopped.text
        review = client.get(f"/questionnaire/{channel_id}/review")
        assert review.status_code == 200
        refused = client.post(
            f"/questionnaire/{channel_id}/review",
            data={"csrf": csrf(review.text), "send_token": _token(review.text)},
        )
        assert refused.status_code == 400
        assert refused.url.path.endswith("/review")
        page = client.get(f"/questionnaire/{channel_id}/step/0")
        page = post_step(client, page, {"kind": "other"})
        review = post_step(client, page, {"how": "A colleague told me"})
        assert "A colleague told me" in review.text
        assert "How much money?" not in review.text
        sent = client.post(
            review.url.path, data={"csrf": csrf(review.text), "send_token": _token(review.text)}
        )
        assert sent.url.path == "/submitted"
        # A source who sent goes to the conversation, not to the questionnaire again.
        assert client.get(f"/questionnaire/{channel_id}").url.path == "/conversation"
    # "Something else" routes the case to the channel "q-other": its reader has it, the
    # questionnaire's own channel does not.
    with server.api_client(other_reader) as api:
        case = _case_with_answers(api, "A colleague told me")
        assert {i["filename"] for i in case["items"]} == {"answers.json", "answers.txt"}
    with server.api_client(reader) as api, pytest.raises(AssertionError):
        _case_with_answers(api, "A colleague told me")


def test_a_new_source_cannot_write_free_text_to_a_channel_with_a_questionnaire(
    server: LiveServer, desk: tuple[str, Account]
) -> None:
    channel_id, _ = desk
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        new_source(client)
        refused = submit(client, "Free text instead", channel=channel_id)
        assert refused.status_code == 400
        assert "answer this channel" in refused.text
        # The free-text form itself offers that channel only as a questionnaire.
        assert f'name="channel" value="{channel_id}"' not in client.get("/submit").text


def test_answers_need_a_session_and_the_csrf_token(
    server: LiveServer, desk: tuple[str, Account]
) -> None:
    channel_id, _ = desk
    with httpx.Client(base_url=server.source_url, timeout=60) as stranger:
        assert stranger.get(f"/questionnaire/{channel_id}").status_code == 303
    client, _page = start(server, channel_id)
    with closing(client):
        forged = client.post(
            f"/questionnaire/{channel_id}/step/0",
            data={"csrf": "wrong", "shown": "kind", "go": "next", "kind": "other"},
        )
        assert forged.status_code == 403


def test_a_new_version_starts_the_source_again(server: LiveServer, admin_api: httpx.Client) -> None:
    channel_id = server.add_channel("q-change", (server.add_user("recipient", ()).username,))
    path = f"/channels/{channel_id}/questionnaire"
    with nullcontext(admin_api) as api:
        assert api.put(path, content=json.dumps(BRANCHING)).status_code == 200
    client, page = start(server, channel_id)
    with closing(client):
        page = post_step(client, page, {"kind": "other"})
        assert "How do you know?" in page.text
        changed = json.loads(json.dumps(BRANCHING))
        changed["steps"][0]["title"]["en"] = "What happened, changed"
        with nullcontext(admin_api) as api:
            assert api.put(path, content=json.dumps(changed)).json()["version"] == 2
        # The draft was for version 1: the source starts version 2 from its first step.
        again = client.get(f"/questionnaire/{channel_id}/step/2")
        assert "What happened, changed" in again.text
        assert 'value="other" checked' not in again.text


def _token(html: str) -> str:
    match = re.search(r'name="send_token" value="([^"]+)"', html)
    assert match
    return match[1]


def _case_with_answers(api: httpx.Client, needle: str) -> dict[str, Any]:
    for summary in api.get("/cases", params={"limit": 200}).json()["cases"]:
        case = api.get(f"/cases/{summary['id']}").json()
        for item in case["items"]:
            if item["filename"] == "answers.txt":
                text = api.get(f"/cases/{case['id']}/items/{item['id']}/content").text
                if needle in text:
                    return dict(case)
    raise AssertionError("no case holds these answers")


# File fields and counted answers.

WITH_FILES: Final[dict[str, Any]] = {
    "version": 1,
    "title": {"en": "Evidence report"},
    "steps": [
        {
            "title": {"en": "What you have"},
            "fields": [
                {"id": "what", "type": "short_text", "required": True, "label": {"en": "What?"}},
                {
                    "id": "evidence",
                    "type": "file",
                    "required": True,
                    "max_files": 2,
                    "max_size": 1000,
                    "label": {"en": "Evidence files"},
                },
                {
                    "id": "urgent",
                    "type": "yes_no",
                    "statistics": True,
                    "label": {"en": "Is it urgent?"},
                },
            ],
        },
        {
            "title": {"en": "More"},
            "fields": [{"id": "more", "type": "short_text", "label": {"en": "Anything else?"}}],
        },
    ],
}


def post_files(
    client: httpx.Client,
    page: httpx.Response,
    data: dict[str, str],
    chosen: list[tuple[str, bytes]],
    go: str = "next",
) -> httpx.Response:
    """A step sent as the browser sends a form with a file input (multipart; with no file
    chosen, an empty part as browsers send it)."""
    action = re.search(r'<form method="post" action="([^"]+)" class="q-step"', page.text)
    assert action, page.text
    body = {"csrf": csrf(page.text), "shown": shown(page), "go": go, **data}
    parts = [("evidence", (name, content, "text/plain")) for name, content in chosen]
    parts = parts or [("evidence", ("", b"", "application/octet-stream"))]
    return client.post(unescape(action[1]), data=body, files=parts)


def test_files_are_kept_sealed_between_steps_and_sent_as_items_under_their_question(
    server: LiveServer, admin: Account, admin_api: httpx.Client
) -> None:
    reader = server.add_user("recipient", channels=())
    channel_id = server.add_channel("q-files", (reader.username,))
    put = admin_api.put(f"/channels/{channel_id}/questionnaire", content=json.dumps(WITH_FILES))
    assert put.status_code == 200, put.text
    content = b"ledger-page-one " * 20  # 320 bytes
    client, page = start(server, channel_id)
    with closing(client):
        assert 'enctype="multipart/form-data"' in page.text
        # A validation error elsewhere on the step keeps the file, and says so.
        page = post_files(client, page, {"what": ""}, [("ledger.txt", content)])
        assert page.status_code == 400
        assert "Please answer this question." in page.text
        assert "Files kept" in page.text
        assert "ledger.txt" in page.text
        # Files over the field's limits are refused; the kept one stays.
        page = post_files(client, page, {"what": "Ledgers"}, [("big.bin", b"x" * 2000)])
        assert page.status_code == 400
        assert "Each file can be at most" in page.text
        assert "ledger.txt" in page.text
        assert "big.bin" not in page.text
        three = [(f"n{i}.txt", b"n") for i in range(3)]
        page = post_files(client, page, {"what": "Ledgers"}, three)
        assert "Please attach at most 2 files." in page.text
        # Nothing of the file is in clear: not in the draft, not among the blobs.
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                kept = db.query(QuestionnaireDraftFile).all()
                assert len(kept) == 1
                assert kept[0].session_id is not None
                assert all(b"ledger" not in r.data for r in db.query(QuestionnaireDraft))
            blob = next((server.data_dir / "blobs").rglob(kept[0].blob_id + "*"))
            assert b"ledger-page-one" not in blob.read_bytes()
        finally:
            runtime.close()
        # No file chosen: the kept one answers the required field.
        page = post_files(client, page, {"what": "Ledgers", "urgent": "yes"}, [])
        assert progress(page) == "Step 2 of 2"
        page = post_step(client, page, {"more": ""}, go="back")
        assert "ledger.txt" in page.text
        assert 'value="Ledgers"' in page.text
        page = post_files(client, page, {"what": "Ledgers", "urgent": "yes"}, [])
        review = post_step(client, page, {"more": "That is all"})
        assert review.url.path.endswith("/review")
        assert "ledger.txt (320 B)" in unescape(review.text)
        sent = client.post(
            review.url.path, data={"csrf": csrf(review.text), "send_token": _token(review.text)}
        )
        assert sent.url.path == "/submitted", sent.text
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            assert db.query(QuestionnaireDraftFile).count() == 0  # the blob is the item's now
            counted = db.query(AnswerCount).filter(AnswerCount.channel_id == channel_id).all()
            assert {(c.field_id, c.option_id, c.count) for c in counted} == {
                ("urgent", "*", 1),
                ("urgent", "yes", 1),
            }
            assert not {"case_id", "source_id", "item_id"} & set(AnswerCount.__table__.c.keys())
    finally:
        runtime.close()
    with server.api_client(reader) as api:
        case = _case_with_answers(api, "That is all")
        items = {item["filename"]: item for item in case["items"]}
        assert {"answers.json", "answers.txt", "ledger.txt"} <= set(items)
        file_id = items["ledger.txt"]["id"]
        assert api.get(f"/cases/{case['id']}/items/{file_id}/content").content == content
        document = json.loads(
            api.get(f"/cases/{case['id']}/items/{items['answers.json']['id']}/content").content
        )
        evidence = next(a for a in document["answers"] if a["id"] == "evidence")
        assert evidence["value"] == [{"name": "ledger.txt", "size": 320, "ref": file_id}]
        text = str(items["answers.json"]["text"])
        assert f"ledger.txt (320 B), item {file_id}" in text
        assert text.index("Evidence files") < text.index(file_id) < text.index("Is it urgent?")
    with closing(server.staff_client(reader)) as staff:
        assert f"ledger.txt (320 B), item {file_id}" in unescape(
            staff.get(f"/cases/{case['id']}").text
        )
    # One answer set: the count is published hidden, on the API and the page.
    figures = admin_api.get("/stats", params={"channel": channel_id}).json()
    (question,) = figures["answers"]
    assert question["field"] == "urgent"
    assert question["total"] == {"value": None, "suppressed": True}
    assert {a["option"] for a in question["answers"]} == {"yes", "no", None}
    assert all(a["value"] in (None, 0) for a in question["answers"])
    with closing(server.staff_client(admin)) as staff:
        page = staff.get("/stats", params={"channel": channel_id})
        assert "Is it urgent?" in page.text


def test_files_of_a_session_that_ends_unsent_are_deleted(
    server: LiveServer, admin_api: httpx.Client
) -> None:
    channel_id = server.add_channel("q-files-gone", (server.add_user("recipient", ()).username,))
    path = f"/channels/{channel_id}/questionnaire"
    assert admin_api.put(path, content=json.dumps(WITH_FILES)).status_code == 200
    client, page = start(server, channel_id)
    with closing(client):
        page = post_files(client, page, {"what": "x", "urgent": "no"}, [("a.txt", b"aaaa")])
        assert progress(page) == "Step 2 of 2"
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                (row,) = db.query(QuestionnaireDraftFile).filter(
                    QuestionnaireDraftFile.session_id.is_not(None)
                )
                blob_id = row.blob_id
            assert runtime.default.blobs.exists(blob_id)
            # The source leaves (its session ends): the file's blob loses its session...
            logout = client.post("/logout", data={"csrf": csrf(page.text)})
            assert logout.status_code < 400
            with runtime.default.db() as db:
                assert db.get(QuestionnaireDraftFile, blob_id).session_id is None  # type: ignore[union-attr]
            # ... and the background jobs delete it.
            assert runtime.default.transact(lambda db: files.sweep(db, runtime.default.blobs)) >= 1
            assert not runtime.default.blobs.exists(blob_id)
            with runtime.default.db() as db:
                assert db.get(QuestionnaireDraftFile, blob_id) is None
        finally:
            runtime.close()
