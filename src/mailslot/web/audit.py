"""The admin page of the audit trail (``/admin/audit``): filter by actor, action, case and
day, newest first, paged. A plain GET form, so it works without JavaScript."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.audit import services as audit
from mailslot.audit import trail
from mailslot.web.staff import StaffViews

DAY = 86400


def _day(text: str) -> int | None:
    """A ``YYYY-MM-DD`` form field as the first second of that day (UTC)."""
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidInput(
            "Dates must be written like %(example)s.", example="2026-01-31"
        ) from None
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp())


def _detail_text(detail: str) -> str:
    """``key=value`` pairs for the table (the canonical JSON is for machines)."""
    try:
        fields: dict[str, Any] = json.loads(detail)
    except ValueError:
        return detail
    return ", ".join(
        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items()
    )


class AuditViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [Route("/admin/audit", self.audit_page)]

    async def audit_page(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.web.redirect(request, "/login")
        if not staff.is_admin:
            return await self.staff_views.error(
                request, "staff/error.html", errors.Forbidden("Only administrators can do this.")
            )
        query = request.query_params
        form = {
            name: query.get(name, "").strip()[:64]
            for name in ("actor", "action", "case_id", "from", "to")
        }
        try:
            page = max(1, min(int(query.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        size = self.web.org(request).config.page_size
        try:
            end = _day(form["to"])
            filters = audit.Filters(
                actor=form["actor"] or None,
                action=form["action"] or None,
                case_id=form["case_id"] or None,
                start=_day(form["from"]),
                end=end + DAY if end is not None else None,
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(
                request, "staff/audit.html", exc, **self._empty(form)
            )

        found = await self.web.call(
            request,
            trail.browse,
            staff.user,
            filters,
            limit=size,
            offset=(page - 1) * size,
            with_actions=True,
        )
        context: dict[str, Any] = {
            "events": [(e, _detail_text(e.detail)) for e in found.events],
            "total": found.total,
            "actions": found.actions,
        }
        context.update(
            form=form,
            page=page,
            pages=max(1, math.ceil(context["total"] / size)),
            query={k: v for k, v in form.items() if v},
        )
        return await self.staff_views.page(request, "staff/audit.html", context)

    @staticmethod
    def _empty(form: dict[str, str]) -> dict[str, Any]:
        return {
            "events": [],
            "total": 0,
            "actions": [],
            "form": form,
            "page": 1,
            "pages": 1,
            "query": {},
        }
