"""The admins' questionnaire builder, without JavaScript (routes under
``/admin/channels/{channel_id}/questionnaire``).

The page keeps no state on the server: the draft is JSON in a hidden field of each of its
forms (which carry the CSRF token), read in full again on every post. Each button names one
edit of :mod:`mailslot.questionnaires.builder`; an edit the parser refuses shows the page
again with the error next to the control and what was typed kept. Publishing stores the
draft as the channel's new version (``store.set_definition``, audited); export downloads the
draft's JSON, import reads a JSON file into the draft.
"""

from __future__ import annotations

import json
from typing import Any, Final

from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n
from mailslot.channels import services as channels
from mailslot.i18n import DEFAULT_LOCALE
from mailslot.instance import texts
from mailslot.questionnaires import builder, store
from mailslot.questionnaires.canonical import to_data
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.limits import DEFAULT_MAX_FILES
from mailslot.questionnaires.model import Definition, FieldType
from mailslot.questionnaires.templates import TEMPLATES
from mailslot.sizes import human_size
from mailslot.web.admin import AdminViews
from mailslot.web.downloads import file_response
from mailslot.web.questionnaire import _field as source_field
from mailslot.web.questionnaire_builder_forms import (
    posted_texts,
    read_forms,
    read_rules,
    rules_view,
    steps_view,
)
from mailslot.web.staff import SESSION_ENDED, Staff

_PAGE: Final = "admin/questionnaire_builder.html"
_FIELD_TYPES: Final = tuple(kind.value for kind in FieldType)
# The controls of the builder's one form: about 15 a field, in a few languages.
_MAX_CONTROLS: Final = 20000


class QuestionnaireBuilderViews:
    def __init__(self, admin_views: AdminViews) -> None:
        self.admin_views = admin_views
        self.staff_views = admin_views.staff_views
        self.web = admin_views.web

    def routes(self) -> list[BaseRoute]:
        base = "/admin/channels/{channel_id}/questionnaire"
        return [
            Route(base, self.show),
            Route(base, self.edit, methods=["POST"]),
            Route(base + "/import", self.import_file, methods=["POST"]),
        ]

    def _path(self, channel_id: str) -> str:
        return f"/admin/channels/{channel_id}/questionnaire"

    async def show(self, request: Request) -> Response:
        staff = await self.admin_views.admin(request)
        if staff is None:
            return await self.admin_views.refuse(request)
        channel_id = request.path_params["channel_id"]
        try:
            context = await self._context(request, channel_id)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        draft = context["current"]
        context["published"] = "published" in request.query_params
        return await self._page(request, context, draft, ())

    async def edit(self, request: Request) -> Response:
        """One form holds the whole draft: every button saves what was typed, then does
        what it names (``action``, with the step and field it is about: ``field_up:0:2``)."""
        channel_id = request.path_params["channel_id"]
        try:
            staff, form = await self._post(request, max_files=0)
            fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
            context = await self._context(request, channel_id)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        languages = self._languages(fields.get("languages", ""), context["default_locale"])
        action, *where = fields.get("action", "").split(":")
        if action == "start":
            try:
                draft = builder.start(fields.get("template", ""), _locales(languages))
            except QuestionnaireError as exc:
                return await self._error(request, context, None, languages, exc)
            return await self._page(request, context, draft, languages)
        try:
            draft = builder.read_draft(fields.get("draft", ""))
        except QuestionnaireError as exc:
            return await self._error(request, context, None, languages, exc)
        try:
            titles, steps = read_forms(draft, fields, languages)
            descriptions = posted_texts(fields, "description_", languages)
            draft = builder.save_all(draft, titles, steps, descriptions)
            draft = builder.set_rules(draft, read_rules(draft, fields, languages))
        except QuestionnaireError as exc:
            step, index, control = builder.locate(exc)
            context["error_at"] = {"step": step, "index": index, "control": control}
            context["error_at"]["rule"] = builder.rule_at(exc)
            context["submitted"] = fields
            return await self._error(request, context, draft, languages, exc)
        try:
            if action == "export":
                body = json.dumps(to_data(draft), ensure_ascii=False, indent=2) + "\n"
                return file_response("questionnaire.json", body.encode(), "application/json")
            if action == "publish":
                await self.web.call(request, store.set_definition, staff.user, channel_id, draft)
                return self.web.redirect(request, self._path(channel_id), published=1)
            if action == "language":
                chosen = i18n.supported(fields.get("language"))
                if chosen is not None:
                    languages = self._languages(
                        ",".join((*languages, i18n.language(chosen).tag)), ""
                    )
            elif action == "preview":
                context["preview"] = self._preview(request, draft)
            elif action != "save":
                draft = _apply(draft, action, where, fields, _locales(languages))
        except errors.ServiceError as exc:
            return await self._error(request, context, draft, languages, exc)
        return await self._page(request, context, draft, languages)

    async def _post(self, request: Request, *, max_files: int) -> tuple[Staff, FormData]:
        """The builder's form (larger than the others: every control of the draft), CSRF
        first, then only administrators."""
        self.web.check_origin(request)
        staff = await self.staff_views.staff(request)
        if staff is None:  # refused before its (large) form is read
            raise errors.AuthenticationFailed(SESSION_ENDED)
        form = await request.form(
            max_files=max_files, max_fields=_MAX_CONTROLS, max_part_size=store.MAX_FILE_BYTES
        )
        token = form.get("csrf")
        self.web.check_csrf(staff.state, token if isinstance(token, str) else None)
        if not staff.is_admin:
            raise errors.Forbidden("Only administrators can do this.")
        return staff, form

    async def import_file(self, request: Request) -> Response:
        """A JSON file read into the draft (not published until the admin says so)."""
        channel_id = request.path_params["channel_id"]
        try:
            _, form = await self._post(request, max_files=1)
            context = await self._context(request, channel_id)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        posted = form.get("languages")
        languages = self._languages(
            posted if isinstance(posted, str) else "", context["default_locale"]
        )
        upload = form.get("file")
        try:  # at most one byte more than a file may have, so that a larger one is refused
            limit = store.MAX_FILE_BYTES + 1
            data = b"" if upload is None or isinstance(upload, str) else await upload.read(limit)
        finally:
            await form.close()
        try:
            draft = store.parse_file(data)
        except errors.ServiceError as exc:
            context["error_at"] = {"control": "import"}
            return await self._error(request, context, _kept(form.get("draft")), languages, exc)
        return await self._page(request, context, draft, languages)

    # Pages.

    async def _context(self, request: Request, channel_id: str) -> dict[str, Any]:
        def work(db: DbSession) -> dict[str, Any]:
            channel = channels.get_channel(db, channel_id)
            stored = store.current(db, channel.id)
            return {
                "channel": channel,
                "current": None if stored is None else stored.definition,
                # where an answer may route the case (by name)
                "channel_names": [item.name for item in channels.list_channels(db)],
                "version": None if stored is None else stored.ref.version,
                "default_locale": texts.default_locale(db),
            }

        return await self.web.run(request, work)

    def _languages(self, posted: str, default_locale: str) -> tuple[str, ...]:
        """The language tags the forms show: those posted (known ones), else the default
        language's and English."""
        known = {i18n.language(code).tag for code in i18n.SUPPORTED_LOCALES}
        chosen = [tag for tag in posted.split(",") if tag in known]
        if default_locale:
            chosen = [i18n.language(default_locale).tag, "en", *chosen]
        return tuple(dict.fromkeys(chosen)) or ("en",)

    async def _page(
        self,
        request: Request,
        context: dict[str, Any],
        draft: Definition | None,
        languages: tuple[str, ...],
        status: int = 200,
    ) -> Response:
        if not languages:
            languages = self._languages("", context["default_locale"])
        context |= {
            "draft": draft,
            "draft_json": "" if draft is None else builder.draft_text(draft),
            "languages": languages,
            "language_names": {
                i18n.language(code).tag: i18n.display_name(code) for code in i18n.SUPPORTED_LOCALES
            },
            "templates": TEMPLATES,
            "field_types": _FIELD_TYPES,
            "operators": builder.OPERATORS,
            "action": self._path(context["channel"].id),
            "identity_offered": True,  # the preview shows the notice sources see with one
        }
        context["error_at"] = {
            "step": None,
            "index": None,
            "control": "",
            "rule": None,
        } | context.get("error_at", {})
        context.setdefault("submitted", {})
        context.setdefault("published", False)
        context.setdefault("preview", None)
        if draft is not None:
            context["steps"] = steps_view(draft, languages, context)
            context["rules"] = rules_view(draft, languages, context)
            context["rule_fields"] = builder.testable_ids(draft)
        error = context.pop("error", None)
        if error is not None:
            return await self.staff_views.error(request, _PAGE, error, **context)
        return await self.staff_views.page(request, _PAGE, context, status=status)

    async def _error(
        self,
        request: Request,
        context: dict[str, Any],
        draft: Definition | None,
        languages: tuple[str, ...],
        exc: errors.ServiceError,
    ) -> Response:
        context["error"] = exc
        return await self._page(request, context, draft, languages)

    def _preview(self, request: Request, draft: Definition) -> list[dict[str, Any]]:
        """Every step as a source sees it (with every field shown, whatever its condition)."""
        locale = self.web.locale(request)
        largest = self.staff_views.config.max_file_size
        steps = []
        for step in draft.steps:
            fields = []
            for item in step.fields:
                view = source_field(item, item.id, {}, {}, locale)
                if item.type is FieldType.FILE:
                    view["kept"] = []
                    view["max_files"] = item.max_files or DEFAULT_MAX_FILES
                    view["max_size"] = human_size(min(item.max_size or largest, largest), locale)
                fields.append(view)
            steps.append({"title": step.title.text(locale, DEFAULT_LOCALE), "fields": fields})
        return steps


def _kept(posted: object) -> Definition | None:
    """The draft an import form carried, shown again when the file is refused."""
    try:
        return builder.read_draft(posted) if isinstance(posted, str) and posted else None
    except QuestionnaireError:
        return None


def _locales(tags: tuple[str, ...]) -> tuple[str, ...]:
    by_tag = {i18n.language(code).tag: code for code in i18n.SUPPORTED_LOCALES}
    return tuple(by_tag[tag] for tag in tags if tag in by_tag)


def _apply(
    draft: Definition,
    action: str,
    where: list[str],
    fields: dict[str, str],
    locales: tuple[str, ...],
) -> Definition:
    """The edit a button names, on the draft: ``add_step``, ``add_rule``; ``rule_remove``
    with a rule; ``add_field``, ``step_up``,
    ``step_down``, ``step_remove`` with a step; ``field_up``, ``field_down``,
    ``field_remove``, ``add_child`` with a step and a field; ``child_up``, ``child_down``,
    ``child_remove`` with a step, a group and one of its fields."""
    try:
        place = [int(number) for number in where]
    except ValueError:
        place = []
    if action == "add_step":
        return builder.add_step(draft, locales)
    if action == "add_rule":
        return builder.add_rule(draft, locales)
    if action == "rule_remove" and len(place) == 1:
        return builder.remove_rule(draft, place[0])
    if len(place) == 1:
        step = place[0]
        if action == "add_field":
            return builder.add_field(draft, step, fields.get(f"s{step}_type", ""), locales)
        if action in {"step_up", "step_down"}:
            return builder.move_step(draft, step, -1 if action == "step_up" else 1)
        if action == "step_remove":
            return builder.remove_step(draft, step)
    if len(place) == 2:
        step, index = place
        if action in {"field_up", "field_down"}:
            return builder.move_field(draft, step, index, -1 if action == "field_up" else 1)
        if action == "field_remove":
            return builder.remove_field(draft, step, index)
        if action == "add_child":
            kind = fields.get(f"s{step}f{index}_ctype", "")
            return builder.add_child(draft, step, index, kind, locales)
    if len(place) == 3:
        step, index, child = place
        if action in {"child_up", "child_down"}:
            by = -1 if action == "child_up" else 1
            return builder.move_child(draft, step, index, child, by)
        if action == "child_remove":
            return builder.remove_child(draft, step, index, child)
    raise errors.InvalidInput("The form was not complete.")
