"""The staff interface: login, inbox, case pages, replies, downloads, deletion."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases import deletion, listing, reading, replies
from mailslot.cases import inbox as case_inbox
from mailslot.cases.models import CaseStatus
from mailslot.channels import services as channels
from mailslot.dropkeys import reading as drop_reading
from mailslot.i18n import N_
from mailslot.instance.services import display_name
from mailslot.recipients import login as staff_login
from mailslot.recipients.models import Role, User
from mailslot.sessions.data import SessionData
from mailslot.sessions.services import SessionState
from mailslot.web.common import Web
from mailslot.web.downloads import item_response, zip_response
from mailslot.web.errors import retry_headers

# A staff form sent after the session ended (it ends after some idle time): said as such,
# not as a forged form.
SESSION_ENDED = N_("Your session has ended, so this was not done. Log in again and repeat it.")
REPLY_KEPT = N_(
    "Your session had ended, so your reply was not sent. Log in again: the case opens with "
    "your reply in its box, ready to send."
)
# At most this much of a kept reply goes through the login form (a reply's own limit).
MAX_DRAFT = 100_000
# Refusals after which the case page is not shown again (no such case, or not theirs).
NO_CASE = (errors.NotFound, errors.Forbidden, errors.AuthenticationFailed)

T = TypeVar("T")


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
    return {
        Role.ADMIN.value: "/admin",
        Role.ANALYST.value: "/stats",
        Role.CUSTODIAN.value: "/identity",  # identity requests only: no cases
    }.get(user.role, "/")


def kept_draft(fields: Mapping[str, str]) -> dict[str, str]:
    """A reply kept from a session that had ended, as a login form carries it (``draft``, for
    ``draft_case``), bounded."""
    draft = fields.get("draft", "")[:MAX_DRAFT]
    return {"draft": draft, "draft_case": fields.get("draft_case", "")[:64] if draft else ""}


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
        staff = await self._load_staff(request, state)
        request.scope["mailslot.staff"] = (state, staff)
        return staff

    async def _load_staff(self, request: Request, state: SessionState | None) -> Staff | None:
        user_id = state.data.user_id if state is not None else None
        if state is None or user_id is None:
            return None
        user = await self.web.run(request, lambda db: db.get(User, user_id))
        if user is None or user.disabled:
            return None
        return Staff(user, state.data.seed, state)

    async def page(
        self, request: Request, template: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        instance_id = self.web.org(request).instance_id
        locale = self.web.locale(request)
        name = await self.web.run(request, lambda db: display_name(db, instance_id, locale))
        staff = await self.staff(request)
        failed_logins = 0
        if staff is not None and staff.state.data.failed_logins:
            # Told once, on the first page after the login.
            failed_logins, staff.state.data.failed_logins = staff.state.data.failed_logins, 0
            await self.web.save_session(request, staff.state)
        full = {
            "me": staff.user if staff else None,
            "is_admin": bool(staff and staff.is_admin),
            "is_analyst": bool(staff and staff.is_analyst),
            "failed_logins": failed_logins,
        }
        full.update(context or {})
        return self.web.page(request, template, full, instance_name=name, **kw)

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
        if csrf and staff is None:  # a same-site form, after the session ended
            raise errors.AuthenticationFailed(SESSION_ENDED)
        if csrf:
            self.web.check_csrf(staff.state if staff else None, fields.get("csrf"))
        return fields

    def login_redirect(self, request: Request) -> Response:
        return self.web.redirect(request, "/login")

    async def on_item(
        self,
        request: Request,
        use_case: Callable[..., T],
        respond: Callable[[T], Response | Awaitable[Response]],
        **options: Any,
    ) -> Response:
        """A page or file about one item of a case (``/cases/{case_id}/items/{item_id}/…``):
        ``use_case(ctx, user, seed, case_id, item_id, **options)`` for the signed-in staff
        member, its result given to ``respond``; a refusal shows the error page, and nobody
        signed in goes to the login."""
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        try:
            result = await self.web.call(
                request,
                use_case,
                staff.user,
                staff.seed,
                request.path_params["case_id"],
                request.path_params["item_id"],
                **options,
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        response = respond(result)
        return await response if inspect.isawaitable(response) else response

    # Login.

    async def login_form(self, request: Request) -> Response:
        return await self.page(request, "staff/login.html")

    async def login(self, request: Request) -> Response:
        """Log in. A failed login shows the form again with the username typed; a reply kept
        from a session that had ended (``draft``, for ``case``) goes through the login form
        and opens in its case's reply box."""
        kept: dict[str, str] = {}
        try:
            fields = await self.form(request, None, csrf=False)
            username = fields.get("username", "")[:64]
            kept = {"username": username, **kept_draft(fields)}
            result = await self.web.call(
                request,
                staff_login.log_in,
                username,
                fields.get("password", ""),
                fields.get("totp", ""),
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/login.html", exc, **kept)
        return await self.logged_in(request, result, kept["draft"], kept["draft_case"])

    async def logged_in(
        self, request: Request, result: staff_login.LoggedIn, draft: str = "", draft_case: str = ""
    ) -> Response:
        """Start the real session (a new cookie) after both factors; shared with the
        security-key login (``web/webauthn.py``). A reply kept from a session that had ended
        (``draft``, for ``draft_case``) opens in its case's reply box."""
        await self.start_staff_session(request, result)
        if draft and draft_case:
            staff = await self.staff(request)
            if staff is not None:
                return await self.show_case(request, staff, draft_case, draft)
        return self.web.redirect(request, home(result.auth.user))

    async def start_staff_session(self, request: Request, result: staff_login.LoggedIn) -> None:
        auth = result.auth
        await self.web.start_session(
            request,
            SessionData(
                user_id=auth.user.id, seed=auth.private_seed, failed_logins=result.failures
            ),
            user_id=auth.user.id,
        )

    async def logout(self, request: Request) -> Response:
        await self.web.session(request)
        try:
            self.web.check_origin(request)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        staff = await self.staff(request)
        if staff is not None:
            await self.web.call(request, staff_login.log_out, staff.user)
        await self.web.end_session(request)
        return self.web.redirect(request, "/login", bye=1)

    # Cases.

    async def inbox(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        if staff.user.role != Role.RECIPIENT.value:
            return self.web.redirect(request, home(staff.user))
        return await self.inbox_page(request, staff)

    async def inbox_page(self, request: Request, staff: Staff) -> Response:
        """The filtered, sorted, paginated inbox (cases.inbox); a bad filter is told on the
        page, with the filters as they were typed."""
        params = {k: v[:200] for k, v in request.query_params.items()}
        size = self.config.page_size
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
            context["choices"] = await self.web.call(
                request, listing.inbox_choices, staff.user, self.web.locale(request)
            )
            return await self.error(request, "staff/inbox.html", exc, **context)
        shown = await self.web.call(
            request, listing.inbox_page, staff.user, query, self.web.locale(request)
        )
        result = shown.result
        context.update(
            choices=shown.choices,
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
        return await self.show_case(request, staff, request.path_params["case_id"])

    async def show_case(
        self,
        request: Request,
        staff: Staff,
        case_id: str,
        draft: str = "",
        error: errors.ServiceError | None = None,
        *,
        note: str = "",
    ) -> Response:
        """A case's page; ``draft``: a reply kept from a session that had ended, or one that
        was refused (``error``, said above it), in its box; ``note``: a refused note, in the
        note box."""
        try:
            content = await self.web.call(
                request,
                reading.read_case,
                staff.user,
                staff.seed,
                case_id,
                locale=self.web.locale(request),
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        # The channel's name in the reader's language (the default language's if none).
        channel = content.channel
        named = {channel.id: channel.name} if channel is not None else {}
        locale = self.web.locale(request)
        shown = await self.web.run(request, lambda db: channels.names_in(db, named, locale))
        context = {
            "case": content.case,
            "items": content.items,
            "channel": channel,
            "channel_name": shown.get(channel.id, "") if channel is not None else "",
            "can_reply": content.can_reply,
            "key_offline": staff.seed is None,
            "work": content.panel,
            "expiry": content.expiry,
            "sent": "sent" in request.query_params,
            "draft": draft,
            "note_draft": note,
        }
        if error is not None:
            return await self.error(request, "staff/case.html", error, **context)
        return await self.page(request, "staff/case.html", context)

    async def reply(self, request: Request) -> Response:
        staff = await self.staff(request)
        case_id = request.path_params["case_id"]
        text: str | None = None
        try:
            if staff is None:  # the session ended while the reply was written: keep it
                fields = await self.form(request, None, csrf=False)
                kept = {"draft": fields.get("text", "")[:MAX_DRAFT], "draft_case": case_id[:64]}
                return await self.error(
                    request, "staff/login.html", errors.AuthenticationFailed(REPLY_KEPT), **kept
                )
            fields = await self.form(request, staff)
            text = fields.get("text", "")
            await self.web.call(request, replies.send_reply, staff.user, case_id, text)
        except errors.ServiceError as exc:
            # Refused on a case they may open (a quota, a rule): the case, the text kept.
            if staff is not None and text is not None and not isinstance(exc, NO_CASE):
                return await self.show_case(request, staff, case_id, draft=text, error=exc)
            return await self.error(request, "staff/error.html", exc)
        return self.web.redirect(request, f"/cases/{case_id}", sent=1)

    async def download(self, request: Request) -> Response:
        return await self.on_item(
            request,
            reading.open_item,
            lambda view: item_response(self.web.org(request).blobs, view),
        )

    async def download_all(self, request: Request) -> Response:
        """Every item of the case in one zip, decrypted as it streams out (sealed drops
        followed by what they hold)."""
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        try:
            download = await self.web.call(
                request,
                drop_reading.open_all,
                staff.user,
                staff.seed,
                request.path_params["case_id"],
            )
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return zip_response(
            self.web.org(request).blobs,
            download.pseudonym,
            download.views,
            download.drops.members,
        )

    async def delete_form(self, request: Request) -> Response:
        staff = await self.staff(request)
        if staff is None:
            return self.login_redirect(request)
        try:
            case = await self.web.call(
                request, listing.find_case, staff.user, request.path_params["case_id"]
            )
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
            await self.web.call(request, deletion.delete_case, staff.user, case_id)
        except errors.ServiceError as exc:
            return await self.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/", deleted=1)
