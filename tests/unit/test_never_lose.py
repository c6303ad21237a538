"""Never lose a source's words: every failed send shows the form again with what was typed,
a form sent twice stores one submission, and a first session keeps its codename.

The source app runs in-process (Starlette's test client) on a real database, with the
organisation's clock injected so that a session can go idle; the use case's send tokens are
also checked directly, two requests of one session at once included."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from sqlalchemy import func, select

from mailslot import crypto
from mailslot.cases import sealing
from mailslot.cases.models import Case, Item
from mailslot.config import load_config
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role
from mailslot.runtime import Runtime, open_runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SENT_TOKENS
from mailslot.sources import access, submissions
from mailslot.sources.models import Source
from mailslot.web.app import create_source_app
from tests.databases import drop_database, migrated_database

NOW = 1_800_000_000
IDLE = 30 * 60
CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')
TOKEN_RE = re.compile(r'name="send_token" value="([^"]*)"')
CODENAME_RE = re.compile(r'<p class="codename" id="codename" lang="[^"]*">([^<]+)</p>')
TEXTAREA_RE = re.compile(r'<textarea id="message"[^>]*>([^<]*)</textarea>', re.S)


def count(ctx: OrgContext, model: type) -> int:
    with ctx.db() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


# The use case: send tokens.


@pytest.fixture
def ctx(runtime: Runtime) -> OrgContext:
    context = dataclasses.replace(runtime.default, clock=lambda: float(NOW))
    with context.db() as db:
        recipients.create_user(
            db,
            username="alice",
            role=Role.RECIPIENT,
            password="correct horse battery staple",
            kdf=crypto.TEST_KDF,
            now=NOW,
            channel_names=("default",),
        )
    return context


def started(ctx: OrgContext) -> sessions.SessionState:
    new = submissions.start(ctx)
    with ctx.db() as db:
        return sessions.create(db, kind=sessions.SOURCE, data=new.session, now=NOW, absolute=3600)


def loaded(ctx: OrgContext, state: sessions.SessionState) -> sessions.SessionState:
    """The same session as another request of it loads it."""
    with ctx.db() as db:
        found = sessions.load(db, state.token, kind=sessions.SOURCE, idle=3600, now=NOW)
    assert found is not None
    return found


@dataclass(frozen=True)
class File:
    upload: sealing.ItemUpload
    filename: str
    content_type: str


def a_file(ctx: OrgContext) -> File:
    upload = sealing.ItemUpload(ctx.blobs, limit=1 << 20)
    upload.write(b"%PDF-1.7 evidence")
    upload.close()
    return File(upload, "evidence.pdf", "application/pdf")


def test_a_first_submission_sent_twice_is_stored_once(ctx: OrgContext) -> None:
    state = started(ctx)
    token = submissions.new_send_token()
    again = loaded(ctx, state)  # the second request loaded the session before the first ended
    source_id = submissions.submit(
        ctx, state, None, "hello", [a_file(ctx)], locale="en", token=token
    )
    second = a_file(ctx)
    assert again.data.new_lookup is not None
    assert again.data.source_id is None
    repeated = submissions.submit(ctx, again, None, "hello", [second], locale="en", token=token)
    assert repeated == source_id
    assert (count(ctx, Source), count(ctx, Case), count(ctx, Item)) == (1, 1, 2)
    assert not ctx.blobs.exists(second.upload.blob_id)  # the repeat's file is not kept
    # Another form (another token) of the same session is another submission.
    submissions.submit(
        ctx, again, None, "more", [], locale="en", token=submissions.new_send_token()
    )
    assert count(ctx, Item) == 3


def test_two_sends_of_one_form_at_once_store_one(ctx: OrgContext) -> None:
    state = started(ctx)
    submissions.submit(ctx, state, None, "first", [], locale="en")
    token = submissions.new_send_token()
    states = [loaded(ctx, state) for _ in range(4)]
    gate = threading.Barrier(len(states))
    results: list[str] = []
    failures: list[BaseException] = []

    def send(one: sessions.SessionState) -> None:
        gate.wait()
        try:
            results.append(submissions.submit(ctx, one, None, "once", [], locale="en", token=token))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(one,)) for one in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(results) == len(states)
    assert len(set(results)) == 1
    assert count(ctx, Item) == 2  # "first", and "once" once


def test_the_session_remembers_its_latest_tokens(ctx: OrgContext) -> None:
    state = started(ctx)
    tokens = [submissions.new_send_token() for _ in range(SENT_TOKENS + 1)]
    for token in tokens:
        submissions.submit(ctx, state, None, token, [], locale="en", token=token)
    assert loaded(ctx, state).data.sent.split() == tokens[1:]
    submissions.submit(ctx, state, None, "latest again", [], locale="en", token=tokens[-1])
    assert count(ctx, Item) == len(tokens)
    # A malformed token is no token: each send is stored.
    for _ in range(2):
        submissions.submit(ctx, state, None, "no token", [], locale="en", token="short")
    assert count(ctx, Item) == len(tokens) + 2


def test_a_send_whose_session_ended_meanwhile_stores_nothing(ctx: OrgContext) -> None:
    state = started(ctx)
    with ctx.db() as db:
        sessions.destroy(db, state)
    document = a_file(ctx)
    with pytest.raises(AuthenticationFailed):
        submissions.submit(ctx, state, None, "late", [document], locale="en")
    assert count(ctx, Source) == 0
    assert not ctx.blobs.exists(document.upload.blob_id)


# The source app, in-process.


ORIGIN = "http://127.0.0.1"


@dataclass
class Client:
    """A blocking face on an httpx client of the ASGI app, on one event loop; posts carry
    ``Origin``, as a browser's do."""

    portal: BlockingPortal
    client: httpx.AsyncClient

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.get, path, **kw))

    def post(self, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {"origin": ORIGIN, **kw.get("headers", {})}
        return self.portal.call(partial(self.client.post, path, **kw))


@dataclass
class App:
    client: Client
    runtime: Runtime
    clock: list[float]

    @property
    def ctx(self) -> OrgContext:
        return self.runtime.default

    def form(self, path: str = "/submit") -> dict[str, str]:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return form_of(page.text)

    def send(
        self, fields: dict[str, str], files: list[tuple[str, bytes]] | None = None
    ) -> httpx.Response:
        parts = [("files", (name, data, "text/plain")) for name, data in files or []]
        empty = [("files", ("", b"", "application/octet-stream"))]
        return self.client.post("/submit", data=fields, files=parts or empty)

    def idle(self, seconds: int) -> None:
        self.clock[0] += seconds


def form_of(html: str) -> dict[str, str]:
    fields = {"csrf": unescape(CSRF_RE.findall(html)[-1]), "message": ""}
    if (token := TOKEN_RE.search(html)) is not None:
        fields["send_token"] = token[1]
    if 'name="first" value="1"' in html:
        fields["first"] = "1"
    return fields


def typed(html: str) -> str:
    match = TEXTAREA_RE.search(html)
    assert match, "no message box on the page"
    return unescape(match[1])


def make_app(tmp_path: Path, **overrides: object) -> Iterator[App]:
    database = migrated_database(tmp_path / "data")
    if database:
        overrides["database_url"] = database
    config = load_config({}, data_dir=tmp_path / "data", kdf=crypto.TEST_KDF, **overrides)
    runtime = open_runtime(config)
    clock = [float(NOW)]
    runtime.default = dataclasses.replace(runtime.default, clock=lambda: clock[0])
    with runtime.default.db() as db:
        recipients.create_user(
            db,
            username="alice",
            role=Role.RECIPIENT,
            password="correct horse battery staple",
            kdf=crypto.TEST_KDF,
            now=NOW,
            channel_names=("default",),
        )
    transport = httpx.ASGITransport(app=create_source_app(runtime))
    try:
        with start_blocking_portal() as portal:
            client = httpx.AsyncClient(transport=transport, base_url=ORIGIN)
            try:
                yield App(Client(portal, client), runtime, clock)
            finally:
                portal.call(client.aclose)
    finally:
        runtime.close()
        drop_database(database)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    yield from make_app(tmp_path, max_file_size=1000, max_submission_size=2500)


def new_codename(app: App) -> str:
    page = app.client.post("/new")
    assert page.status_code == 200, page.text
    match = CODENAME_RE.search(page.text)
    assert match
    return unescape(match[1])


def messages(app: App) -> int:
    with app.ctx.db() as db:
        return int(db.scalar(select(func.count()).where(Item.kind == "message")) or 0)


def test_the_form_says_how_long_it_stays_ready(app: App) -> None:
    new_codename(app)
    page = app.client.get("/submit")
    assert "This form stays ready for 30 minutes after you last open a page here" in page.text
    # Opening a page starts the time again: 29 idle minutes twice, and the session lives.
    for _ in range(2):
        app.idle(IDLE - 60)
        assert app.client.get("/submit").status_code == 200


def test_the_codename_page_shows_the_same_codename_until_the_first_send(app: App) -> None:
    codename = new_codename(app)
    # Back to the codename page: the form posted again, or the page loaded again.
    assert new_codename(app) == codename
    shown = app.client.get("/new")
    assert CODENAME_RE.search(shown.text)[1] == codename  # type: ignore[index]
    assert 'href="/new"' in app.client.get("/submit").text  # "Show my codename again"
    fields = app.form() | {"message": "the first words"}
    assert app.send(fields).status_code == 303
    # Sent: the codename is never shown again, and "new" leads to the conversation.
    again = app.client.post("/new")
    assert again.status_code == 303
    assert again.headers["location"] == "/conversation"
    assert codename not in app.client.get("/conversation").text
    assert access.log_in(app.ctx, codename).source_id


def test_a_double_click_stores_one_message(app: App) -> None:
    new_codename(app)
    fields = app.form() | {"message": "sent twice"}
    first, second = app.send(fields), app.send(fields)
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == "/submitted"
    assert messages(app) == 1
    again = app.form("/conversation") | {"message": "sent again, another form"}
    assert app.send(again).status_code == 303
    assert messages(app) == 2


def test_an_idle_first_session_gets_a_new_codename_and_keeps_the_text(app: App) -> None:
    old = new_codename(app)
    text = "A long account, written for over half an hour. <b>not markup</b> 한국어"
    fields = app.form() | {"message": text}
    app.idle(IDLE + 1)
    page = app.send(fields, [("scan.pdf", b"%PDF")])
    assert page.status_code == 401
    assert typed(page.text) == text
    assert "the codename you were shown was never used and does not work" in page.text
    assert "scan.pdf" in page.text  # to choose again
    fresh = CODENAME_RE.search(page.text)
    assert fresh is not None
    assert unescape(fresh[1]) != old
    assert count(app.ctx, Source) == 0
    # The page holds a live form: sending it stores the text, and the new codename works.
    sent = app.send(form_of(page.text) | {"message": typed(page.text)})
    assert sent.status_code == 303, sent.text
    source_id = access.log_in(app.ctx, unescape(fresh[1])).source_id
    with pytest.raises(AuthenticationFailed):
        access.log_in(app.ctx, old)
    with app.ctx.db() as db:
        assert db.scalar(select(Case.source_id)) == source_id


def test_an_idle_returning_source_logs_in_again_and_sends_in_one_step(app: App) -> None:
    codename = new_codename(app)
    assert app.send(app.form() | {"message": "first"}).status_code == 303
    fields = app.form("/conversation") | {"message": "written while the session ran out"}
    app.idle(IDLE + 1)
    page = app.send(fields)
    assert page.status_code == 401
    assert typed(page.text) == "written while the session ran out"
    assert 'name="codename"' in page.text
    assert "enter your codename and press Send to log in again and send it" in page.text
    # A wrong codename: the text is still there.
    wrong = app.send(form_of(page.text) | {"message": typed(page.text), "codename": "no"})
    assert wrong.status_code in (400, 401)
    assert typed(wrong.text) == "written while the session ran out"
    assert messages(app) == 1
    done = app.send(form_of(wrong.text) | {"message": typed(wrong.text), "codename": codename})
    assert done.status_code == 303
    assert done.headers["location"] == "/submitted"
    assert messages(app) == 2
    # With files, the login happens and the files are asked for again.
    fields = app.form("/conversation") | {"message": "with a file"}
    app.idle(IDLE + 1)
    page = app.send(fields, [("a.txt", b"a")])
    relogin = form_of(page.text) | {"message": typed(page.text), "codename": codename}
    again = app.send(relogin, [("a.txt", b"a")])
    assert again.status_code == 200
    assert "Choose your files again" in again.text
    assert "a.txt" in again.text
    assert typed(again.text) == "with a file"
    assert (
        app.send(form_of(again.text) | {"message": "with a file"}, [("a.txt", b"a")]).status_code
        == 303
    )
    assert messages(app) == 3


def test_a_stale_form_keeps_the_text_and_names_the_files(app: App) -> None:
    new_codename(app)
    fields = app.form() | {"message": "kept", "csrf": "stale"}
    page = app.send(fields, [("one.txt", b"1"), ("two.txt", b"2")])
    assert page.status_code == 403
    assert "This form had expired, so nothing was sent" in page.text
    assert typed(page.text) == "kept"
    assert re.search(r"<li>one.txt</li><li>two.txt</li>", page.text)
    assert count(app.ctx, Item) == 0
    assert app.send(form_of(page.text) | {"message": "kept"}).status_code == 303


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([("small.txt", b"s"), ("big.pdf", b"x" * 1001)], "The file “big.pdf” is larger than"),
        (
            [("a.bin", b"x" * 900), ("b.bin", b"x" * 900), ("c.bin", b"x" * 900)],
            "The files together are larger than the limit of",
        ),
    ],
)
def test_a_file_over_a_limit_is_named_and_the_text_kept(
    app: App, files: list[tuple[str, bytes]], says: str
) -> None:
    new_codename(app)
    page = app.send(app.form() | {"message": "with files"}, files)
    assert page.status_code == 413
    assert says in unescape(page.text)
    assert typed(page.text) == "with files"
    for name, _ in files:
        assert f"<li>{name}</li>" in page.text
    assert count(app.ctx, Item) == 0
    assert not [p for p in (app.runtime.config.data_dir / "blobs").rglob("*") if p.is_file()]


def test_a_server_error_keeps_the_text(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    new_codename(app)
    fields = app.form() | {"message": "kept through a crash"}

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(submissions, "submit", broken)
    page = app.send(fields)
    assert page.status_code == 500
    assert "Something went wrong on our side, so nothing was sent" in page.text
    assert typed(page.text) == "kept through a crash"
    assert "the database went away" not in page.text


def test_a_rate_limit_keeps_the_text(tmp_path: Path) -> None:
    for app in make_app(tmp_path, submission_rate=1):
        new_codename(app)
        assert app.send(app.form() | {"message": "one"}).status_code == 303
        page = app.send(app.form("/conversation") | {"message": "two, too soon"})
        assert page.status_code == 429
        assert int(page.headers["retry-after"]) > 0
        assert typed(page.text) == "two, too soon"
        assert messages(app) == 1


def test_no_channel_is_chosen_for_the_source(app: App) -> None:
    from mailslot.channels import services as channels

    with app.ctx.db() as db:
        channels.create_channel(
            db, name="Legal", description="For lawyers", recipients=["alice"], now=NOW
        )
    new_codename(app)
    page = app.client.get("/submit").text
    radios = re.findall(r'<input type="radio"[^>]*>', page)
    assert len(radios) == 2
    assert not any("checked" in radio for radio in radios)
    assert "For lawyers" in page
    # Sent without a choice: the text comes back, and the choice made is kept.
    refused = app.send(app.form() | {"message": "which desk?"})
    assert refused.status_code == 400
    assert typed(refused.text) == "which desk?"
