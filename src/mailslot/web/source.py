"""The source interface: works completely without JavaScript (routes in ``source_routes``).

Each view parses the request, calls one use case of :mod:`mailslot.sources`, and renders.
This module has the pages (home, codename, login, conversation, forget, quick exit) and what
they share; the send form's paths are in :mod:`mailslot.web.source_send`."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n
from mailslot.sources import access, conversation, pages, submissions
from mailslot.sources.codenames import locale_of
from mailslot.web.common import Web
from mailslot.web.errors import retry_headers

# The quick exit's default: a random Wikipedia article in the source's language (Chinese in
# the script the source reads).
_WIKIPEDIA: dict[str, str] = {
    "zh_Hans": "zh.wikipedia.org/zh-hans",
    "zh_Hant": "zh.wikipedia.org/zh-hant",
}


# The pages with the send form, and where its language buttons send it.
SUBMIT_PAGE = "source/submit.html"
_SEND_FORM_PAGES = {
    SUBMIT_PAGE: "/submit/language",
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
        if template in _SEND_FORM_PAGES and (template != SUBMIT_PAGE or base["open_channels"]):
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

    async def source_id(self, request: Request) -> str | None:
        return access.source_id(await self.web.session(request))

    async def error_page(
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
            return await self.error_page(request, "source/new_intro.html", exc)
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

    async def login_form(self, request: Request) -> Response:
        return await self._page(
            request, "source/login.html", {"expired": "expired" in request.query_params}
        )

    async def login(self, request: Request) -> Response:
        try:
            form = await self._form(request, csrf=False)
            login = await self.web.call(request, access.log_in, str(form.get("codename") or ""))
        except errors.ServiceError as exc:
            return await self.error_page(request, "source/login.html", exc, expired=False)
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

    async def delete_reply_form(self, request: Request) -> Response:
        """Deleting a reply asks first, on a page of its own."""
        if await self.source_id(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        item_id = request.path_params["item_id"]
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", item_id):
            raise HTTPException(404)
        return await self._page(request, "source/delete_reply.html", {"item_id": item_id})

    async def delete_reply(self, request: Request) -> Response:
        try:
            await self._form(request)
            source_id = await self.source_id(request)
            item_id = request.path_params["item_id"]
            await self.web.call(request, conversation.delete_reply, source_id, item_id)
        except errors.ServiceError as exc:
            return await self.error_page(request, "source/error.html", exc)
        return self.web.redirect(request, "/conversation", deleted=1)

    async def logout(self, request: Request) -> Response:
        await self.web.session(request)
        try:
            self.web.check_origin(request)
        except errors.ServiceError as exc:
            return await self.error_page(request, "source/error.html", exc)
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
        if await self.source_id(request) is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self._page(request, "source/forget.html")

    async def forget(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            if form.get("confirm") != "yes":
                raise errors.InvalidInput("Tick the box to confirm.")
            await self.web.call(request, access.forget, await self.source_id(request))
        except errors.ServiceError as exc:
            return await self.error_page(request, "source/forget.html", exc)
        await self.web.end_session(request)
        return self.web.redirect(request, "/", forgotten=1)
