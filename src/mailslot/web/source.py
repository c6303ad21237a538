"""The source interface: works completely without JavaScript (routes in ``source_routes``).

Each view parses the request, calls one use case of :mod:`mailslot.sources`, and renders."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n
from mailslot.channels.choice import MAX_CHOOSABLE
from mailslot.i18n import N_
from mailslot.sources import access, conversation, pages, submissions
from mailslot.sources.codenames import locale_of
from mailslot.web.common import Web
from mailslot.web.errors import CsrfError, retry_headers
from mailslot.web.uploads import MAX_FIELDS, Limits, ReceivedForm, receive_form

log = logging.getLogger("mailslot.web")

# Why a send failed, when the page shows the form again with what was typed.
SESSION_ENDED_WHILE_WRITING = N_(
    "Your session ended, so nothing was sent. What you wrote is below: enter your codename "
    "and press Send to log in again and send it."
)
NEW_CODENAME = N_(
    "Your session ended before anything was sent, so the codename you were shown was never "
    "used and does not work. Here is a new codename: write it down, then press Send. What "
    "you wrote is below."
)
LOGGED_IN_AGAIN = N_("You are logged in again. Choose your files again, then press Send.")
FORM_EXPIRED = N_(
    "This form had expired, so nothing was sent. What you wrote is below: press Send again."
)
SERVER_ERROR = N_(
    "Something went wrong on our side, so nothing was sent. What you wrote is below: try "
    "again in a moment."
)

# The quick exit's default: a random Wikipedia article in the source's language (Chinese in
# the script the source reads).
_WIKIPEDIA: dict[str, str] = {
    "zh_Hans": "zh.wikipedia.org/zh-hans",
    "zh_Hant": "zh.wikipedia.org/zh-hant",
}


# The pages with the send form, and where its language buttons send it.
_SUBMIT_PAGE = "source/submit.html"
_SEND_FORM_PAGES = {
    _SUBMIT_PAGE: "/submit/language",
    "source/conversation.html": "/conversation/language",
}


def quick_exit_url(configured: str, locale: str) -> str:
    """Where the quick exit leads for ``locale``: the configured URL with ``{lang}`` filled
    in, or a random Wikipedia article in that language."""
    if configured:
        return configured.replace("{lang}", i18n.language(locale).tag)
    site = _WIKIPEDIA.get(locale, f"{i18n.language(locale).tag}.wikipedia.org/wiki")
    return f"https://{site}/Special:Random"


class SourceViews:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.config = web.runtime.config

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.home),
            Route("/new", self.new, methods=["GET", "POST"]),
            Route("/submit", self.submit_form),
            Route("/submit", self.submit, methods=["POST"]),
            Route("/submit/language", self.switch_language, methods=["POST"]),
            Route("/conversation/language", self.switch_language, methods=["POST"]),
            Route("/submitted", self.submitted),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/conversation", self.conversation),
            Route("/replies/{item_id}/delete", self.delete_reply_form),
            Route("/replies/{item_id}/delete", self.delete_reply, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/exit", self.quick_exit),
            Route("/forget", self.forget_form),
            Route("/forget", self.forget, methods=["POST"]),
        ]

    # Shared pieces.

    async def _page(
        self, request: Request, template: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        base = asdict(await self.web.call(request, pages.welcome, self.web.locale(request)))
        state = await self.web.session(request)
        base.update(logged_in=access.source_id(state) is not None, limits=self._limits())
        base.update(context or {})
        if template in _SEND_FORM_PAGES and (template != _SUBMIT_PAGE or base["open_channels"]):
            base.setdefault("lang_form", _SEND_FORM_PAGES[template])
        if template in _SEND_FORM_PAGES:
            # The send form's token (one submission however often it is sent), and how long
            # the session lasts without a page loaded.
            base.setdefault("send_token", submissions.new_send_token())
            base.setdefault("session_minutes", self.web.idle // 60)
            # Sent before the first submission: if the session ends, the codename is lost.
            base.setdefault("first", not base["logged_in"])
        return self.web.page(request, template, base, instance_name=base["instance_name"], **kw)

    async def page(
        self, request: Request, template: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        """A page of this interface; ``web/app.py`` renders the error pages with it."""
        return await self._page(request, template, context, **kw)

    def _limits(self) -> dict[str, int]:
        return {
            "file": self.config.max_file_size,
            "submission": self.config.max_submission_size,
            "files": self.config.max_files_per_submission,
            "message": self.config.max_message_chars,
        }

    async def _source_id(self, request: Request) -> str | None:
        return access.source_id(await self.web.session(request))

    async def _error(
        self, request: Request, template: str, error: errors.ServiceError, **context: Any
    ) -> Response:
        response = await self._page(
            request,
            template,
            dict(context, error=self.web.error_message(request, error)),
            status=self.web.error_status(error),
        )
        response.headers.update(retry_headers(error))
        return response

    async def _form(self, request: Request, *, csrf: bool = True) -> FormData:
        """A small urlencoded form, after the origin check (and the CSRF token's, if asked)."""
        self.web.check_origin(request)
        form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
        if csrf:
            self.web.check_csrf(await self.web.session(request), str(form.get("csrf") or ""))
        return form

    # Pages.

    async def home(self, request: Request) -> Response:
        logged_out = "bye" in request.query_params
        if logged_out:  # in the language of the logout's ?lang=, which is not kept
            self.web.forget_locale(request)
        return await self._page(request, "source/home.html", {"logged_out": logged_out})

    async def new(self, request: Request) -> Response:
        """Make a codename in the source's language, derive its keys, and show it. The sealed
        session keeps the derived keys, and the codename itself until the first submission
        creates the source, so that this page (``GET /new``, in another language, say)
        shows the same codename again rather than a new one. So does ``POST /new`` (the
        browser's Back, resending the form), which never silently replaces the codename and
        keys of a first session; a source that has sent already goes to the conversation."""
        state = await self.web.session(request)
        if state is not None and access.source_id(state):
            return self.web.redirect(request, "/conversation")
        if state is not None and state.data.codename:
            return await self._codename_page(request, state.data.codename)
        if request.method == "GET":
            return await self._page(request, "source/new_intro.html")
        try:
            self.web.check_origin(request)
            locale = self.web.locale(request)
            new = await self.web.call(request, submissions.start, locale=locale)
        except errors.ServiceError as exc:
            return await self._error(request, "source/new_intro.html", exc)
        await self.web.start_session(request, new.session)
        return await self._codename_page(request, new.codename)

    async def _codename_page(self, request: Request, codename: str) -> Response:
        words = codename.replace("\u3000", " ").split(" ")
        context = {
            "codename": codename,
            "words": len(words),
            "codename_lang": i18n.language(locale_of(codename)).tag,
        }
        return await self._page(request, "source/new.html", context)

    async def submit_form(self, request: Request) -> Response:
        state = await self.web.session(request)
        if state is None:
            return self.web.redirect(request, "/login", expired=1)
        if not access.source_id(state):  # a new source, and one channel that asks questions
            locale = self.web.locale(request)
            choices = (await self.web.call(request, pages.welcome, locale)).open_channels
            if len(choices) == 1 and choices[0].questionnaire:
                return self.web.redirect(request, f"/questionnaire/{choices[0].id}")
        return await self._page(request, "source/submit.html")

    async def submit(self, request: Request) -> Response:
        """Store a submission. Two thread hops for a text message: the session and a rate
        token in one transaction (before the body is read); then, in the step that parses
        the last of the body, the use case (the text's blob, then the rows; the blob is
        durable before the commit). A large upload's earlier batches take a hop each, as
        they arrive.

        A send that fails, however it fails, shows the form again holding what was typed
        (``_send_failed``): a form refused before or while it is read (no session, a rate
        limit, a stale CSRF token, a file over a limit) is still read for its text, storing
        nothing."""
        ctx = self.web.org(request)
        received: list[ReceivedForm] = []
        locale = self.web.locale(request)  # for a new case's automatic acknowledgement
        try:
            self.web.check_origin(request)
            refusal: errors.ServiceError | None = None
            try:
                state = await self.web.session(
                    request,
                    also=(
                        (lambda db, _: submissions.take_token(ctx, db))
                        if ctx.config.submission_rate > 0
                        else None
                    ),
                )
            except errors.TooManyRequests as exc:
                state, refusal = await self.web.session(request), exc
            if state is None:
                refusal = refusal or errors.AuthenticationFailed(access.SESSION_ENDED)
            session = state

            def complete(form: ReceivedForm) -> str:
                """Runs in the worker thread, right after the parser has seen the whole form
                (the use case deletes every blob of the form if it refuses it or fails)."""
                received.append(form)
                assert session is not None  # noqa: S101 - else the form was refused
                fields = form.fields
                return submissions.submit(
                    ctx,
                    session,
                    fields.get("channel"),
                    fields.get("message", ""),
                    form.files,
                    locale=locale,
                    token=fields.get("send_token"),
                    chosen=_chosen(form),
                    identity=fields.get("identity", ""),
                )

            await receive_form(
                request,
                ctx.blobs,
                Limits(
                    max_file_size=self.config.max_file_size,
                    max_submission_size=self.config.max_submission_size,
                    max_files=self.config.max_files_per_submission,
                    max_fields=MAX_FIELDS + MAX_CHOOSABLE,  # a checkbox per recipient
                ),
                lambda token: self.web.check_csrf(session, token),
                complete,
                refusal=refusal,
                on_refusal=received.append,
            )
        except ClientDisconnect:
            return Response(status_code=400)
        except errors.ServiceError as exc:
            return await self._send_failed(request, exc, received[0] if received else None)
        except Exception as exc:  # a server error: what was typed is shown all the same
            if not received:
                raise
            log.error("internal error: %s", type(exc).__name__)  # the type only, as app.py
            return await self._send_failed(request, None, received[0])
        return self.web.redirect(request, "/submitted")

    async def _send_failed(
        self, request: Request, error: errors.ServiceError | None, form: ReceivedForm | None
    ) -> Response:
        """Nothing was sent: the send form again, holding what was typed (the files named,
        to choose again), and why. ``error`` None: a server error. A send whose session had
        ended starts a new one: a first-time source gets a new codename (the one shown before
        was never used, since nothing was sent), a returning source can log in again with
        the codename in the same form (and a text-only send then goes through at once)."""
        fields = form.fields if form is not None else {}
        typed: dict[str, Any] = {
            "message": fields.get("message", ""),  # all of it, even past the limit
            "chosen_channel": fields.get("channel", ""),
            "send_token": submissions.send_token(fields.get("send_token")),
            "files_to_choose": form.chosen if form is not None else [],
            "first": bool(fields.get("first")),
            "identity": fields.get("identity", ""),
            "chosen_recipients": _chosen(form) if form is not None else None,
        }
        status = self.web.error_status(error) if error is not None else 500
        if isinstance(error, errors.AuthenticationFailed):
            await self.web.end_session(request)  # no session, or its source is gone
            if fields.get("first"):
                return await self._new_codename_instead(request, typed)
            if fields.get("codename"):
                return await self._log_in_and_send(request, fields, typed)
            typed["relogin"] = True
            error = errors.AuthenticationFailed(SESSION_ENDED_WHILE_WRITING)
        elif isinstance(error, CsrfError) and form is not None:  # same-site: a stale form
            error = errors.Forbidden(FORM_EXPIRED)
        elif error is None:
            error = errors.ServiceError(SERVER_ERROR)
        response = await self._page(
            request,
            _SUBMIT_PAGE,
            dict(typed, error=self.web.error_message(request, error)),
            status=status,
        )
        response.headers.update(retry_headers(error))
        return response

    async def _new_codename_instead(self, request: Request, typed: dict[str, Any]) -> Response:
        """A first-time source's session ended before the first send: the codename shown
        then opens nothing, so a new one is made and shown with the form, still filled in."""
        try:
            new = await self.web.call(request, submissions.start, locale=self.web.locale(request))
        except errors.ServiceError as exc:
            return await self._error(request, _SUBMIT_PAGE, exc, **typed)
        await self.web.start_session(request, new.session)
        typed.update(
            new_codename=new.codename, codename_lang=i18n.language(locale_of(new.codename)).tag
        )
        error = self.web.error_message(request, errors.AuthenticationFailed(NEW_CODENAME))
        return await self._page(request, _SUBMIT_PAGE, dict(typed, error=error), status=401)

    async def _log_in_and_send(
        self, request: Request, fields: dict[str, str], typed: dict[str, Any]
    ) -> Response:
        """A returning source whose session had ended sent the form again with the codename:
        log in, then send the text at once; files must be chosen again first."""
        try:
            login = await self.web.call(request, access.log_in, fields["codename"])
        except errors.ServiceError as exc:
            return await self._error(request, _SUBMIT_PAGE, exc, relogin=True, **typed)
        state = await self.web.start_session(request, login.session)
        if not typed["files_to_choose"]:
            locale = self.web.locale(request)
            try:
                await self.web.call(
                    request,
                    submissions.submit,
                    state,
                    fields.get("channel"),
                    fields.get("message", ""),
                    [],
                    locale=locale,
                    token=fields.get("send_token"),
                )
            except errors.ServiceError as exc:
                return await self._error(request, _SUBMIT_PAGE, exc, **typed)
            return self.web.redirect(request, "/submitted")
        notice = self.web.gettext(request, LOGGED_IN_AGAIN)
        return await self._page(request, _SUBMIT_PAGE, dict(typed, notice=notice))

    async def submitted(self, request: Request) -> Response:
        if await self._source_id(request) is None:
            return self.web.redirect(request, "/")
        return await self._page(request, "source/submitted.html")

    async def login_form(self, request: Request) -> Response:
        return await self._page(
            request, "source/login.html", {"expired": "expired" in request.query_params}
        )

    async def login(self, request: Request) -> Response:
        try:
            form = await self._form(request, csrf=False)
            login = await self.web.call(request, access.log_in, str(form.get("codename") or ""))
        except errors.ServiceError as exc:
            return await self._error(request, "source/login.html", exc, expired=False)
        await self.web.start_session(request, login.session)
        return self.web.redirect(request, "/conversation")

    async def conversation(self, request: Request, typed: dict[str, Any] | None = None) -> Response:
        """The conversation; ``typed``: what the send form held, shown again in it."""
        state = await self.web.session(request)
        source_id = access.source_id(state)
        if state is None or source_id is None:
            return self.web.redirect(request, "/login", expired=1)
        try:
            found = await self.web.call(request, conversation.read, source_id, state.data.seed)
        except errors.AuthenticationFailed:
            # Its source is gone (deleted or purged): the session has ended.
            await self.web.end_session(request)
            return self.web.redirect(request, "/login", expired=1)
        context = {"items": found.items, "case": found.case, **(typed or {})}
        return await self._page(request, "source/conversation.html", context)

    async def switch_language(self, request: Request) -> Response:
        """The send form's language buttons (``formaction`` here, and sent urlencoded, so no
        file's content comes along): the same page in the chosen language, holding what was
        typed. A browser never lets a page fill in a file input: the page says to choose
        the files again."""
        try:
            self.web.check_origin(request)
            form = await request.form(
                max_files=0,
                max_fields=16 + self.config.max_files_per_submission,
                # Percent-encoded UTF-8: at most 12 bytes a character.
                max_part_size=12 * self.config.max_message_chars + 1024,
            )
            self.web.check_csrf(await self.web.session(request), str(form.get("csrf") or ""))
        except errors.ServiceError as exc:
            return await self._error(request, "source/error.html", exc)
        chosen = i18n.supported(str(form.get("lang") or ""))
        if chosen is not None:
            self.web.choose_locale(request, chosen)
        typed: dict[str, Any] = {
            "message": str(form.get("message") or "")[: self.config.max_message_chars],
            "chosen_channel": str(form.get("channel") or ""),
            # A urlencoded form sends each chosen file's name, never its content.
            "files_to_choose": [str(name) for name in form.getlist("files") if name][
                : self.config.max_files_per_submission
            ],
            "send_token": submissions.send_token(str(form.get("send_token") or "")),
            "first": bool(form.get("first")),
        }
        if request.url.path.startswith("/conversation"):
            return await self.conversation(request, typed)
        if await self.web.session(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self._page(request, "source/submit.html", typed)

    async def delete_reply_form(self, request: Request) -> Response:
        """Deleting a reply asks first, on a page of its own."""
        if await self._source_id(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        item_id = request.path_params["item_id"]
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", item_id):
            raise HTTPException(404)
        return await self._page(request, "source/delete_reply.html", {"item_id": item_id})

    async def delete_reply(self, request: Request) -> Response:
        try:
            await self._form(request)
            source_id = await self._source_id(request)
            item_id = request.path_params["item_id"]
            await self.web.call(request, conversation.delete_reply, source_id, item_id)
        except errors.ServiceError as exc:
            return await self._error(request, "source/error.html", exc)
        return self.web.redirect(request, "/conversation", deleted=1)

    async def logout(self, request: Request) -> Response:
        await self.web.session(request)
        try:
            self.web.check_origin(request)
        except errors.ServiceError as exc:
            return await self._error(request, "source/error.html", exc)
        # The page after it stays in the source's language, but the choice is not kept.
        chosen = self.web.chosen_locale(request)
        await self.web.end_session(request)
        self.web.forget_locale(request)
        return self.web.redirect(request, "/", bye=1, lang=self._lang_param(chosen))

    async def quick_exit(self, request: Request) -> Response:
        """Leave at once: end the session, forget the language, and go somewhere
        unremarkable, in the source's language: where the organisation's admins chose, else
        the install's choice, else a random Wikipedia article."""
        try:
            chosen = await self.web.call(request, pages.quick_exit_url)
        except Exception:  # leaving must work even when the database does not answer
            chosen = ""
        target = quick_exit_url(chosen or self.config.quick_exit_url, self.web.locale(request))
        await self.web.end_session(request)
        self.web.forget_locale(request)
        return self.web.finish(request, RedirectResponse(target, 303))

    @staticmethod
    def _lang_param(locale: str | None) -> str | None:
        return i18n.language(locale).tag if locale is not None else None

    async def forget_form(self, request: Request) -> Response:
        if await self._source_id(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self._page(request, "source/forget.html")

    async def forget(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            if form.get("confirm") != "yes":
                raise errors.InvalidInput("Tick the box to confirm.")
            await self.web.call(request, access.forget, await self._source_id(request))
        except errors.ServiceError as exc:
            return await self._error(request, "source/forget.html", exc)
        await self.web.end_session(request)
        return self.web.redirect(request, "/", forgotten=1)


def _chosen(form: ReceivedForm) -> set[str] | None:
    """The recipients a new source left ticked, if the form offered the choice."""
    if not form.fields.get("choosing"):
        return None
    return {value for name, value in form.pairs if name == "recipient"}
