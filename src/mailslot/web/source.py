"""The source interface: works completely without JavaScript (routes in ``source_routes``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mailslot import crypto, errors
from mailslot.cases import deadlines
from mailslot.cases import services as cases
from mailslot.cases.errors import ChannelClosed
from mailslot.cases.models import Case, ItemKind
from mailslot.channels import services as channels
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel
from mailslot.instance.services import get_instance
from mailslot.limits import services as limits
from mailslot.notifications import services as notices
from mailslot.sessions import services as session_services
from mailslot.sessions.services import b64, unb64
from mailslot.sources import services as sources
from mailslot.sources.codenames import CODENAME_WORDS, generate_codename
from mailslot.sources.models import Source
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

    async def _base(self, request: Request) -> dict[str, Any]:
        def work(db: DbSession) -> dict[str, Any]:
            instance = get_instance(db)
            return {
                "instance_name": instance.name,
                "guidance": instance.guidance,
                "show_submissions": instance.show_source_submissions,
                "open_channels": [
                    {"id": c.id, "name": c.name, "description": c.description}
                    for c in channels.open_channels(db)
                ],
            }

        return await self.web.run(work)

    async def _page(
        self, request: Request, template: str, context: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        base = await self._base(request)
        await self.web.session(request)
        logged_in = await self._source_id(request) is not None
        base.update(logged_in=logged_in, limits=self._limits())
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
        state = await self.web.session(request)
        if state is None:
            return None
        value = state.data.get("source_id")
        return str(value) if value else None

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
        codename = generate_codename()
        rate = self.config.new_source_rate
        try:
            self.web.check_origin(request)
            instance = await self.web.run(get_instance)
            await self.web.run(
                lambda db: limits.take(
                    db, limits.NEW_SOURCES, per_minute=rate, now=self.web.runtime.clock()
                )
            )
            keys = await self.web.kdf(lambda: sources.derive_keys(instance, codename))
        except errors.ServiceError as exc:
            return await self._error(request, "source/new_intro.html", exc)
        await self.web.start_session(
            request, {"new_lookup": b64(keys.lookup), "seed": b64(keys.key_pair.seed)}
        )
        return await self._page(
            request, "source/new.html", {"codename": codename, "words": CODENAME_WORDS}
        )

    async def submit_form(self, request: Request) -> Response:
        state = await self.web.session(request)
        if state is None:
            return self.web.redirect(request, "/login", expired=1)
        return await self._page(request, "source/submit.html")

    async def submit(self, request: Request) -> Response:
        """Store a submission. Two thread hops for a text message: the session and a rate
        token in one transaction (before the body is read); then, in the step that parses
        the last of the body, the text's blob and the rows (the blob is durable before the
        commit). A large upload's earlier batches take a hop each, as they arrive."""
        uploads: list[cases.ItemUpload] = []
        received: list[ReceivedForm] = []
        locale = self.web.locale(request)  # for a new case's automatic acknowledgement

        def complete(form: ReceivedForm) -> str:
            """Runs in the worker thread, right after the parser has seen the whole form."""
            received.append(form)
            uploads.extend(f.upload for f in form.files)
            message = form.fields.get("message", "")
            if len(message) > self.config.max_message_chars:
                raise errors.InvalidInput(
                    "The message is too long (at most %(n)s characters).",
                    n=self.config.max_message_chars,
                )
            if not message.strip() and not form.files:
                raise errors.InvalidInput("Write a message or choose at least one file to send.")
            items = [
                cases.SealedItem(
                    upload=f.upload,
                    kind=ItemKind.FILE,
                    meta={"filename": f.filename, "content_type": f.content_type},
                )
                for f in form.files
            ]
            return self._store(
                state,
                form.fields.get("channel"),
                items,
                message if message.strip() else None,
                uploads,
                locale=locale,
            )

        try:
            self.web.check_origin(request)
            rate = self.config.submission_rate
            clock = self.web.runtime.clock
            try:
                state = await self.web.session(
                    request,
                    also=(
                        (
                            lambda db, _: limits.take(
                                db, limits.SUBMISSIONS, per_minute=rate, now=clock()
                            )
                        )
                        if rate > 0
                        else None
                    ),
                )
            except errors.TooManyRequests:
                await drain(request.stream())
                raise
            if state is None:
                raise errors.AuthenticationFailed(
                    "Your session has ended. Log in with your codename and send again."
                )
            await receive_form(
                request,
                self.web.runtime.blobs,
                Limits(
                    max_file_size=self.config.max_file_size,
                    max_submission_size=self.config.max_submission_size,
                    max_files=self.config.max_files_per_submission,
                ),
                lambda token: self.web.check_csrf(state, token),
                complete,
            )
        except ClientDisconnect:
            await self._discard(uploads)
            return Response(status_code=400)
        except errors.ServiceError as exc:
            await self._discard(uploads)
            # Once the form was read, the page shows the message again, so nothing is lost.
            context = {"message": received[0].fields.get("message", "")} if received else {}
            return await self._error(request, "source/submit.html", exc, **context)
        except BaseException:
            await self._discard(uploads)
            raise
        return self.web.redirect(request, "/submitted")

    async def _discard(self, uploads: list[cases.ItemUpload]) -> None:
        blobs = self.web.runtime.blobs
        await self.web.run(lambda db: cases.delete_blobs(blobs, [u.blob_id for u in uploads]))

    def _store(
        self,
        state: Any,
        channel_id: str | None,
        items: list[cases.SealedItem],
        message: str | None,
        uploads: list[cases.ItemUpload],
        *,
        locale: str,
    ) -> str:
        """Seal ``message`` (if any) into its blob, then record every item, in one transaction
        (blocking: called from the worker thread). The blob is sealed before the first
        statement, so no database lock is held while it is written and fsynced; ``uploads``
        learns it at once, so the caller can delete it if anything after fails.

        A new case gets the channel's automatic acknowledgement in the source's language (if
        the channel has one): a reply with no author, sealed like a staff reply, which
        acknowledges receipt for the deadline (the status stays "new" for triage)."""
        now = self.web.runtime.now()
        blobs = self.web.runtime.blobs
        notify_interval = self.config.notify_interval if self.config.smtp_url else None

        def work(db: DbSession) -> str:
            ack: cases.ItemUpload | None = None
            if message is not None:
                text_upload = cases.seal_text(blobs, message)
                uploads.append(text_upload)
                items.insert(
                    0, cases.SealedItem(upload=text_upload, kind=ItemKind.MESSAGE, meta={})
                )
            source_id = state.data.get("source_id")
            case: Case | cases.CaseRef
            if source_id:
                target = cases.submission_target(db, source_id)
                if target is None:
                    raise errors.AuthenticationFailed(
                        "Your session has ended. Log in with your codename and send again."
                    )
                case, share = target.case, target.share_with_source
                # Only an instance that wraps submissions to the source needs its public key.
                key_pair = crypto.KeyPair.from_seed(unb64(state.data["seed"])) if share else None
            else:
                key_pair = crypto.KeyPair.from_seed(unb64(state.data["seed"]))
                share = get_instance(db).show_source_submissions
                lookup = unb64(state.data["new_lookup"])
                channel = self._choose_channel(db, channel_id)
                # Sealed before the first write, like the message (no lock held meanwhile).
                ack_text = channel_settings.auto_reply_for(db, channel.id, locale)
                if ack_text is not None:
                    ack = cases.seal_text(blobs, ack_text)
                    uploads.append(ack)
                source = sources.create_source(db, lookup, key_pair.public_key, now)
                source_id = source.id
                case = cases.open_case(db, channel, source.id, now)
            public_key = key_pair.public_key if share and key_pair is not None else None
            cases.record_items(db, case, items, now=now, source_public_key=public_key)
            if ack is not None and isinstance(case, Case) and key_pair is not None:
                cases.record_items(
                    db,
                    case,
                    [cases.SealedItem(upload=ack, kind=ItemKind.REPLY, meta={"auto": True})],
                    now=now,
                    source_public_key=key_pair.public_key,
                )
                deadlines.acknowledge(case, channel, now)
            if notify_interval is not None:  # mail is configured: recipients hear of it
                notices.queue_for_case(db, case.id, now=now, interval=notify_interval)
            # The session learns its source in the same commit that stores the items (a
            # returning source's session does not change, so it is not rewritten).
            if "new_lookup" in state.data or state.data.get("source_id") != str(source_id):
                state.data.pop("new_lookup", None)
                state.data["source_id"] = str(source_id)
                session_services.save(db, state)
            return str(source_id)

        return self.web.runtime.transact(work)

    @staticmethod
    def _choose_channel(db: DbSession, channel_id: str | None) -> Channel:
        open_channels = channels.open_channels(db)
        if not open_channels:
            raise ChannelClosed()
        if len(open_channels) == 1 and not channel_id:
            return open_channels[0]
        for channel in open_channels:
            if channel.id == channel_id:
                return channel
        raise errors.InvalidInput("Choose where to send your submission.")

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
            self.web.check_origin(request)
            form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
            codename = str(form.get("codename") or "")
            if not codename.strip():
                raise errors.InvalidInput("Enter your codename.")
            instance = await self.web.run(get_instance)
            # The same Argon2id work whether or not the codename exists.
            keys = await self.web.kdf(lambda: sources.derive_keys(instance, codename))
            source = await self.web.run(lambda db: sources.find_source(db, keys))
        except errors.ServiceError as exc:
            return await self._error(request, "source/login.html", exc, expired=False)
        await self.web.start_session(
            request, {"source_id": source.id, "seed": b64(keys.key_pair.seed)}
        )
        return self.web.redirect(request, "/conversation")

    async def conversation(self, request: Request) -> Response:
        state = await self.web.session(request)
        if state is None or not state.data.get("source_id"):
            return self.web.redirect(request, "/login", expired=1)
        key_pair = crypto.KeyPair.from_seed(unb64(state.data["seed"]))
        blobs = self.web.runtime.blobs

        def work(db: DbSession) -> dict[str, Any]:
            case = cases.source_case(db, state.data["source_id"])
            if case is None:
                return {"items": [], "case": None}
            return {
                "items": cases.source_view(db, blobs, key_pair, case, mark_seen=True),
                "case": case,
            }

        context = await self.web.run(work)
        return await self._page(request, "source/conversation.html", context)

    async def delete_reply(self, request: Request) -> Response:
        state = await self.web.session(request)
        try:
            self.web.check_origin(request)
            form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
            self.web.check_csrf(state, str(form.get("csrf") or ""))
            assert state is not None  # noqa: S101 - check_csrf rejects a missing session
            source_id = state.data.get("source_id")
            item_id = request.path_params["item_id"]

            def work(db: DbSession) -> None:
                case = cases.source_case(db, str(source_id)) if source_id else None
                if case is None:
                    raise errors.NotFound("This item does not exist.")
                cases.forget_reply(db, case, item_id)

            await self.web.run(work)
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
        state = await self.web.session(request)
        try:
            self.web.check_origin(request)
            form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
            self.web.check_csrf(state, str(form.get("csrf") or ""))
            assert state is not None  # noqa: S101 - check_csrf rejects a missing session
            if form.get("confirm") != "yes":
                raise errors.InvalidInput("Tick the box to confirm.")
            source_id = str(state.data.get("source_id") or "")

            def work(db: DbSession) -> None:
                source = db.get(Source, source_id)
                if source is not None:
                    sources.forget_source(db, source)

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self._error(request, "source/forget.html", exc)
        await self.web.end_session(request)
        return self.web.redirect(request, "/", forgotten=1)
