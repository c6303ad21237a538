"""The source's send form, which never loses what was typed: the submit page and its POST,
the language buttons that keep the form filled in, and every way a send can fail (a session
that ended, a stale form, a refusal, a server error) showing the form again with the text.

The pages it renders through are :class:`mailslot.web.source.SourceViews`'.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n, logs
from mailslot.channels.choice import MAX_CHOOSABLE
from mailslot.i18n import N_
from mailslot.sources import access, pages, submissions
from mailslot.sources.codenames import locale_of
from mailslot.web.errors import CsrfError, retry_headers
from mailslot.web.form_receiver import MAX_FIELDS, Limits
from mailslot.web.source import SUBMIT_PAGE, SourceViews
from mailslot.web.uploads import ReceivedForm, receive_form

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


class SourceSendViews:
    def __init__(self, source: SourceViews) -> None:
        self.source = source
        self.web = source.web
        self.config = source.config

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/submit", self.submit_form),
            Route("/submit", self.submit, methods=["POST"]),
            Route("/submit/language", self.switch_language, methods=["POST"]),
            Route("/conversation/language", self.switch_language, methods=["POST"]),
            Route("/submitted", self.submitted),
        ]

    async def submit_form(self, request: Request) -> Response:
        state = await self.web.session(request)
        if state is None:
            return self.web.redirect(request, "/login", expired=1)
        if not access.source_id(state):  # a new source, and one channel that asks questions
            locale = self.web.locale(request)
            choices = (await self.web.call(request, pages.welcome, locale)).open_channels
            if len(choices) == 1 and choices[0].questionnaire:
                return self.web.redirect(request, f"/questionnaire/{choices[0].id}")
        return await self.source.page(request, "source/submit.html")

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
            log.error("internal error: %s", logs.kind(exc))  # the type only, as app.py
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
        response = await self.source.page(
            request,
            SUBMIT_PAGE,
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
            return await self.source.error_page(request, SUBMIT_PAGE, exc, **typed)
        await self.web.start_session(request, new.session)
        typed.update(
            new_codename=new.codename, codename_lang=i18n.language(locale_of(new.codename)).tag
        )
        error = self.web.error_message(request, errors.AuthenticationFailed(NEW_CODENAME))
        return await self.source.page(request, SUBMIT_PAGE, dict(typed, error=error), status=401)

    async def _log_in_and_send(
        self, request: Request, fields: dict[str, str], typed: dict[str, Any]
    ) -> Response:
        """A returning source whose session had ended sent the form again with the codename:
        log in, then send the text at once; files must be chosen again first."""
        try:
            login = await self.web.call(request, access.log_in, fields["codename"])
        except errors.ServiceError as exc:
            return await self.source.error_page(request, SUBMIT_PAGE, exc, relogin=True, **typed)
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
                return await self.source.error_page(request, SUBMIT_PAGE, exc, **typed)
            return self.web.redirect(request, "/submitted")
        notice = self.web.gettext(request, LOGGED_IN_AGAIN)
        return await self.source.page(request, SUBMIT_PAGE, dict(typed, notice=notice))

    async def submitted(self, request: Request) -> Response:
        if await self.source.source_id(request) is None:
            return self.web.redirect(request, "/")
        return await self.source.page(request, "source/submitted.html")

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
            return await self.source.error_page(request, "source/error.html", exc)
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
            return await self.source.conversation(request, typed)
        if await self.web.session(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self.source.page(request, "source/submit.html", typed)


def _chosen(form: ReceivedForm) -> set[str] | None:
    """The recipients a new source left ticked, if the form offered the choice."""
    if not form.fields.get("choosing"):
        return None
    return {value for name, value in form.pairs if name == "recipient"}
