"""A questionnaire's answers on the offline path: a source answers on a real server, the
reader takes their key offline, the case is exported as a bundle, and ``mailslot decrypt``
(no database, no network) writes the answers as JSON and as readable questions and answers
against the version that was answered."""

from __future__ import annotations

import json
import re
import shutil
from contextlib import closing
from html import unescape
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import select

from mailslot.cases.models import Case
from tests.conftest import LiveServer
from tests.functional.helpers import csrf, new_source
from tests.functional.test_offline import PASSPHRASE, cli, scrubbed

pytestmark = pytest.mark.timeout(300)

DEFINITION: Final[dict[str, Any]] = {
    "version": 1,
    "title": {"en": "Export report"},
    "steps": [
        {
            "title": {"en": "What happened"},
            "fields": [
                {
                    "id": "kind",
                    "type": "single_choice",
                    "label": {"en": "Which kind of wrongdoing?"},
                    "required": True,
                    "options": [
                        {"id": "fraud", "label": {"en": "Fraud"}},
                        {"id": "other", "label": {"en": "Something else"}},
                    ],
                },
                {"id": "detail", "type": "long_text", "label": {"en": "Describe it"}},
            ],
        }
    ],
}
DETAIL = "Invoices were paid twice in March."


def _step(client: httpx.Client, page: httpx.Response, data: dict[str, str]) -> httpx.Response:
    action = re.search(r'<form method="post" action="([^"]+)" class="q-step"', page.text)
    shown = re.search(r'name="shown" value="([^"]*)"', page.text)
    assert action, page.text
    assert shown, page.text
    body = {"csrf": csrf(page.text), "shown": shown[1], "go": "next", **data}
    return client.post(unescape(action[1]), data=body)


def test_answers_come_out_of_decrypt_as_json_and_readable_text(
    server: LiveServer, tmp_path: Path
) -> None:
    admin = server.add_user("admin")
    reader = server.add_user("recipient", channels=())
    channel_id = server.add_channel("q-export", (reader.username,))
    with server.api_client(admin) as api:
        put = api.put(f"/channels/{channel_id}/questionnaire", content=json.dumps(DEFINITION))
        assert put.status_code == 200, put.text
    client = httpx.Client(base_url=server.source_url, timeout=60, follow_redirects=True)
    with closing(client):
        new_source(client)
        page = client.get(f"/questionnaire/{channel_id}")
        review = _step(client, page, {"kind": "fraud", "detail": DETAIL})
        assert review.url.path.endswith("/review"), review.text
        token = re.search(r'name="send_token" value="([^"]+)"', review.text)
        assert token, review.text
        sent = client.post(
            review.url.path, data={"csrf": csrf(review.text), "send_token": token[1]}
        )
        assert sent.url.path == "/submitted", sent.text
    runtime = server.runtime()
    try:
        pseudonym = runtime.default.transact(
            lambda db: db.scalar(select(Case.pseudonym).where(Case.channel_id == channel_id))
        )
    finally:
        runtime.close()
    assert pseudonym
    key_file = tmp_path / "reader.mslkey"
    stdin = "\n".join(
        [reader.password, server.totp.code(reader.totp_secret), PASSPHRASE, PASSPHRASE, ""]
    )
    exported = cli(
        ["keys", "export", "--user", reader.username, "--out", str(key_file)],
        server.env,
        stdin=stdin,
    )
    assert exported.returncode == 0, exported.stderr
    bundle = tmp_path / "case.bundle"
    result = cli(["export", "--case", pseudonym, "--out", str(bundle)], server.env)
    assert result.returncode == 0, result.stderr
    # The offline machine: the bundle, the key and the passphrase, nothing else.
    machine = tmp_path / "airgapped"
    (machine / "home").mkdir(parents=True)
    shutil.copy(bundle, machine / "case.bundle")
    shutil.copy(key_file, machine / "key")
    (machine / "pass.txt").write_text(PASSPHRASE + "\n")
    args = ["decrypt", "case.bundle", "--key", "key", "--out", "out"]
    opened = cli([*args, "--passphrase-file", "pass.txt"], scrubbed(machine), cwd=machine)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    folder = machine / "out" / pseudonym
    document = json.loads((folder / "answers.json").read_text())
    assert document["part"] == "answers"
    assert document["questionnaire"]["version"] == 1
    assert {"id": "kind", "type": "single_choice", "value": "fraud"} in document["answers"]
    readable = (folder / "answers.txt").read_text()
    assert "Which kind of wrongdoing?" in readable
    assert "Fraud" in readable
    assert DETAIL in readable
    assert document["questionnaire"]["hash"] in readable  # the version answered
    index = (folder / "conversation.txt").read_text()
    assert "answers.json" in index
    assert "answers.txt" in index
