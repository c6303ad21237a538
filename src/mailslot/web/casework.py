"""Staff pages for case work: status, labels, assignees, the important flag, internal notes
and who has access. One form post per action, each answered with a redirect back to the case
page; the services are in :mod:`mailslot.cases.work`."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases import services as cases
from mailslot.cases import work
from mailslot.cases.models import Case, CaseKeyWrap
from mailslot.recipients.models import Role
from mailslot.storage import BlobStore
from mailslot.web.staff import Staff, StaffViews


async def forget_blobs(blobs: BlobStore, blob_ids: list[str]) -> None:
    """Delete the blobs of a unit of work that failed (shared with the API)."""
    if blob_ids:
        await anyio.to_thread.run_sync(lambda: cases.delete_blobs(blobs, blob_ids))


# What each action says on the case page afterwards (``?done=...``; the template words it).
DONE = ("status", "important", "label", "assignee", "note", "access", "revoked")


class CaseWork:
    """One action's inputs, handed to the service call in the database thread."""

    def __init__(
        self,
        staff: Staff,
        fields: dict[str, str],
        path: dict[str, str],
        now: int,
    ) -> None:
        self.staff = staff
        self.fields = fields
        self.path = path
        self.now = now
        # Blobs a note wrote: deleted if the unit of work fails, so none is left orphaned.
        self.written: list[str] = []

    @property
    def user_id(self) -> str:
        return self.path.get("user_id") or self.fields.get("user_id", "")


Action = Callable[[DbSession, Case, CaseKeyWrap, CaseWork], str | None]


class CaseWorkViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        actions: list[tuple[str, Action]] = [
            ("/cases/{case_id}/status", self.status),
            ("/cases/{case_id}/important", self.important),
            ("/cases/{case_id}/labels", self.add_label),
            ("/cases/{case_id}/labels/{label_id}/remove", self.remove_label),
            ("/cases/{case_id}/assignees", self.assign),
            ("/cases/{case_id}/assignees/{user_id}/remove", self.unassign),
            ("/cases/{case_id}/notes", self.note),
            ("/cases/{case_id}/access", self.grant),
            ("/cases/{case_id}/access/{user_id}/revoke", self.revoke),
        ]
        return [Route(path, self.endpoint(action), methods=["POST"]) for path, action in actions]

    def endpoint(self, action: Action) -> Callable[[Request], object]:
        async def handle(request: Request) -> Response:
            return await self.act(request, action)

        return handle

    async def act(self, request: Request, action: Action) -> Response:
        """CSRF and origin first, then the signed-in recipient, then the case (only someone
        holding its key may act; admins and analysts never), then the action, all in one
        unit of work with its audit event."""
        views = self.staff_views
        staff = await views.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await views.form(request, staff)
            if staff is None:
                return views.login_redirect(request)
            if staff.user.role != Role.RECIPIENT.value:
                raise errors.Forbidden("Only recipients work on cases.")
            context = CaseWork(staff, fields, dict(request.path_params), self.web.runtime.now())

            def unit(db: DbSession) -> str | None:
                case, wrap = cases.case_for_user(db, staff.user, case_id)
                return action(db, case, wrap, context)

            try:
                done = await self.web.run(unit)
            except BaseException:
                await forget_blobs(self.web.runtime.blobs, context.written)
                raise
        except errors.ServiceError as exc:
            return await views.error(request, "staff/error.html", exc)
        if done == "revoked-self":
            return self.web.redirect(request, "/", revoked=1)
        return self.web.redirect(request, f"/cases/{case_id}", done=done)

    # The actions (each runs in the database thread).

    def status(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        choice = c.fields.get("status", "")
        status, _, custom = choice.partition(":")
        work.set_status(
            db,
            self.web.runtime.blobs,
            case,
            c.staff.user,
            status=status or None,
            custom_status_id=custom or None,
            reason=c.fields.get("reason", ""),
            now=c.now,
            written=c.written,
        )
        return "status"

    def important(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.set_important(db, case, c.staff.user, c.fields.get("important") == "1", now=c.now)
        return "important"

    def add_label(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.add_label(db, case, c.staff.user, c.fields.get("name", ""), now=c.now)
        return "label"

    def remove_label(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.remove_label(db, case, c.staff.user, c.path["label_id"], now=c.now)
        return "label"

    def assign(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.assign(db, case, c.staff.user, c.user_id, now=c.now)
        return "assignee"

    def unassign(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.unassign(db, case, c.staff.user, c.user_id, now=c.now)
        return "assignee"

    def note(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.write_note(
            db,
            self.web.runtime.blobs,
            case,
            c.staff.user,
            c.fields.get("text", ""),
            now=c.now,
            written=c.written,
        )
        return "note"

    def grant(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.grant(
            db,
            case,
            wrap,
            c.staff.user,
            granter_seed=c.staff.seed,
            user_id=c.user_id,
            now=c.now,
        )
        return "access"

    def revoke(self, db: DbSession, case: Case, wrap: CaseKeyWrap, c: CaseWork) -> str:
        work.revoke(db, case, c.staff.user, c.user_id, now=c.now)
        return "revoked-self" if c.user_id == c.staff.user.id else "revoked"
