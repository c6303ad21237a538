"""A channel's questionnaire for sources, without JavaScript: one server-rendered page per
step with Back and Next, a progress indicator, a review page, sending. Each view parses the
request, calls one use case of :mod:`mailslot.questionnaires.intake`, and renders.

Field names in the forms are the field ids (a group's: ``id[row].child``; a date range's:
``id.start`` and ``id.end``), as ``questionnaires.answers`` reads them. A step with a file
field is sent as ``multipart/form-data`` and read by ``web/uploads.py``, which seals each
file as it arrives; the use case keeps the files in the sealed draft.
"""

from __future__ import annotations

import re
from typing import Any, Final

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.i18n import DEFAULT_LOCALE, N_
from mailslot.questionnaires import intake
from mailslot.questionnaires.answers import validate_step
from mailslot.questionnaires.files import KeptFile
from mailslot.questionnaires.limits import DEFAULT_MAX_FILES, DEFAULT_MAX_REPEATS, LONG_TEXT_MAX
from mailslot.questionnaires.logic import visible_fields
from mailslot.questionnaires.model import Field, FieldType, Label
from mailslot.questionnaires.values import FieldError
from mailslot.sessions.services import SessionState
from mailslot.sizes import human_size
from mailslot.sources import submissions
from mailslot.sources.access import SESSION_ENDED
from mailslot.web.form_receiver import Limits
from mailslot.web.source import SourceViews
from mailslot.web.uploads import ReceivedForm, receive_form

_STEP_PAGE: Final = "source/questionnaire_step.html"
_REVIEW_PAGE: Final = "source/questionnaire_review.html"
_STOP_PAGE: Final = "source/questionnaire_stop.html"
YES: Final = N_("Yes")
NO: Final = N_("No")
# A step's form: every field of a step with its group rows, each at most a long text.
_MAX_FIELDS: Final = 3000
_MAX_PART: Final = LONG_TEXT_MAX * 4
_ID: Final = re.compile(r"[^A-Za-z0-9_-]")


class QuestionnaireViews:
    def __init__(self, source: SourceViews) -> None:
        self.web = source.web
        self.config = source.config
        self.page = source.page  # the source interface's pages, with their common context

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/questionnaire/{channel_id}", self.start),
            Route("/questionnaire/{channel_id}/step/{index:int}", self.step),
            Route("/questionnaire/{channel_id}/step/{index:int}", self.answer, methods=["POST"]),
            Route("/questionnaire/{channel_id}/review", self.review),
            Route("/questionnaire/{channel_id}/review", self.send, methods=["POST"]),
        ]

    def _base(self, request: Request) -> str:
        return f"/questionnaire/{request.path_params['channel_id']}"

    async def _failed(self, request: Request, exc: errors.ServiceError) -> Response:
        if isinstance(exc, errors.AuthenticationFailed):
            return self.web.redirect(request, "/login", expired=1)
        state = await self.web.session(request)
        if state is not None and state.data.source_id:  # sent already: the conversation
            return self.web.redirect(request, "/conversation")
        response: Response = await self.page(
            request,
            "source/error.html",
            {"error": self.web.error_message(request, exc)},
            status=self.web.error_status(exc),
        )
        return response

    async def start(self, request: Request) -> Response:
        return await self._show(request, None)

    async def step(self, request: Request) -> Response:
        return await self._show(request, int(request.path_params["index"]))

    async def _show(self, request: Request, index: int | None) -> Response:
        channel_id = request.path_params["channel_id"]
        try:
            found = await self.web.call(
                request, intake.show_step, await self.web.session(request), channel_id, index
            )
        except errors.ServiceError as exc:
            return await self._failed(request, exc)
        if isinstance(found, int):
            return self.web.redirect(request, f"{self._base(request)}/step/{found}")
        return await self._step_page(request, found)

    async def _step_page(
        self, request: Request, page: intake.StepPage, status: int = 200
    ) -> Response:
        locale = self.web.locale(request)
        definition = page.stored.definition
        step = definition.steps[page.index]
        read, _ = validate_step(definition, page.index, page.raw, earlier=page.earlier)
        shown = visible_fields(step, page.earlier.merged(read.values))
        fields = [_field(f, f.id, page.raw, page.errors, locale) for f in shown]
        largest = self.config.max_file_size
        for item, view in zip(shown, fields, strict=True):
            if item.type is FieldType.FILE:
                view["max_files"] = item.max_files or DEFAULT_MAX_FILES
                view["max_size"] = human_size(min(item.max_size or largest, largest), locale)
                view["kept"] = [
                    (kept.name, human_size(kept.size, locale))
                    for kept in page.files.get(item.id, [])
                ]
        context = {
            "q_title": definition.title.text(locale, DEFAULT_LOCALE),
            "step_title": step.title.text(locale, DEFAULT_LOCALE),
            "step_description": _text(step.description, locale),
            "position": page.position,
            "total": page.total,
            "first_step": page.first,
            "fields": fields,
            "multipart": any(f.type is FieldType.FILE for f in step.fields),
            "shown": " ".join(f.id for f in shown),
            "action": f"{self._base(request)}/step/{page.index}",
            "has_errors": bool(page.errors),
        }
        return await self.page(request, _STEP_PAGE, context, status=status)

    async def answer(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        index = int(request.path_params["index"])
        locale = self.web.locale(request)
        try:
            self.web.check_origin(request)
            state = await self.web.session(request)
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                outcome = await self._answer_with_files(request, state, channel_id, index)
            else:
                form = await request.form(
                    max_files=0, max_fields=_MAX_FIELDS, max_part_size=_MAX_PART
                )
                self.web.check_csrf(state, str(form.get("csrf") or ""))
                pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
                raw, shown, back = _step_form(pairs)
                outcome = await self.web.call(
                    request,
                    intake.answer_step,
                    state,
                    channel_id,
                    index,
                    raw,
                    shown=shown,
                    back=back,
                    locale=locale,
                )
        except ClientDisconnect:
            return Response(status_code=400)
        except errors.ServiceError as exc:
            return await self._failed(request, exc)
        if outcome.page is not None:
            status = 400 if outcome.page.errors else 200
            return await self._step_page(request, outcome.page, status)
        if outcome.stop is not None:
            context = {"stop": outcome.stop, "back": f"{self._base(request)}/step/{index}"}
            return await self.page(request, _STOP_PAGE, context)
        if outcome.go == intake.REVIEW:
            return self.web.redirect(request, f"{self._base(request)}/review")
        return self.web.redirect(request, f"{self._base(request)}/step/{outcome.go}")

    async def _answer_with_files(
        self, request: Request, state: SessionState | None, channel_id: str, index: int
    ) -> intake.Outcome:
        """A step with a file field: each file sealed as it arrives, then the use case, in
        the worker thread that read the end of the form (it owns the files from then on:
        ``receive_form`` deletes them only if the form fails before)."""
        ctx = self.web.org(request)
        locale = self.web.locale(request)

        def complete(form: ReceivedForm) -> intake.Outcome:
            raw, shown, back = _step_form(form.pairs)
            received: dict[str, list[KeptFile]] = {}
            for uploaded in form.files:
                kept = KeptFile.of(uploaded.upload, uploaded.filename, uploaded.content_type)
                received.setdefault(uploaded.field, []).append(kept)
            form.files.clear()  # the use case's now: it keeps them in the draft, or deletes them
            return intake.answer_step(
                ctx,
                state,
                channel_id,
                index,
                raw,
                shown=shown,
                back=back,
                locale=locale,
                received=received,
            )

        refusal = None if state is not None else errors.AuthenticationFailed(SESSION_ENDED)
        outcome: intake.Outcome = await receive_form(
            request,
            ctx.blobs,
            Limits(
                max_file_size=self.config.max_file_size,
                max_submission_size=self.config.max_submission_size,
                max_files=self.config.max_files_per_submission,
                max_fields=_MAX_FIELDS,
            ),
            lambda token: self.web.check_csrf(state, token),
            complete,
            refusal=refusal,
        )
        return outcome

    async def review(self, request: Request) -> Response:
        return await self._review(request)

    async def _review(
        self, request: Request, error: errors.ServiceError | None = None, token: str | None = None
    ) -> Response:
        channel_id = request.path_params["channel_id"]
        locale = self.web.locale(request)
        try:
            page = await self.web.call(
                request, intake.review, await self.web.session(request), channel_id, locale=locale
            )
        except errors.ServiceError as exc:
            return await self._failed(request, exc)
        problem = intake.first_problem(page)
        if problem is not None:
            return self.web.redirect(request, f"{self._base(request)}/step/{problem}")
        if not page.answers:
            return self.web.redirect(request, self._base(request))
        context = {
            "q_title": page.stored.definition.title.text(locale, DEFAULT_LOCALE),
            "answers_text": page.text,
            "stop": page.stop,
            "back": f"{self._base(request)}/step/{page.last_step}",
            "action": f"{self._base(request)}/review",
            "send_token": submissions.send_token(token),
            "error": self.web.error_message(request, error) if error else None,
        }
        status = self.web.error_status(error) if error else 200
        return await self.page(request, _REVIEW_PAGE, context, status=status)

    async def send(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        token: str | None = None
        try:
            self.web.check_origin(request)
            form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
            state = await self.web.session(request)
            self.web.check_csrf(state, str(form.get("csrf") or ""))
            token = str(form.get("send_token") or "") or None
            await self.web.call(
                request,
                intake.send,
                state,
                channel_id,
                locale=self.web.locale(request),
                token=token,
            )
        except errors.AuthenticationFailed as exc:
            return await self._failed(request, exc)
        except errors.ServiceError as exc:
            return await self._review(request, exc, token)
        return self.web.redirect(request, "/submitted")


def _step_form(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, tuple[str, ...]], frozenset[str], bool]:
    """A step's form fields: the answers as sent, the fields the page had shown, and
    whether Back was pressed."""
    raw: dict[str, tuple[str, ...]] = {}
    control: dict[str, str] = {}
    for key, value in pairs:
        if key in ("csrf", "shown", "go"):
            control.setdefault(key, value)
        else:
            raw[key] = (*raw.get(key, ()), value)
    return raw, frozenset(control.get("shown", "").split()), control.get("go") == "back"


def _text(label: Label | None, locale: str) -> str:
    return "" if label is None else label.text(locale, DEFAULT_LOCALE)


def _html_id(key: str) -> str:
    return "q-" + _ID.sub("-", key)


def _field(
    item: Field,
    key: str,
    raw: dict[str, tuple[str, ...]],
    errors_: dict[str, FieldError],
    locale: str,
) -> dict[str, Any]:
    """What the template needs to draw one field (``key``: its name in the form)."""
    error = errors_.get(key)
    view: dict[str, Any] = {
        "key": key,
        "html_id": _html_id(key),
        "type": item.type.value,
        "label": _text(item.label, locale),
        "help": _text(item.help, locale),
        "required": item.required,
        "chosen": raw.get(key, ()),
        "value": (raw.get(key) or ("",))[0],
        "error": error.text(locale) if error is not None else "",
        "text": _text(item.text, locale),
        "max_length": item.max_length,
        "identity": item.identity,  # sealed apart, for custodians (identity on request)
        "statistics": item.statistics,  # counted in aggregate: the page says so
    }
    if item.type is FieldType.YES_NO:
        view["options"] = [("yes", YES, True), ("no", NO, True)]
    else:
        view["options"] = [(o.id, _text(o.label, locale), False) for o in item.options]
    if item.type is FieldType.DATE_RANGE:
        view["start"] = (raw.get(f"{key}.start") or ("",))[0]
        view["end"] = (raw.get(f"{key}.end") or ("",))[0]
    if item.type is FieldType.GROUP:
        prefix = f"{key}["
        used = {
            int(m[1])
            for name in raw
            if name.startswith(prefix) and (m := re.match(r"\[(\d{1,3})\]\.", name[len(key) :]))
        }
        high = item.max_repeats or DEFAULT_MAX_REPEATS
        count = min(high, max(len(used) + 1, item.min_repeats or 1))
        view["rows"] = [
            [
                _field(child, f"{key}[{row}].{child.id}", raw, errors_, locale)
                for child in item.fields
            ]
            for row in range(count)
        ]
    return view
