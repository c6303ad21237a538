"""Deadline reminders through real servers and a real SMTP server (aiosmtpd): a deadline
coming within the reminder lead sends one content-free notice to the case's assignees (or to
everyone holding its key), once, even with two processes running the job."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select, update

import mailslot.db.models  # noqa: F401 - every table, for the foreign keys
from mailslot.cases.models import Case, CaseAssignee
from mailslot.notifications.models import PendingNotice
from tests.conftest import LiveServer, stop_server
from tests.functional.helpers import find_case
from tests.functional.test_notices import (  # noqa: F401 - smtp is a fixture
    Inbox,
    add_recipient,
    mail_server,
    send,
    smtp,
)

HOUR = 3600


def second_process(first: LiveServer, tmp_path: Path, port: int) -> LiveServer:
    """Another ``mailslot serve`` on the same database and data directory."""
    shared = {
        "MAILSLOT_DATA_DIR": str(first.data_dir),
        "MAILSLOT_DATABASE_URL": first.env.get(
            "MAILSLOT_DATABASE_URL", f"sqlite:///{first.data_dir / 'mailslot.sqlite3'}"
        ),
        "MAILSLOT_REMINDER_LEAD_HOURS": "48",
    }
    (tmp_path / "b").mkdir()
    second = mail_server(tmp_path / "b", port, **shared)
    second.totp = first.totp
    return second


def set_due(server: LiveServer, case_id: str, due_at: int) -> None:
    runtime = server.runtime()
    try:
        runtime.default.transact(
            lambda db: db.execute(update(Case).where(Case.id == case_id).values(due_at=due_at))
        )
    finally:
        runtime.close()


def reminded_for(server: LiveServer, case_id: str) -> int | None:
    runtime = server.runtime()
    try:
        return runtime.default.transact(
            lambda db: db.scalar(select(Case.reminded_for).where(Case.id == case_id))
        )
    finally:
        runtime.close()


def test_a_near_deadline_is_reminded_once_across_two_processes(
    tmp_path: Path,
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
) -> None:
    inbox, port = smtp
    (tmp_path / "a").mkdir()
    first = mail_server(tmp_path / "a", port, MAILSLOT_REMINDER_LEAD_HOURS="48")
    second = second_process(first, tmp_path, port)
    try:
        ana = add_recipient(first, "ana@newsroom.example")
        add_recipient(first, "bo@newsroom.example")
        secret = first.unique("the harbour contract ")
        send(first, secret).close()
        inbox.wait_for(2)  # the news of the submission, one each
        time.sleep(2)
        assert len(inbox.messages) == 2
        inbox.messages.clear()
        with first.api_client(ana) as api:
            case_id = find_case(api, secret)["id"]
        # Seven days to acknowledge: no reminder yet (the lead is two days).
        time.sleep(2)
        assert inbox.messages == []
        assert reminded_for(first, case_id) is None

        # The deadline comes within the lead: both recipients (nobody is assigned) hear once.
        due = int(time.time()) + 30 * HOUR
        due -= due % HOUR
        set_due(first, case_id, due)
        inbox.wait_for(2)
        time.sleep(3)  # several rounds of both processes' jobs
        assert sorted(m["To"] for m in inbox.messages) == [
            "ana@newsroom.example",
            "bo@newsroom.example",
        ]
        assert reminded_for(first, case_id) == due
        for notice in inbox.messages:
            raw = notice.as_string()
            assert notice["Subject"] == "New activity in Mailslot"
            for leak in (secret, "harbour", case_id, "default", "deadline"):
                assert leak not in raw
        inbox.messages.clear()

        # A new deadline, now past, with ana assigned: only ana hears, once.
        runtime = first.runtime()
        try:
            runtime.default.transact(
                lambda db: db.add(CaseAssignee(case_id=case_id, user_id=ana.id))
            )
        finally:
            runtime.close()
        set_due(first, case_id, due - 48 * HOUR)
        inbox.wait_for(1)
        time.sleep(3)
        assert [m["To"] for m in inbox.messages] == ["ana@newsroom.example"]
        assert reminded_for(first, case_id) == due - 48 * HOUR
        runtime = first.runtime()
        try:
            with runtime.default.db() as db:
                assert db.query(PendingNotice).count() == 0
        finally:
            runtime.close()
    finally:
        stop_server(second)
        stop_server(first)


def test_no_mail_configured_means_no_reminders_claimed(tmp_path: Path) -> None:
    """Without SMTP there is nobody to remind: the deadline stays unclaimed, so reminders
    start once mail is set up."""
    from tests.conftest import start_server

    live = start_server(tmp_path, {"MAILSLOT_JOB_INTERVAL": "1"})
    try:
        account = live.add_user()
        secret = live.unique("no mail here ")
        send(live, secret).close()
        with live.api_client(account) as api:
            case_id = find_case(api, secret)["id"]
        set_due(live, case_id, int(time.time()) - HOUR)
        time.sleep(2.5)
        assert reminded_for(live, case_id) is None
    finally:
        stop_server(live)
