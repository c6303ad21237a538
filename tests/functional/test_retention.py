"""Retention through real servers: the expiry on the case page and in the API, keeping a case
longer (web and API), ``mailslot purge`` (dry run, closed-case rule, vacuum), the background
job purging each case once across two processes, and a purged case being unrecoverable even
with a recipient's own private key."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

import mailslot.db.models  # noqa: F401 - every table, for the foreign keys
from mailslot import crypto
from mailslot.audit.models import AuditEvent
from mailslot.cases.models import Case, CaseKeyWrap, Item, ItemKeyWrap
from mailslot.recipients import services as recipients
from mailslot.sources.codenames import generate_codename
from mailslot.sources.models import Source
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, files_under, find_case, login, new_source, submit

DAY = 86400
FILE_BYTES = b"RETENTION-EVIDENCE " * 300


@pytest.fixture
def recipient(server: LiveServer) -> Account:
    """A recipient of their own for each test: each login needs an unused TOTP code, and
    one account shared by every test here would wait for the next 30-second step."""
    return server.add_user("recipient")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose own job runs only at start-up: the tests decide when purges happen."""
    live = start_server(tmp_path_factory.mktemp("retention"), {"MAILSLOT_JOB_INTERVAL": "86400"})
    yield live
    stop_server(live)


@dataclass
class Sent:
    case_id: str
    codename: str


def send_case(server: LiveServer, api: httpx.Client, message: str) -> Sent:
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        codename = new_source(source)
        sent = submit(source, message, files=[("evidence.txt", FILE_BYTES, "text/plain")])
        assert sent.status_code == 303, sent.text
    return Sent(find_case(api, message)["id"], codename)


def db_run(server: LiveServer, work: Any) -> Any:
    runtime = server.runtime()
    try:
        return runtime.default.transact(work)
    finally:
        runtime.close()


def set_case(server: LiveServer, case_id: str, **values: Any) -> None:
    db_run(server, lambda db: db.execute(update(Case).where(Case.id == case_id).values(**values)))


def purge_cli(server: LiveServer, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "purge", "--json", *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout))


def purged_events(server: LiveServer, case_id: str) -> list[tuple[str, str, str]]:
    return list(
        db_run(
            server,
            lambda db: db.execute(
                select(AuditEvent.action, AuditEvent.actor, AuditEvent.detail).where(
                    AuditEvent.case_id == case_id, AuditEvent.action == "case.purged"
                )
            ).all(),
        )
    )


def private_seed(server: LiveServer, account: Account) -> bytes:
    """The recipient's own private key, unwrapped with their password (what they hold)."""

    def work(db: Any) -> bytes:
        user = recipients.find_user(db, account.username)
        keys = recipients.derive_for(user, account.password, crypto.TEST_KDF)
        assert user is not None
        seed = recipients.unlock(user, keys.kek).private_seed
        assert seed is not None
        return seed

    return bytes(db_run(server, work))


def raw_database(server: LiveServer) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in server.data_dir.iterdir()
        if p.name.startswith("mailslot.sqlite3") and p.is_file()
    }


def now() -> int:
    return int(time.time())


def iso(moment: int) -> str:
    return datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).date().isoformat()


# The purge.


def test_a_purged_case_is_unrecoverable_even_with_a_recipients_key(
    server: LiveServer, recipient: Account
) -> None:
    with server.api_client(recipient) as api:
        message = server.unique("Shred me ")
        sent = send_case(server, api, message)
        case = api.get(f"/cases/{sent.case_id}").json()
        keep = send_case(server, api, server.unique("Keep me "))
    seed = private_seed(server, recipient)
    me = crypto.KeyPair.from_seed(seed)

    # What the recipient's key opens before: the case key, then each item's data key.
    def capture(db: Any) -> dict[str, Any]:
        items = list(db.scalars(select(Item).where(Item.case_id == sent.case_id)))
        return {
            "case_wraps": list(
                db.scalars(select(CaseKeyWrap.wrapped).where(CaseKeyWrap.case_id == sent.case_id))
            ),
            "my_wrap": db.scalar(
                select(CaseKeyWrap.wrapped).where(
                    CaseKeyWrap.case_id == sent.case_id, CaseKeyWrap.user_id == recipient.id
                )
            ),
            "item_wraps": list(
                db.scalars(
                    select(ItemKeyWrap.wrapped).where(
                        ItemKeyWrap.item_id.in_([i.id for i in items])
                    )
                )
            ),
            "sealed_meta": [bytes(i.sealed_meta) for i in items],
            "blob_ids": [i.blob_id for i in items],
            "item_ids": [i.id for i in items],
            "public_key": bytes(db.get(Case, sent.case_id).public_key),
        }

    before = db_run(server, capture)
    case_seed = me.unwrap(
        before["my_wrap"], crypto.WrapPurpose.CASE_KEY, bytes.fromhex(sent.case_id)
    )
    assert crypto.KeyPair.from_seed(case_seed).public_key == before["public_key"]
    blob_root = server.data_dir / "blobs"
    blob_files = [p for p in files_under(blob_root) if p.name in before["blob_ids"]]
    assert len(blob_files) == len(before["blob_ids"]) == 2

    set_case(server, sent.case_id, last_activity_at=now() - 91 * DAY)
    result = purge_cli(server)
    assert result["cases"] == [sent.case_id]
    assert result["count"] == 1
    assert result["vacuumed"] is (server.database is None)

    # Gone for the recipient, on every path, with their key in hand.
    with server.api_client(recipient) as api:
        assert api.get(f"/cases/{sent.case_id}").status_code == 404
        for item in case["items"]:
            content = api.get(f"/cases/{sent.case_id}/items/{item['id']}/content")
            assert content.status_code == 404
            assert FILE_BYTES[:40] not in content.content
        assert api.get(f"/cases/{keep.case_id}").status_code == 200
    with closing(server.staff_client(recipient)) as web:
        assert web.get(f"/cases/{sent.case_id}").status_code == 404

    def leftovers(db: Any) -> dict[str, int]:
        return {
            "cases": len(list(db.scalars(select(Case.id).where(Case.id == sent.case_id)))),
            "case wraps": len(
                list(
                    db.scalars(
                        select(CaseKeyWrap.user_id).where(CaseKeyWrap.case_id == sent.case_id)
                    )
                )
            ),
            "items": len(list(db.scalars(select(Item.id).where(Item.case_id == sent.case_id)))),
            "item wraps": len(
                list(
                    db.scalars(
                        select(ItemKeyWrap.item_id).where(
                            ItemKeyWrap.item_id.in_(before["item_ids"])
                        )
                    )
                )
            ),
        }

    assert db_run(server, leftovers) == {"cases": 0, "case wraps": 0, "items": 0, "item wraps": 0}
    assert not any(p.exists() for p in blob_files)
    assert all(p.name not in before["blob_ids"] for p in files_under(blob_root))
    # The recipient's key finds nothing to unwrap: no wrap of theirs names the case.
    mine = db_run(
        server,
        lambda db: list(
            db.scalars(select(CaseKeyWrap.wrapped).where(CaseKeyWrap.user_id == recipient.id))
        ),
    )
    for wrap in mine:
        with pytest.raises(crypto.DecryptionError):
            me.unwrap(wrap, crypto.WrapPurpose.CASE_KEY, bytes.fromhex(sent.case_id))
    # And on SQLite no copy of the key material survives anywhere in the files (database and
    # write-ahead log): even the old case wrap, kept from before, has no item wrap or
    # ciphertext left to open.
    if server.database is None:
        raw = raw_database(server)
        assert "mailslot.sqlite3" in raw
        needles = [*before["case_wraps"], *before["item_wraps"], *before["sealed_meta"]]
        needles.append(before["public_key"])
        found = [
            n
            for n, needle in enumerate(needles)
            for data in raw.values()
            if any(needle[i : i + 48] in data for i in range(0, max(1, len(needle) - 47), 48))
        ]
        assert found == []
    # The codename opened only this case: it no longer logs in.
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        refused = login(source, sent.codename)
        assert refused.status_code == 401
    # The audit trail keeps that it happened, by the system, with nothing but the case id.
    assert purged_events(server, sent.case_id) == [("case.purged", "", "{}")]


def refused_login(server: LiveServer, codename: str) -> tuple[int, str, bool]:
    """What a login with ``codename`` answers: status, page (without its per-response nonce)
    and whether a session cookie was set."""
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        answer = login(source, codename)
        page = re.sub(r'nonce="[^"]*"', "", answer.text)
        return answer.status_code, page, "set-cookie" in answer.headers


@pytest.mark.parametrize("how", ["web", "api", "purge"])
def test_a_deleted_case_forgets_its_codename_as_the_purge_does(
    server: LiveServer, recipient: Account, how: str
) -> None:
    """Whoever deletes the codename's only case, the codename then logs in exactly like one
    never issued, and a session still open from before has ended (issue 18)."""
    with (
        server.api_client(recipient) as api,
        httpx.Client(base_url=server.source_url, timeout=60) as open_session,
    ):
        codename = new_source(open_session)
        message = server.unique("Delete me entirely ")
        assert submit(open_session, message).status_code == 303
        case_id = find_case(api, message)["id"]
        (source_id,) = db_run(
            server, lambda db: db.execute(select(Case.source_id).where(Case.id == case_id)).one()
        )
        with httpx.Client(base_url=server.source_url, timeout=60) as other:
            assert login(other, codename).status_code == 303  # it works before
        if how == "web":
            with closing(server.staff_client(recipient)) as web:
                form = web.get(f"/cases/{case_id}/delete")
                done = web.post(
                    f"/cases/{case_id}/delete", data={"csrf": csrf(form.text), "confirm": "yes"}
                )
                assert done.status_code == 303
        elif how == "api":
            assert api.delete(f"/cases/{case_id}").status_code == 204
        else:
            set_case(server, case_id, last_activity_at=now() - 100 * DAY)
            assert case_id in purge_cli(server)["cases"]
        assert api.get(f"/cases/{case_id}").status_code == 404
        assert db_run(server, lambda db: db.get(Source, source_id)) is None
        # The codename is refused exactly like a codename never issued.
        refused = refused_login(server, codename)
        assert refused[0] == 401
        assert "That codename is not right." in refused[1]
        assert refused == refused_login(server, generate_codename())
        # The session open from before has ended: no empty conversation, no sending.
        page = open_session.get("/conversation")
        assert (page.status_code, page.headers["location"]) == (303, "/login?expired=1")
        assert open_session.get("/conversation").headers["location"] == "/login?expired=1"
        form = open_session.get("/submit")
        assert (form.status_code, form.headers["location"]) == (303, "/login?expired=1")


def test_dry_run_lists_and_changes_nothing_and_closed_cases_follow_their_rule(
    server: LiveServer, recipient: Account
) -> None:
    with server.api_client(recipient) as api:
        stale = send_case(server, api, server.unique("Stale "))
        closed_old = send_case(server, api, server.unique("Closed long ago "))
        closed_new = send_case(server, api, server.unique("Closed recently "))
    moment = now()
    set_case(server, stale.case_id, last_activity_at=moment - 100 * DAY)
    # Closed: the closing date counts (30 days by default), not the last activity.
    set_case(server, closed_old.case_id, status="closed", closed_at=moment - 31 * DAY)
    set_case(
        server,
        closed_new.case_id,
        status="closed",
        closed_at=moment - 29 * DAY,
        last_activity_at=moment - 200 * DAY,
    )
    dry = purge_cli(server, "--dry-run")
    assert dry["dry_run"] is True
    assert set(dry["cases"]) == {stale.case_id, closed_old.case_id}
    assert dry["vacuumed"] is False
    with server.api_client(recipient) as api:
        for sent in (stale, closed_old, closed_new):
            assert api.get(f"/cases/{sent.case_id}").status_code == 200
    assert purged_events(server, stale.case_id) == []
    text = subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "purge", "--dry-run"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Would delete 2 expired case(s)." in text
    done = purge_cli(server)
    assert set(done["cases"]) == {stale.case_id, closed_old.case_id}
    with server.api_client(recipient) as api:
        assert api.get(f"/cases/{closed_new.case_id}").status_code == 200
        assert api.get(f"/cases/{stale.case_id}").status_code == 404
    assert purge_cli(server)["cases"] == []


# Keeping a case longer.


def test_the_case_page_shows_the_expiry_and_keeping_longer_moves_it(
    server: LiveServer, recipient: Account
) -> None:
    with server.api_client(recipient) as api:
        sent = send_case(server, api, server.unique("Keep this one "))
        expires = api.get(f"/cases/{sent.case_id}").json()["expires_at"]
    (activity,) = db_run(
        server,
        lambda db: db.execute(select(Case.last_activity_at).where(Case.id == sent.case_id)).one(),
    )
    assert expires == activity + 90 * DAY
    with closing(server.staff_client(recipient)) as web:
        page = web.get(f"/cases/{sent.case_id}")
        assert "This case will be deleted on" in page.text
        assert "90 days after its last activity" in page.text
        until = iso(now() + 400 * DAY)
        kept = web.post(
            f"/cases/{sent.case_id}/retention",
            data={"csrf": csrf(page.text), "until": until, "reason": "Court case pending"},
        )
        assert (kept.status_code, kept.headers["location"]) == (
            303,
            f"/cases/{sent.case_id}?kept=1",
        )
        page = web.get(kept.headers["location"])
        assert "The case will be kept longer." in page.text
        assert "kept longer by a recipient" in page.text
        assert f"Retention extended to {until}: Court case pending" in page.text  # the note
        # Bad dates and empty reasons are refused.
        for data, message in (
            ({"until": iso(now()), "reason": "x"}, "Choose a date after tomorrow."),
            ({"until": iso(now() + 6 * 366 * DAY), "reason": "x"}, "days ahead"),
            ({"until": "9999-12-31", "reason": "x"}, "days ahead"),  # no day after it: no 500
            ({"until": iso(now() + 500 * DAY), "reason": " "}, "Give a reason"),
            ({"until": "soon", "reason": "x"}, "YYYY-MM-DD"),
        ):
            refused = web.post(
                f"/cases/{sent.case_id}/retention", data={"csrf": csrf(page.text), **data}
            )
            assert refused.status_code == 400
            assert message in refused.text
    with server.api_client(recipient) as api:
        detail = api.get(f"/cases/{sent.case_id}").json()
        assert iso(detail["expires_at"] - 1) == until
        later = iso(now() + 800 * DAY)
        moved = api.post(
            f"/cases/{sent.case_id}/retention", json={"until": later, "reason": "Appeal"}
        )
        assert moved.status_code == 200, moved.text
        assert iso(moved.json()["expires_at"] - 1) == later
        assert api.get("/cases").json()["cases"][0]["expires_at"] > 0
        assert (
            api.post(
                f"/cases/{sent.case_id}/retention", json={"until": later, "reason": "Again"}
            ).status_code
            == 400
        )
        too_far = api.post(
            f"/cases/{sent.case_id}/retention", json={"until": "9999-12-31", "reason": "x"}
        )
        assert too_far.status_code == 400, too_far.text
        assert "days ahead" in too_far.text
        # The reason is a sealed internal note; the audit trail has only the date.
        notes = [
            i["text"]
            for i in api.get(f"/cases/{sent.case_id}").json()["items"]
            if i["kind"] == "note"
        ]
        assert len(notes) == 2
    events = db_run(
        server,
        lambda db: db.execute(
            select(AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.case_id == sent.case_id, AuditEvent.action == "case.retention.extend"
            )
        ).all(),
    )
    assert [json.loads(d) for _, d in events] == [{"until": until}, {"until": later}]
    assert all("Court" not in d and "Appeal" not in d for _, d in events)
    # Even long idle, a kept case is not purged before its date.
    set_case(server, sent.case_id, last_activity_at=now() - 365 * DAY)
    assert sent.case_id not in purge_cli(server, "--dry-run")["cases"]


# The background job, in two processes at once.


def test_the_job_purges_each_case_once_across_two_processes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_server(tmp_path / "a", {"MAILSLOT_JOB_INTERVAL": "1"})
    shared = {
        "MAILSLOT_JOB_INTERVAL": "1",
        "MAILSLOT_DATA_DIR": str(first.data_dir),
        "MAILSLOT_DATABASE_URL": first.env.get(
            "MAILSLOT_DATABASE_URL", f"sqlite:///{first.data_dir / 'mailslot.sqlite3'}"
        ),
    }
    second = start_server(tmp_path / "b", shared)
    second.totp = first.totp
    try:
        account = first.add_user()
        with first.api_client(account) as api:
            sent = [send_case(first, api, first.unique(f"Expire {n} ")) for n in range(4)]
            survivor = send_case(first, api, first.unique("Survivor "))

        def backdate(db: Any) -> None:
            db.execute(
                update(Case)
                .where(Case.id.in_([s.case_id for s in sent]))
                .values(last_activity_at=now() - 100 * DAY)
            )

        db_run(first, backdate)
        deadline = time.monotonic() + 30
        remaining = len(sent)
        while time.monotonic() < deadline and remaining:
            time.sleep(0.5)
            remaining = db_run(
                first,
                lambda db: len(
                    list(db.scalars(select(Case.id).where(Case.id.in_([s.case_id for s in sent]))))
                ),
            )
        assert remaining == 0
        time.sleep(2)  # more rounds of both jobs: nothing is purged or recorded twice
        for s in sent:
            assert purged_events(first, s.case_id) == [("case.purged", "", "{}")]
        assert db_run(first, lambda db: db.get(Case, survivor.case_id)) is not None
        assert db_run(first, lambda db: db.scalar(select(Source.id).limit(1))) is not None
    finally:
        stop_server(second)
        stop_server(first)
