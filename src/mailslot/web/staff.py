"""The staff interface: login, inbox, case pages, replies, downloads, deletion."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mailslot import crypto, errors
from mailslot.audit import services as audit
from mailslot.cases import deadlines, retention
from mailslot.cases import inbox as case_inbox
from mailslot.cases import services as cases
from mailslot.cases import work as work_services
from mailslot.cases.models import CaseStatus, ItemKind
from mailslot.channels.models import Channel
from mailslot.instance.services import get_instance
from mailslot.limits import services as limits
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.sessions.services import SessionState, b64, unb64
from mailslot.sources.models import Source
from mailslot.web.archive import case_zip
from mailslot.web.common import Web
from mailslot.web.errors import retry_headers
from mailslot.web.security import DOWNLOAD_CSP


class Staff:
    """The signed-in staff member behind a request."""

    def __init__(self, user: User, seed: bytes | None, state: SessionState) -> None:
        self.user = user
        self.seed = seed
        self.state = state

    @property
    def is_admin(self) -> bool:
        return self.user.role == Role.ADMIN.value

    @property
    def is_analyst(self) -> bool:
        """Sees statistics only: never a case, never an admin page."""
        return self.user.role == Role.ANALYST.value


def home(user: User) -> str:
    """Where a staff member lands: admins on administration, analysts on statistics (they
    never see an inbox: they hold no case keys), recipients on their inbox."""
    return {Role.ADMIN.value: "/admin", Role.ANALYST.value: "/stats"}.get(user.role, "/")


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name in RFC 5987 form."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{encoded}"


class StaffViews:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.config = web.runtime.config

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.inbox),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/cases/{case_id}", self.case_page),
            Route("/cases/{case_id}/replies", self.reply, methods=["POST"]),
            Route("/cases/{case_id}/items/{item_id}/download", self.download),
            Route("/cases/{case_id}/download-all", self.download_all),
            Route("/cases/{case_id}/delete", self.delete_form),
            Route("/cases/{case_id}/delete", self.delete, methods=["POST"]),
        ]

    # Authentication plumbing, shared with the admin views.

    async def staff(self, request: Request) -> Staff | None:
        """The signed-in staff member, looked up once per request (a view and the page it
        renders both ask); a session started or ended during the request is seen."""
        state = await self.web.session(request)
        cached = request.scope.get("mailslot.staff")
        if cached is not None and cached[0] is state:
            staff: Staff | None = cached[1]
            return staff
        staff = await self._load_staff(state)
        request.scope["mailslot.staff"] = (state, staff)
        return staff

    async def _load_staff(self, state: SessionState | None) -> Staff | None:
        if state is None or "user_id" not in state.data:
            return None
        user_id = str(state.data["user_id"])
        user = await self.web.run(lambda db: db.get(User, user_id))
        if user is None or user.disabled:
            return None
        seed = state.data.get("seed")
        return Staff(user, unb64(seed) if seed else None, state)

    async def page(
        self, request: Request, template: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        instance = await self.web.run(get_instance)
        staff = await self.staff(request)
        failed_logins = 0
        if staff is not None and staff.state.data.get("failed_logins"):
            # Told once, on the first page after the login.
            failed_logins = int(staff.state.data.pop("failed_logins"))
            await self.web.save_session(staff.state)
        full = {
            "me": staff.user if staff else None,
            "is_admin": bool(staff and staff.is_admin),
            "is_analyst": bool(staff and staff.is_analyst),
            "failed_logins": failed_logins,
        }
        full.update(context or {})
        return self.web.page(request, template, full, instance_name=instance.name, **kw)

    async def error(
        self, request: Request, template: str, error: errors.ServiceError, **context: Any
    ) -> Response:
        context["error"] = self.web.error_message(request, error)
        response = await self.page(request, template, context, status=self.web.error_status(error))
        response.headers.update(retry_headers(error))
        return response

    async def form(
        self, request: Request, staff: Staff | None, *, csrf: bool = True
    ) -> dict[str, str]:
        self.web.check_origin(request)
        form = await request.form(max_files=0, max_fields=50, max_part_size=1024 * 1024)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if csrf:
            self.web.check_csrf(staff.state if staff else None, fields.get("csrf"))
        return fields

    def login_redirect(self, request: Request) -> Response:
        return self.web.redirect(request, "/login")

    # Login.

    async def login_form(self, request: Request) -> Response:
        return await self.page(request, "staff/login.html")

    async def login(self, request: Request) -> Response:
        now = self.web.runtime.now()
        try:
            fields = await self.form(request, None, csrf=False)
            username = fields.get("username", "")[:64]
            auth, failures = await self.authenticate(
                username, fields.get("password", ""), fields.get("totp", ""), now
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/login.html", exc)
        return await self.logged_in(request, auth, failures)

    async def logged_in(
        self, request: Request, auth: recipients.Authenticated, failures: int
    ) -> Response:
        """Start the real session (a new cookie) after both factors; shared with the
        security-key login (``web/webauthn.py``)."""
        await self.web.start_session(
            request,
            {
                "user_id": auth.user.id,
                "seed": b64(auth.private_seed) if auth.private_seed is not None else None,
                "failed_logins": failures,
            },
            user_id=auth.user.id,
        )
        return self.web.redirect(request, home(auth.user))

    async def authenticate(
        self, username: str, password: str, code: str, now: int, *, via: str = "password"
    ) -> tuple[recipients.Authenticated, int]:
        """A staff login, shared with the API: throttled per username (known or not), then
        Argon2id under the KDF cap, then the password, code and key checks.

        Returns the account and how many failed attempts preceded this login unreported.
        """
        user, keys = await self.first_factor(username, password, now)
        try:
            auth = await self.web.run(
                lambda db: recipients.authenticate(
                    db, db.merge(user) if user else None, keys, code, now
                )
            )
        except errors.AuthenticationFailed:
            await self.login_failed(username, now)
            raise
        return auth, await self.login_succeeded(username, via=via)

    # The steps of a login, shared with the security-key login (``web/webauthn.py``), which
    # runs the first factor when the key is asked for and unwraps only after the key answers.

    async def first_factor(
        self, username: str, password: str, now: int
    ) -> tuple[User | None, crypto.PasswordKeys]:
        """Refuse a locked username, then Argon2id under the KDF cap (the same work whether
        or not the username exists). The caller checks the result."""
        kdf = self.config.kdf
        await self.web.run(lambda db: limits.check_login(db, username, now))
        user = await self.web.run(lambda db: recipients.find_user(db, username))
        keys = await self.web.kdf(lambda: recipients.derive_for(user, password, kdf))
        return user, keys

    async def login_failed(self, username: str, now: int) -> None:
        threshold = self.config.login_failures_before_lock

        def work(db: DbSession) -> None:
            limits.login_failed(db, username, now=now, threshold=threshold)
            # Only for an existing account: a mistyped or guessed name is not recorded.
            user = recipients.find_user(db, username)
            if user is not None:
                audit.record(
                    db, "auth.login_failed", now=now, actor_id=user.id, actor=user.username
                )

        await self.web.run(work)

    async def login_succeeded(self, username: str, *, via: str = "password") -> int:
        """Clear the throttle; return the failures to tell the account holder about."""
        now = self.web.runtime.now()

        def work(db: DbSession) -> int:
            failures = limits.login_succeeded(db, username)
            user = recipients.find_user(db, username)
            if user is not None:
                audit.record(
                    db, "auth.login", now=now, actor_id=user.id, actor=user.username, via=via
                )
            return failures

        return await self.web.run(work)

    async def logout(self, request: Request) -> Response:
        await self.web.session(request)
        try:
            self.web.check_origin(request)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        staff = await self.staff(request)
        if staff is not None:
            user, now = staff.user, self.web.runtime.now()
            await self.web.run(
                lambda db: audit.record(
                    db, "auth.logout", now=now, actor_id=user.id, actor=user.username
                )
            )
        await self.web.end_session(request)
        return self.web.redirect(request, "/login", bye=1)

    # Cases.

    async def inbox(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        if staff.is_admin or staff.is_analyst:
            return self.web.redirect(request, home(staff.user))
        return await self.inbox_page(request, staff)

    async def inbox_page(self, request: Request, staff: Staff) -> Response:
        """The filtered, sorted, paginated inbox (cases.inbox); a bad filter is told on the
        page, with the filters as they were typed."""
        params = {k: v[:200] for k, v in request.query_params.items()}
        size = self.config.page_size
        now = self.web.runtime.now()
        kept = {k: v for k, v in params.items() if v and k not in ("page", "lang")}

        def filter_url(**changes: Any) -> str:
            """This inbox with some filters changed (None drops one), on page 1 unless a
            page is given."""
            return self.web.url(request, "/", **{**kept, **changes})

        context: dict[str, Any] = {
            "params": params,
            "filter_url": filter_url,
            "filtered": any(k not in ("sort", "order") for k in kept),
            "choices": None,
            "phases": [status.value for status in CaseStatus],
            "count_cap": case_inbox.COUNT_CAP,
            "page": 1,
            "pages": 1,
            "result": None,
        }
        try:
            # A page number that is not one shows the first page, as it always has.
            page = max(1, case_inbox.parse_int(params.get("page"), "page", 1))
        except errors.InvalidInput:
            page = 1
        try:
            query = case_inbox.parse_query(
                params, me=staff.user.id, limit=size, offset=(page - 1) * size
            )
        except errors.ServiceError as exc:
            context["choices"] = await self.web.run(
                lambda db: case_inbox.inbox_choices(db, staff.user)
            )
            return await self.error(request, "staff/inbox.html", exc, **context)

        def work(db: DbSession) -> tuple[case_inbox.InboxChoices, case_inbox.InboxPage]:
            return case_inbox.inbox_choices(db, staff.user), case_inbox.inbox(
                db, staff.user, query, now
            )

        context["choices"], result = await self.web.run(work)
        context.update(
            result=result,
            page=page,
            pages=max(1, math.ceil(result.total / size)),
            more=len(result.rows) == size and (result.total_capped or page * size < result.total),
        )
        return await self.page(request, "staff/inbox.html", context)

    async def case_page(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        case_id = request.path_params["case_id"]
        blobs = self.web.runtime.blobs
        now = self.web.runtime.now()

        def work(db: DbSession) -> dict[str, Any]:
            case, wrap = cases.case_for_user(db, staff.user, case_id)
            if staff.seed is None:
                items = cases.sealed_items(db, case)
            else:
                items = cases.case_items(db, blobs, case, cases.case_key(case, wrap, staff.seed))
            cases.mark_read(db, case, staff.user)
            channel = db.get(Channel, case.channel_id)
            # Opening a case is access to its content (sealed or not): always recorded.
            audit.record(
                db,
                "case.view",
                now=now,
                actor_id=staff.user.id,
                actor=staff.user.username,
                case_id=case.id,
            )
            return {
                "case": case,
                "items": items,
                "channel": channel,
                "can_reply": case.source_id is not None,
                "key_offline": staff.seed is None,
                "work": work_services.case_panel(db, case),
                "expiry": retention.expiry(case, channel) if channel else None,
            }

        try:
            context = await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        context["sent"] = "sent" in request.query_params
        return await self.page(request, "staff/case.html", context)

    async def reply(self, request: Request) -> Response:
        staff = await self.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await self.form(request, staff)
            if staff is None:
                return self.login_redirect(request)
            await self.send_reply(staff.user, case_id, fields.get("text", ""))
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return self.web.redirect(request, f"/cases/{case_id}", sent=1)

    async def send_reply(self, user: User, case_id: str, text: str) -> str:
        """Shared with the API: seal a reply readable by the case key and the source's key."""
        text = cases.check_reply(text, self.config.max_message_chars)
        blobs = self.web.runtime.blobs
        now = self.web.runtime.now()
        # Refuse someone without access before any encryption or disk write happens.
        await self.web.run(lambda db: cases.case_for_user(db, user, case_id))
        upload = await anyio.to_thread.run_sync(lambda: cases.seal_text(blobs, text))

        def work(db: DbSession) -> str:
            case, _ = cases.case_for_user(db, user, case_id)
            source = db.get(Source, case.source_id) if case.source_id else None
            if source is None:
                raise errors.Forbidden(
                    "The source has deleted this conversation; replies are no longer possible."
                )
            item = cases.SealedItem(upload=upload, kind=ItemKind.REPLY, meta={})
            rows = cases.record_items(
                db, case, [item], now=now, author_id=user.id, source_public_key=source.public_key
            )
            cases.mark_read(db, case, user)
            # A reply acknowledges receipt if nothing had, and gives the feedback the
            # Directive asks for.
            channel = db.get(Channel, case.channel_id)
            if channel is not None:
                deadlines.give_feedback(case, channel, now)
            audit.record(
                db,
                "case.reply",
                now=now,
                actor_id=user.id,
                actor=user.username,
                case_id=case.id,
                item_id=rows[0].id,
            )
            return rows[0].id

        try:
            return await self.web.run(work)
        except BaseException:
            blobs.delete(upload.blob_id)
            raise

    async def open_download(
        self, user: User, seed: bytes | None, case_id: str, item_id: str
    ) -> cases.ItemView:
        now = self.web.runtime.now()

        def work(db: DbSession) -> cases.ItemView:
            case, wrap = cases.case_for_user(db, user, case_id)
            key = cases.case_key(case, wrap, seed)
            view = cases.item_for_download(db, case, key, item_id)
            audit.record(
                db,
                "case.download",
                now=now,
                actor_id=user.id,
                actor=user.username,
                case_id=case.id,
                item_id=view.item.id,
            )
            return view

        return await self.web.run(work)

    def download_response(self, view: cases.ItemView) -> Response:
        if view.item.kind == ItemKind.FILE:
            filename, media_type = view.filename, view.content_type
        else:
            filename, media_type = (
                f"{view.item.kind}-{view.item.position}.txt",
                "text/plain; charset=utf-8",
            )
        headers = {
            "Content-Disposition": content_disposition(filename),
            "Content-Length": str(view.size),
            "Content-Security-Policy": DOWNLOAD_CSP,
            "X-Content-Type-Options": "nosniff",
        }
        # A plain iterator: Starlette reads and decrypts each chunk in its threadpool.
        plaintext = cases.stream_item(self.web.runtime.blobs, view.item, view.data_key)
        return StreamingResponse(plaintext, media_type=media_type, headers=headers)

    async def download(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        try:
            view = await self.open_download(
                staff.user,
                staff.seed,
                request.path_params["case_id"],
                request.path_params["item_id"],
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return self.download_response(view)

    async def download_all(self, request: Request) -> Response:
        """Every item of the case in one zip, decrypted as it streams out."""
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        case_id = request.path_params["case_id"]
        seed = staff.seed

        now = self.web.runtime.now()

        def work(db: DbSession) -> tuple[str, list[cases.ItemView]]:
            case, wrap = cases.case_for_user(db, staff.user, case_id)
            key = cases.case_key(case, wrap, seed)
            views = cases.case_items(db, blobs, case, key, texts=False)
            audit.record(
                db,
                "case.download_all",
                now=now,
                actor_id=staff.user.id,
                actor=staff.user.username,
                case_id=case.id,
                items=len(views),
            )
            return case.pseudonym, views

        blobs = self.web.runtime.blobs
        try:
            pseudonym, views = await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        headers = {
            "Content-Disposition": content_disposition(f"{pseudonym}.zip"),
            "Content-Security-Policy": DOWNLOAD_CSP,
            "X-Content-Type-Options": "nosniff",
        }
        return StreamingResponse(
            case_zip(blobs, views), media_type="application/zip", headers=headers
        )

    async def delete_form(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        case_id = request.path_params["case_id"]
        try:
            case, _ = await self.web.run(lambda db: cases.case_for_user(db, staff.user, case_id))
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return await self.page(request, "staff/delete.html", {"case": case})

    async def delete(self, request: Request) -> Response:
        staff = await self.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await self.form(request, staff)
            if staff is None:
                return self.login_redirect(request)
            if fields.get("confirm") != "yes":
                raise errors.InvalidInput("Tick the box to confirm.")
            await self.delete_case(staff.user, case_id)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/", deleted=1)

    async def delete_case(self, user: User, case_id: str) -> None:
        now = self.web.runtime.now()

        def work(db: DbSession) -> list[str]:
            case, _ = cases.case_for_user(db, user, case_id)
            blob_ids = cases.delete_case(db, case)
            audit.record(
                db, "case.delete", now=now, actor_id=user.id, actor=user.username, case_id=case_id
            )
            return blob_ids

        blob_ids = await self.web.run(work)
        blobs = self.web.runtime.blobs
        await anyio.to_thread.run_sync(lambda: cases.delete_blobs(blobs, blob_ids))
