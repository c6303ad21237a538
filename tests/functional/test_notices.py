"""Mail notices against a real SMTP server on loopback (aiosmtpd): content-free, batched,
sent once across processes, retried after failures and shown to admins."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Account, LiveServer, free_port, start_server, stop_server
from tests.functional.helpers import csrf, new_source, submit


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return self.messages


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def mail_server(tmp_path: Path, port: int, **extra: str) -> LiveServer:
    return start_server(
        tmp_path,
        {
            "MAILSLOT_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "MAILSLOT_SMTP_FROM": "notices@mailslot.example",
            "MAILSLOT_NOTIFY_INTERVAL": "0",
            "MAILSLOT_JOB_INTERVAL": "1",
            **extra,
        },
    )


def add_recipient(server: LiveServer, address: str | None) -> Account:
    account = server.add_user()
    if address is not None:
        with closing(server.staff_client(account)) as web:
            page = web.get("/account")
            saved = web.post("/account/email", data={"csrf": csrf(page.text), "email": address})
            assert saved.status_code == 303
            assert "Your notice address was saved." in web.get("/account?email=1").text
    return account


def send(server: LiveServer, message: str) -> httpx.Client:
    client = httpx.Client(base_url=server.source_url, timeout=60)
    new_source(client)
    assert (
        submit(client, message, files=[("secret-name.pdf", b"x", "application/pdf")]).status_code
        == 303
    )
    return client


def test_a_submission_sends_one_content_free_notice(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    live = mail_server(tmp_path, port)
    try:
        add_recipient(live, "ana@newsroom.example")
        add_recipient(live, None)  # no address: no mail
        secret = "the minister's budget " + live.unique("m")
        with closing(send(live, secret)) as source:
            assert submit(source, "and a second message").status_code == 303
        (notice,) = inbox.wait_for(1)
        time.sleep(2.5)  # two more job rounds: nothing else is sent for the same news
        assert len(inbox.messages) == 1
        assert notice["To"] == "ana@newsroom.example"
        assert notice["From"] == "notices@mailslot.example"
        assert notice["Subject"] == "New activity in Mailslot"
        raw = notice.as_string()
        for leak in (secret, "secret-name", "default", "budget"):
            assert leak not in raw
        runtime = live.runtime()
        try:
            with runtime.default.db() as db:
                from mailslot.notifications.models import PendingNotice

                assert db.query(PendingNotice).count() == 0
        finally:
            runtime.close()
    finally:
        stop_server(live)


def test_notices_wait_for_the_end_of_their_window(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    live = mail_server(tmp_path, port, MAILSLOT_NOTIFY_INTERVAL="3600")
    try:
        add_recipient(live, "bo@newsroom.example")
        send(live, "not announced before the hour ends").close()
        time.sleep(3)
        assert inbox.messages == []
        runtime = live.runtime()
        try:
            with runtime.default.db() as db:
                from mailslot.notifications.models import PendingNotice

                (row,) = db.query(PendingNotice).all()
                assert row.due_at % 3600 == 0
                assert row.due_at > time.time()
        finally:
            runtime.close()
    finally:
        stop_server(live)


def test_failures_are_retried_and_shown_to_admins(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.refuse = True
    live = mail_server(tmp_path, port)
    try:
        admin = live.add_user("admin")
        add_recipient(live, "cy@newsroom.example")
        send(live, "held up by the mail server").close()
        deadline = time.monotonic() + 30
        page = ""
        with closing(live.staff_client(admin)) as web:
            while time.monotonic() < deadline:
                page = web.get("/admin").text
                if "could not be delivered" in page:
                    break
                time.sleep(0.5)
        assert "1 notice could not be delivered and will be retried." in page
        assert "SMTPDataError" in page
        assert inbox.messages == []
    finally:
        stop_server(live)


def test_two_processes_send_each_notice_once(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = mail_server(tmp_path / "a", port)
    shared = {
        "MAILSLOT_DATA_DIR": str(first.data_dir),
        "MAILSLOT_DATABASE_URL": first.env.get(
            "MAILSLOT_DATABASE_URL", f"sqlite:///{first.data_dir / 'mailslot.sqlite3'}"
        ),
    }
    second = mail_server(tmp_path / "b", port, **shared)
    second.totp = first.totp
    try:
        for n in range(3):
            add_recipient(first, f"r{n}@newsroom.example")
        send(first, "one piece of news for three people").close()
        inbox.wait_for(3)
        time.sleep(3)
        assert sorted(m["To"] for m in inbox.messages) == [
            "r0@newsroom.example",
            "r1@newsroom.example",
            "r2@newsroom.example",
        ]
    finally:
        stop_server(second)
        stop_server(first)
