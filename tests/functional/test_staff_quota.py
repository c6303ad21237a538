"""Staff writes and the organisation's storage quota, over real HTTP (docs/hosting.md#quotas):
a reply or an internal note that would store bytes past the quota is refused on the staff
pages and in the API, with a message for staff, nothing of it recorded, and the reply's or
the note's text kept in its box; once the quota is lifted, the same reply goes through."""

from __future__ import annotations

import html
import json
import os
import re
import time
from typing import Any

import httpx

from mailslot.orgs.quotas import STAFF_STORAGE_FULL
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit
from tests.functional.org_helpers import cli


def stored_bytes(server: LiveServer) -> int:
    done = cli(server.env, "orgs", "list", "--json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["organisations"]
    return int(entry["usage"]["stored_bytes"])


def set_storage_quota(server: LiveServer, value: str) -> None:
    done = cli(server.env, "orgs", "quota", "default", "--storage", value)
    assert done.returncode == 0, done.stderr
    time.sleep(3)  # the server reloads the registry every second


def items_of(api: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/cases/{case_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_full_storage_quota_refuses_replies_and_notes_and_keeps_the_text(
    server: LiveServer, recipient: Account, source: httpx.Client
) -> None:
    new_source(source)
    message = "The depot ledger is in the second drawer " + os.urandom(4).hex()
    assert submit(source, message).status_code == 303
    staff = server.staff_client(recipient)
    api = server.api_client(recipient)
    try:
        case_id = find_case(api, message)["id"]
        before = items_of(api, case_id)
        # Exactly what is stored already: any further byte passes the quota.
        full = stored_bytes(server)
        set_storage_quota(server, str(full))

        page = staff.get(f"/cases/{case_id}")
        typed = "Thank you; can you send the ledger's first page? " + os.urandom(4).hex()
        web_reply = staff.post(
            f"/cases/{case_id}/replies", data={"csrf": csrf(page.text), "text": typed}
        )
        assert web_reply.status_code == 507
        shown = html.unescape(web_reply.text)
        assert STAFF_STORAGE_FULL in shown
        assert f">{typed}</textarea>" in shown  # the case page again, the reply in its box

        note = "Ask legal <b>before</b> & after replying " + os.urandom(4).hex()
        web_note = staff.post(
            f"/cases/{case_id}/notes", data={"csrf": csrf(page.text), "text": note}
        )
        assert web_note.status_code == 507
        assert STAFF_STORAGE_FULL in html.unescape(web_note.text)
        # The case page again, the note (escaped) in the note box, its section open.
        note_box = re.search(r'<textarea id="work-note"[^>]*>([^<]*)</textarea>', web_note.text)
        assert note_box is not None
        assert html.unescape(note_box.group(1)) == note
        assert "<b>before</b>" not in web_note.text
        assert re.search(r'<details class="work-section" open>\s*<summary><h3>Notes', web_note.text)
        reply_box = re.search(r'<textarea id="text"[^>]*>([^<]*)</textarea>', web_note.text)
        assert reply_box is not None
        assert reply_box.group(1) == ""  # the note did not land in the reply box

        api_reply = api.post(f"/cases/{case_id}/replies", json={"text": typed})
        assert api_reply.status_code == 507
        assert api_reply.json() == {"detail": STAFF_STORAGE_FULL}
        api_note = api.post(f"/cases/{case_id}/notes", json={"text": "An API note."})
        assert api_note.status_code == 507
        assert api_note.json() == {"detail": STAFF_STORAGE_FULL}

        assert items_of(api, case_id) == before
        assert stored_bytes(server) == full  # no blob's bytes were recorded
        # Room for one reply: it goes through, and the quota is then full again.
        set_storage_quota(server, str(stored_bytes(server) + 64 * 1024))
        sent = api.post(f"/cases/{case_id}/replies", json={"text": typed})
        assert sent.status_code == 201, sent.text
        assert [item["text"] for item in items_of(api, case_id)][-1] == typed
    finally:
        set_storage_quota(server, "0")
        staff.close()
        api.close()


def test_without_a_storage_quota_staff_writes_are_never_refused(
    server: LiveServer, recipient: Account, source: httpx.Client
) -> None:
    """The positive control: the same writes with no quota set are accepted."""
    set_storage_quota(server, "0")
    new_source(source)
    message = "No limit here " + os.urandom(4).hex()
    assert submit(source, message).status_code == 303
    with server.api_client(recipient) as api:
        case_id = find_case(api, message)["id"]
        assert api.post(f"/cases/{case_id}/replies", json={"text": "Received."}).status_code == 201
        assert api.post(f"/cases/{case_id}/notes", json={"text": "Noted."}).status_code == 201
