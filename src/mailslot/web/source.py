"""The source interface: works completely without JavaScript (routes in ``source_routes``).

Each view parses the request, calls one use case of :mod:`mailslot.sources`, and renders."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.sources import access, conversation, pages, submissions
from mailslot.sources.codenames import CODENAME_WORDS
from mailslot.web.common import Web
from mailslot.web.errors import retry_headers
from mailslot.web.uploads import Limits, ReceivedForm, drain, receive_form

QUICK_EXIT_URL = "https://en.wikipedia.org/wiki/Special:Random"


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
            Route("/submitted", self.submitted),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/conversation", self.conversation),
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
        base = asdict(await self.web.call(request, pages.welcome))
        state = await self.web.session(request)
        base.update(logged_in=access.source_id(state) is not None, limits=self._limits())
        base.update(context or {})
        return self.web.page(request, template, base, instance_name=base["instance_name"], **kw)

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
        return await self._page(
            request, "source/home.html", {"logged_out": "bye" in request.query_params}
        )

    async def new(self, request: Request) -> Response:
        """Make a codename, derive its keys, and show it once. Only the derived keys are kept
        (in the sealed session) until the first submission creates the source."""
        if request.method == "GET":
            return await self._page(request, "source/new_intro.html")
        try:
            self.web.check_origin(request)
            new = await self.web.call(request, submissions.start)
        except errors.ServiceError as exc:
            return await self._error(request, "source/new_intro.html", exc)
        await self.web.start_session(request, new.session)
        return await self._page(
            request, "source/new.html", {"codename": new.codename, "words": CODENAME_WORDS}
        )

    async def submit_form(self, request: Request) -> Response:
        state = await self.web.session(request)
        if state is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self._page(request, "source/submit.html")

    async def submit(self, request: Request) -> Response:
        """Store a submission. Two thread hops for a text message: the session and a rate
        token in one transaction (before the body is read); then, in the step that parses
        the last of the body, the use case (the text's blob, then the rows; the blob is
        durable before the commit). A large upload's earlier batches take a hop each, as
        they arrive."""
        ctx = self.web.org(request)
        received: list[ReceivedForm] = []
        locale = self.web.locale(request)  # for a new case's automatic acknowledgement
        try:
            self.web.check_origin(request)
            try:
                state = await self.web.session(
                    request,
                    also=(
                        (lambda db, _: submissions.take_token(ctx, db))
                        if ctx.config.submission_rate > 0
                        else None
                    ),
                )
            except errors.TooManyRequests:
                await drain(request.stream())
                raise
            if state is None:
                raise errors.AuthenticationFailed(access.SESSION_ENDED)
            session = state

            def complete(form: ReceivedForm) -> str:
                """Runs in the worker thread, right after the parser has seen the whole form
                (the use case deletes every blob of the form if it refuses it or fails)."""
                received.append(form)
                channel_id, message = form.fields.get("channel"), form.fields.get("message", "")
                return submissions.submit(
                    ctx, session, channel_id, message, form.files, locale=locale
                )

            await receive_form(
                request,
                ctx.blobs,
                Limits(
                    max_file_size=self.config.max_file_size,
                    max_submission_size=self.config.max_submission_size,
                    max_files=self.config.max_files_per_submission,
                ),
                lambda token: self.web.check_csrf(session, token),
                complete,
            )
        except ClientDisconnect:
            return Response(status_code=400)
        except errors.ServiceError as exc:
            if isinstance(exc, errors.AuthenticationFailed):
                await self.web.end_session(request)  # no session, or its source is gone
            # Once the form was read, the page shows the message again, so nothing is lost.
            context = {"message": received[0].fields.get("message", "")} if received else {}
            return await self._error(request, "source/submit.html", exc, **context)
        return self.web.redirect(request, "/submitted")

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

    async def conversation(self, request: Request) -> Response:
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
        context = {"items": found.items, "case": found.case}
        return await self._page(request, "source/conversation.html", context)

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
        await self.web.end_session(request)
        return self.web.redirect(request, "/", bye=1)

    async def quick_exit(self, request: Request) -> Response:
        """Leave at once: end the session and go somewhere unremarkable."""
        await self.web.end_session(request)
        return self.web.finish(request, RedirectResponse(QUICK_EXIT_URL, 303))

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
