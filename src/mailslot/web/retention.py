"""Keeping a case longer than its channel's retention rule (``POST /cases/{id}/retention``).

Only a recipient holding a key to the case may do it; the reason is sealed as an internal
note, so it needs the recipient's key to be online.
"""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases import retention
from mailslot.cases import services as cases
from mailslot.channels.models import Channel
from mailslot.recipients.models import User
from mailslot.web.staff import StaffViews


class RetentionViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [Route("/cases/{case_id}/retention", self.keep, methods=["POST"])]

    async def keep_case(
        self, user: User, seed: bytes | None, case_id: str, *, until: str, reason: str
    ) -> int:
        """Shared with the API: keep the case until the end of ``until``; returns the new
        expiry. A recipient whose key is offline cannot seal the reason, so is refused."""
        blobs = self.web.runtime.blobs
        now = self.web.runtime.now()

        def work(db: DbSession) -> int:
            case, wrap = cases.case_for_user(db, user, case_id)
            cases.case_key(case, wrap, seed)  # the key must be online (raises KeyOffline)
            channel = db.get(Channel, case.channel_id)
            if channel is None:  # pragma: no cover - channels are never deleted under cases
                raise errors.NotFound("No such channel.")
            return retention.keep_until(
                db,
                blobs,
                case,
                channel,
                until=until,
                reason=reason,
                user_id=user.id,
                username=user.username,
                now=now,
            )

        return await self.web.run(work)

    async def keep(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            await self.keep_case(
                staff.user,
                staff.seed,
                case_id,
                until=fields.get("until", ""),
                reason=fields.get("reason", ""),
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, f"/cases/{case_id}", kept=1)
