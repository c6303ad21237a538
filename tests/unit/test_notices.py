"""Queueing, claiming and retrying notices; SMTP settings from the URL."""

from __future__ import annotations

import gettext

import pytest
from sqlalchemy import update

from mailslot import crypto, i18n
from mailslot.cases import sealing
from mailslot.channels import services as channels
from mailslot.errors import ConfigError
from mailslot.notifications import services as notices
from mailslot.notifications.mailer import BODY, SUBJECT, message, parse_smtp_url
from mailslot.notifications.models import PendingNotice
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime

PASSWORD = "violet tundra marmalade 83"


def setup_case(runtime: Runtime) -> tuple[str, list[str]]:
    with runtime.default.db() as db:
        ids = []
        for name, email in (("ana", "ana@x.example"), ("bo", None), ("cy", "cy@x.example")):
            account = recipients.create_user(
                db,
                username=name,
                role=Role.RECIPIENT,
                password=PASSWORD,
                kdf=crypto.TEST_KDF,
                now=0,
                email=email,
                channel_names=["default"],
            )
            ids.append(account.user.id)
        channel = channels.get_channel_by_name(db, "default")
        case = sealing.open_case(db, channel, None, now=0)
        return case.id, ids


def test_window_end() -> None:
    assert notices.window_end(7200, 3600) == 10800
    assert notices.window_end(7199, 3600) == 7200
    assert notices.window_end(1234, 0) == 1234


def test_queue_claim_deliver_and_retry(runtime: Runtime) -> None:
    case_id, (ana, _bo, cy) = setup_case(runtime)
    queued = runtime.default.transact(
        lambda db: notices.queue_for_case(db, case_id, now=100, interval=60)
    )
    assert queued == 2  # bo has no address
    # More news in the same window does not add rows or move the due time.
    runtime.default.transact(lambda db: notices.queue_for_case(db, case_id, now=119, interval=60))
    with runtime.default.db() as db:
        rows = {r.user_id: r.due_at for r in db.query(PendingNotice)}
    assert rows == {ana: 120, cy: 120}
    assert runtime.default.transact(lambda db: notices.claim_due(db, now=119)) == []

    sent: list[str] = []

    def send(address: str, locale: str) -> None:
        if address.startswith("cy"):
            raise ConnectionRefusedError
        assert locale == "en"  # no language chosen: the organisation's default
        sent.append(address)

    assert notices.deliver_due(runtime.default.transact, send, now=120) == 1
    assert sent == ["ana@x.example"]
    status = runtime.default.transact(notices.status)
    assert (status.waiting, status.failing, status.last_error) == (1, 1, "ConnectionRefusedError")
    with runtime.default.db() as db:
        (row,) = db.query(PendingNotice).all()
        assert (row.user_id, row.attempts, row.due_at) == (cy, 1, 180)
    # Not before its retry time; then it goes through.
    assert notices.deliver_due(runtime.default.transact, send, now=179) == 0
    with runtime.default.db() as db:  # cy reads Korean now
        db.execute(update(User).where(User.id == cy).values(email="ok-cy@x.example", locale="ko"))
    languages: dict[str, str] = {}
    assert notices.deliver_due(runtime.default.transact, languages.__setitem__, now=180) == 1
    assert languages == {"ok-cy@x.example": "ko"}
    assert sent == ["ana@x.example"]
    assert runtime.default.transact(notices.status).waiting == 0


def test_a_claimed_notice_is_not_claimed_twice(runtime: Runtime) -> None:
    case_id, _ = setup_case(runtime)
    runtime.default.transact(lambda db: notices.queue_for_case(db, case_id, now=0, interval=0))
    first = runtime.default.transact(lambda db: notices.claim_due(db, now=10))
    second = runtime.default.transact(lambda db: notices.claim_due(db, now=10))
    assert len(first) == 2
    assert second == []
    # A claim left by a process that died expires.
    third = runtime.default.transact(
        lambda db: notices.claim_due(db, now=10 + notices.CLAIM_SECONDS)
    )
    assert len(third) == 2


def test_smtp_urls() -> None:
    tls = parse_smtp_url("smtps://user%40x:p%40ss@mail.example", "m@x.example")
    assert (tls.host, tls.port, tls.tls, tls.starttls) == ("mail.example", 465, True, False)
    assert (tls.username, tls.password) == ("user@x", "p@ss")
    assert "p@ss" not in repr(tls)
    start = parse_smtp_url("smtp://mail.example?starttls=1", "m@x.example")
    assert (start.port, start.tls, start.starttls) == (587, False, True)
    assert parse_smtp_url("smtp://localhost", "m@x.example").port == 25
    for bad in ("http://mail.example", "smtp://", "mail.example"):
        with pytest.raises(ConfigError):
            parse_smtp_url(bad, "m@x.example")
    with pytest.raises(ConfigError):
        parse_smtp_url("smtp://localhost", "not an address")


def test_the_message_says_nothing_about_the_news() -> None:
    mail = message(parse_smtp_url("smtp://localhost", "m@x.example"), "ana@x.example", "en")
    assert mail["Subject"] == SUBJECT
    assert mail.get_content() == BODY
    assert mail["Content-Language"] == "en"


class _Pseudo(gettext.NullTranslations):
    """Every translated text marked, so that text which skipped gettext shows."""

    def gettext(self, message: str) -> str:
        return f"⟦{message}⟧"


def test_every_word_of_a_notice_goes_through_gettext(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "translations", lambda locale: _Pseudo())
    mail = message(parse_smtp_url("smtp://localhost", "m@x.example"), "ana@x.example", "de")
    assert mail["Subject"] == f"⟦{SUBJECT}⟧"
    assert mail.get_content().rstrip("\n") == f"⟦{BODY}⟧"
    assert mail["Content-Language"] == "de"


@pytest.mark.parametrize("locale", [c for c in i18n.SUPPORTED_LOCALES if c != "en"])
def test_a_notice_reads_in_each_language_with_no_english_left(locale: str) -> None:
    mail = message(parse_smtp_url("smtp://localhost", "m@x.example"), "ana@x.example", locale)
    assert mail["Subject"] == i18n.translations(locale).gettext(SUBJECT) != SUBJECT
    body = mail.get_content()
    assert body.rstrip("\n") == i18n.translations(locale).gettext(BODY).rstrip("\n")
    for sentence in ("Something new is waiting", "Log in to read it", "says nothing more"):
        assert sentence not in body, (locale, body)
    assert mail["Content-Language"] == i18n.language(locale).tag
    assert set(mail.keys()) == {
        "From",
        "To",
        "Subject",
        "Content-Language",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    }
