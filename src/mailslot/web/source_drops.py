"""Sealed drops on the source interface, without JavaScript: ``/keys`` (the drop keys and
how to check them), ``/keys.json`` (the signed manifest chain), ``/keys/card`` (a printable
drop card per channel), ``/drop/how`` (sealing a file, step by step, in the source's
language) and ``/drop`` (a courier's upload: no codename, no reply). Each view parses, calls
one use case of :mod:`mailslot.dropkeys`, and renders."""

from __future__ import annotations

import logging

from markupsafe import Markup
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.dropkeys import card, courier, pages
from mailslot.web.form_receiver import Limits
from mailslot.web.source import SourceViews
from mailslot.web.uploads import ReceivedForm, receive_form

log = logging.getLogger("mailslot.web")


class SourceDropViews:
    def __init__(self, source: SourceViews) -> None:
        self.source = source
        self.web = source.web
        self.config = source.config

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/keys", self.keys),
            Route("/keys.json", self.keys_json),
            Route("/keys/card", self.keys_card),
            Route("/drop/how", self.drop_how),
            Route("/drop", self.drop_form),
            Route("/drop", self.drop, methods=["POST"]),
            Route("/dropped", self.dropped),
        ]

    async def keys(self, request: Request) -> Response:
        published = await self.web.call(request, pages.published)
        return await self.source.page(request, "source/keys.html", {"published": published})

    async def keys_json(self, request: Request) -> Response:
        chain = await self.web.call(request, pages.chain_file)
        if chain is None:
            return Response(status_code=404)
        return self.web.finish(
            request,
            Response(
                chain,
                media_type="application/json",
                headers={"Content-Disposition": 'inline; filename="keys.json"'},
            ),
        )

    async def keys_card(self, request: Request) -> Response:
        """Printable drop cards, in the page's language and the organisation's."""
        locale = self.web.locale(request)
        try:
            cards = await self.web.call(
                request, card.drop_cards, [locale], str(request.base_url), with_organisation=True
            )
        except errors.NotFound:
            return await self.source.page(request, "source/keys_card.html", {}, status=404)
        # The QR codes are SVG drawn here from the published recipient strings, no input.
        drawn = [(c, Markup(c.qr_svg())) for c in cards]  # noqa: S704 - see above
        return await self.source.page(request, "source/keys_card.html", {"cards": drawn})

    async def drop_how(self, request: Request) -> Response:
        return await self.source.page(request, "source/drop_how.html")

    async def drop_form(self, request: Request) -> Response:
        return await self.source.page(request, "source/drop.html")

    async def drop(self, request: Request) -> Response:
        """Store a courier's sealed files in a new case. There is no session, so no CSRF
        token: the origin check refuses a cross-site post, and a forged one could only send
        what its maker could send here anyway."""
        ctx = self.web.org(request)
        received: list[ReceivedForm] = []
        try:
            self.web.check_origin(request)

            def complete(form: ReceivedForm) -> str:
                received.append(form)
                return courier.deliver(ctx, form.fields.get("channel"), form.files)

            await receive_form(
                request,
                ctx.blobs,
                Limits(
                    max_file_size=self.config.max_file_size,
                    max_submission_size=self.config.max_submission_size,
                    max_files=self.config.max_files_per_submission,
                ),
                lambda _token: None,
                complete,
                on_refusal=received.append,
            )
        except ClientDisconnect:
            return Response(status_code=400)
        except errors.ServiceError as exc:
            chosen = received[0].fields.get("channel", "") if received else ""
            return await self.source.page(
                request,
                "source/drop.html",
                {"error": self.web.error_message(request, exc), "chosen_channel": chosen},
                status=self.web.error_status(exc),
            )
        return self.web.redirect(request, "/dropped")

    async def dropped(self, request: Request) -> Response:
        return await self.source.page(request, "source/dropped.html")
