"""The host operator's organisation pages: the list (paged and searchable; the counts and
storage used that the registry keeps, as of when they were measured, and quotas), adding
one (its admin's setup link shown once), its state, quotas and host names, and removing it
after its slug is typed again. Each view parses the form, calls one use case of
``orgs/console.py`` and renders; an error shows the form again with what was typed."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.config import GiB, MiB
from mailslot.orgs import accounts, console, usage
from mailslot.orgs.registry import OrgRecord
from mailslot.web.operator import OperatorViews

_ORG: Final = "/orgs/{slug}"


def size_text(value: int | None) -> str:
    """A storage quota as the form shows it again: ``50GiB``, ``512MiB``, bytes, or 0."""
    if not value:
        return "0"
    for unit, name in ((GiB, "GiB"), (MiB, "MiB")):
        if value % unit == 0:
            return f"{value // unit}{name}"
    return str(value)


class OrgViews:
    def __init__(self, views: OperatorViews) -> None:
        self.views = views
        self.web = views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/orgs/new", self.add_form, methods=["GET"]),
            Route("/orgs/new", self.add, methods=["POST"]),
            Route(_ORG, self.show, methods=["GET"]),
            Route(_ORG + "/state", self.state, methods=["POST"]),
            Route(_ORG + "/quota", self.quota, methods=["POST"]),
            Route(_ORG + "/hosts", self.hosts, methods=["POST"]),
            Route(_ORG + "/remove", self.remove_form, methods=["GET"]),
            Route(_ORG + "/remove", self.remove, methods=["POST"]),
        ]

    async def index(self, request: Request) -> Response:
        """A page of the organisations (``?q=``: those whose slug, name or a host name
        contains it; ``?page=``), with the figures the registry keeps: no organisation's
        database is opened. Then the latest lines of the operator log."""
        me = await self.web.operator(request)
        if me is None:
            return self.web.redirect(request, "/login")
        search = request.query_params.get("q", "")[:253]
        number = request.query_params.get("page", "1")
        listed = await self.web.host_call(
            console.overview, me, search=search, number=int(number) if number.isdigit() else 1
        )
        events = await self.web.host_call(accounts.events)
        context = {
            "listed": listed,
            "search": search,
            "events": events,
            "command_line": accounts.COMMAND_LINE,
        }
        return await self.views.page(request, "operator/index.html", context)

    # Adding.

    async def add_form(self, request: Request) -> Response:
        if await self.web.operator(request) is None:
            return self.web.redirect(request, "/login")
        return await self.views.page(request, "operator/add.html", {"typed": {}})

    async def add(self, request: Request) -> Response:
        fields = await self.views.form(request)
        me = await self.web.operator(request)
        assert me is not None  # noqa: S101 - form() refused a request without one
        typed = {name: fields.get(name, "")[:4096] for name in ("slug", "name", "source", "staff")}
        try:
            added = await self.web.host_call(
                console.add,
                me,
                slug=typed["slug"],
                name=typed["name"],
                source_hosts=typed["source"],
                staff_hosts=typed["staff"],
            )
        except errors.ServiceError as exc:
            return await self.views.error(request, "operator/add.html", exc, typed=typed)
        return await self.views.page(request, "operator/added.html", {"added": added})

    # One organisation.

    def _context(
        self, org: OrgRecord, typed: dict[str, str], figures: usage.Figures | None = None
    ) -> dict[str, Any]:
        shown = {
            "storage": size_text(org.storage_quota),
            "cases": str(org.case_quota or 0),
            "source": "\n".join(org.source_hosts),
            "staff": "\n".join(org.staff_hosts),
        }
        return {"org": org, "figures": figures, "typed": {**shown, **typed}}

    async def show(self, request: Request) -> Response:
        me = await self.web.operator(request)
        if me is None:
            return self.web.redirect(request, "/login")
        org = await self.web.host_call(console.find, me, request.path_params["slug"])
        figures = await self.web.host_call(console.measure, me, org)
        return await self.views.page(request, "operator/org.html", self._context(org, {}, figures))

    async def _change(self, request: Request, typed_names: tuple[str, ...]) -> Response:
        """Run one of the organisation page's forms; on an error, show the page again with
        what was typed in that form."""
        fields = await self.views.form(request)
        me = await self.web.operator(request)
        assert me is not None  # noqa: S101 - form() refused a request without one
        slug = request.path_params["slug"]
        typed = {name: fields.get(name, "")[:4096] for name in typed_names}
        try:
            if "enabled" in typed:
                await self.web.host_call(console.set_enabled, me, slug, typed["enabled"] == "1")
            elif "storage" in typed:
                await self.web.host_call(
                    console.set_quota, me, slug, storage=typed["storage"], cases=typed["cases"]
                )
            else:
                await self.web.host_call(
                    console.set_hosts,
                    me,
                    slug,
                    source_hosts=typed["source"],
                    staff_hosts=typed["staff"],
                )
        except errors.ServiceError as exc:
            org = await self.web.host_call(console.find, me, slug)
            context = self._context(org, typed)
            return await self.views.error(request, "operator/org.html", exc, **context)
        return self.web.redirect(request, f"/orgs/{slug}", saved=1)

    async def state(self, request: Request) -> Response:
        return await self._change(request, ("enabled",))

    async def quota(self, request: Request) -> Response:
        return await self._change(request, ("storage", "cases"))

    async def hosts(self, request: Request) -> Response:
        return await self._change(request, ("source", "staff"))

    # Removing.

    async def remove_form(self, request: Request) -> Response:
        me = await self.web.operator(request)
        if me is None:
            return self.web.redirect(request, "/login")
        org = await self.web.host_call(console.find, me, request.path_params["slug"])
        return await self.views.page(request, "operator/remove.html", {"org": org, "typed": ""})

    async def remove(self, request: Request) -> Response:
        fields = await self.views.form(request)
        me = await self.web.operator(request)
        assert me is not None  # noqa: S101 - form() refused a request without one
        slug = request.path_params["slug"]
        typed = fields.get("confirm", "")[:64]
        try:
            await self.web.host_call(console.remove, me, slug, confirmation=typed)
        except errors.ServiceError as exc:
            org = await self.web.host_call(console.find, me, slug)
            context = {"org": org, "typed": typed}
            return await self.views.error(request, "operator/remove.html", exc, **context)
        return self.web.redirect(request, "/", removed=1)
