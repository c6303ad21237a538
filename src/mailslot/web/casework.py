"""Staff pages for case work: status, labels, assignees, the important flag, internal notes
and who has access. One form post per action, each answered with a redirect back to the case
page; the use cases are in :mod:`mailslot.cases.actions`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases import actions
from mailslot.web.staff import NO_CASE, Staff, StaffViews

# What each action says on the case page afterwards (``?done=...``; the template words it).
DONE = ("status", "important", "label", "assignee", "note", "access", "revoked")

# One action: the request, the signed-in recipient, the case id and the posted fields;
# returns the ``done`` word (or ``revoked-self``).
Action = Callable[[Request, Staff, str, dict[str, str]], Awaitable[str]]


def _user_id(request: Request, fields: dict[str, str]) -> str:
    return str(request.path_params.get("user_id") or fields.get("user_id", ""))


class CaseWorkViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, Action]] = [
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
        return [Route(path, self.endpoint(action), methods=["POST"]) for path, action in table]

    def endpoint(self, action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self.act(request, action)

        return handle

    async def act(self, request: Request, action: Action) -> Response:
        """CSRF and origin first, then the signed-in recipient, then the action (a use case
        that finds the case among those the recipient holds a key to)."""
        views = self.staff_views
        staff = await views.staff(request)
        case_id = request.path_params["case_id"]
        fields: dict[str, str] | None = None
        try:
            fields = await views.form(request, staff)
            if staff is None:
                return views.login_redirect(request)
            done = await action(request, staff, case_id, fields)
        except errors.ServiceError as exc:
            # A note refused on a case they may open (the storage quota): the case page with
            # the error and the note still in its box, as a refused reply keeps its text.
            refused_note = action == self.note and not isinstance(exc, NO_CASE)
            if refused_note and staff is not None and fields is not None:
                note = fields.get("text", "")
                return await views.show_case(request, staff, case_id, error=exc, note=note)
            return await views.error(request, "staff/error.html", exc)
        if done == "revoked-self":
            return self.web.redirect(request, "/", revoked=1)
        return self.web.redirect(request, f"/cases/{case_id}", done=done)

    # The actions.

    async def status(self, request: Request, staff: Staff, case_id: str, f: dict[str, str]) -> str:
        status, _, custom = f.get("status", "").partition(":")
        await self.web.call(
            request,
            actions.set_status,
            staff.user,
            case_id,
            status=status or None,
            custom_status_id=custom or None,
            reason=f.get("reason", ""),
        )
        return "status"

    async def important(
        self, request: Request, staff: Staff, case_id: str, f: dict[str, str]
    ) -> str:
        important = f.get("important") == "1"
        await self.web.call(request, actions.set_important, staff.user, case_id, important)
        return "important"

    async def add_label(
        self, request: Request, staff: Staff, case_id: str, f: dict[str, str]
    ) -> str:
        await self.web.call(request, actions.add_label, staff.user, case_id, f.get("name", ""))
        return "label"

    async def remove_label(
        self, request: Request, staff: Staff, case_id: str, f: dict[str, str]
    ) -> str:
        label_id = request.path_params["label_id"]
        await self.web.call(request, actions.remove_label, staff.user, case_id, label_id)
        return "label"

    async def assign(self, request: Request, staff: Staff, case_id: str, f: dict[str, str]) -> str:
        user_id = _user_id(request, f)
        await self.web.call(request, actions.assign, staff.user, case_id, user_id)
        return "assignee"

    async def unassign(
        self, request: Request, staff: Staff, case_id: str, f: dict[str, str]
    ) -> str:
        user_id = _user_id(request, f)
        await self.web.call(request, actions.unassign, staff.user, case_id, user_id)
        return "assignee"

    async def note(self, request: Request, staff: Staff, case_id: str, f: dict[str, str]) -> str:
        await self.web.call(request, actions.write_note, staff.user, case_id, f.get("text", ""))
        return "note"

    async def grant(self, request: Request, staff: Staff, case_id: str, f: dict[str, str]) -> str:
        user_id = _user_id(request, f)
        await self.web.call(request, actions.grant_access, staff.user, staff.seed, case_id, user_id)
        return "access"

    async def revoke(self, request: Request, staff: Staff, case_id: str, f: dict[str, str]) -> str:
        user_id = _user_id(request, f)
        await self.web.call(request, actions.revoke_access, staff.user, case_id, user_id)
        return "revoked-self" if user_id == staff.user.id else "revoked"
