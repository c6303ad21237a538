"""The statistics dashboard (``/stats``) and its CSV export (``/stats.csv``): for
administrators and analysts, never for recipients; aggregates only, small counts hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, formats
from mailslot.i18n import DEFAULT_LOCALE, N_, language
from mailslot.stats import reports
from mailslot.stats import services as stats
from mailslot.stats.charts import Bar, bar_chart
from mailslot.web.downloads import content_disposition
from mailslot.web.staff import Staff, StaffViews

HIDDEN = N_("hidden")
NO_ANSWER = N_("No answer")
STATUS_LABELS = {
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "closed": N_("Closed"),
}
MEASURE_LABELS = {
    "acknowledge": N_("Acknowledgement"),
    "feedback": N_("Feedback"),
    "close": N_("Closing"),
}


class StatsViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/stats", self.dashboard),
            Route("/stats.csv", self.export),
        ]

    async def viewer(self, request: Request) -> Staff | Response:
        """The signed-in admin or analyst; anyone else is sent to log in or refused."""
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        try:
            stats.require_viewer(staff.user)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return staff

    async def dashboard(self, request: Request) -> Response:
        staff = await self.viewer(request)
        if isinstance(staff, Response):
            return staff
        params = request.query_params
        form = {key: params.get(key, "") for key in ("from", "to", "channel")}
        try:
            params = request.query_params
            found = await self.web.call(
                request,
                reports.report,
                staff.user,
                params.get("from"),
                params.get("to"),
                params.get("channel"),
                locale=self.web.locale(request),
            )
        except errors.ServiceError as exc:
            channel_list = await self.web.call(
                request, reports.channel_choices, self.web.locale(request)
            )
            return await self.staff_views.error(
                request, "staff/stats.html", exc, stats=None, form=form, channels=channel_list
            )
        figures, channel_list = found.figures, found.channels
        chosen = figures.selection
        form = {
            "from": str(chosen.first),
            "to": str(chosen.last),
            "channel": chosen.channel_id or "",
        }
        query = {key: value for key, value in form.items() if value}
        context = {
            "stats": figures,
            "form": form,
            "channels": channel_list,
            "charts": self.charts(request, figures),
            "csv_url": self.web.url(request, "/stats.csv", **query),
            "status_labels": {k: self.web.gettext(request, v) for k, v in STATUS_LABELS.items()},
            "measure_labels": {k: self.web.gettext(request, v) for k, v in MEASURE_LABELS.items()},
            "hidden": self.web.gettext(request, HIDDEN),
            "answers": self.answers(request, found),
        }
        return await self.staff_views.page(request, "staff/stats.html", context)

    def answers(self, request: Request, found: reports.Report) -> list[dict[str, Any]]:
        """The counted questions of the questionnaires, labelled in the reader's language."""
        locale = self.web.locale(request)
        names = {channel.id: channel.name for channel in found.channels}
        no_answer = self.web.gettext(request, NO_ANSWER)
        shown = []
        for question in found.answers:
            field = question.counts.field
            label = field.label.text(locale, DEFAULT_LOCALE) if field.label else field.id
            rows = [
                (c.label.text(locale, DEFAULT_LOCALE) if c.label else (c.option or no_answer), c)
                for c in question.counts.counts
            ]
            if field.type.value == "yes_no":
                words = {"yes": N_("Yes"), "no": N_("No")}
                rows = [
                    (self.web.gettext(request, words[c.option]) if c.option in words else t, c)
                    for t, c in rows
                ]
            shown.append(
                {
                    "channel": names.get(question.channel_id, question.channel_id),
                    "version": question.version,
                    "question": label,
                    "total": question.counts.total,
                    "rows": [(text, c.count) for text, c in rows],
                }
            )
        return shown

    def charts(self, request: Request, figures: stats.Stats) -> dict[str, Markup]:
        def _(message: str, **params: Any) -> str:
            return self.web.gettext(request, message, **params)

        hidden = _(HIDDEN)

        def count_bars(cells: list[stats.Cell], label: Callable[[stats.Cell], str]) -> list[Bar]:
            return [
                Bar(
                    label(cell),
                    cell.count.value,
                    hidden if cell.count.value is None else str(cell.count.value),
                )
                for cell in cells
            ]

        cases = _("Cases")
        times = []
        for d in figures.durations:
            measure = _(MEASURE_LABELS[d.measure])
            for name, value in ((_("median"), d.median_days), (_("90%"), d.p90_days)):
                times.append(
                    Bar(
                        f"{measure}, {name}",
                        value,
                        _("withheld")
                        if value is None
                        else formats.format_days(self.web.locale(request), value),
                    )
                )
        return {
            "months": bar_chart(
                title=_("Cases opened per month"),
                bars=count_bars(figures.months, lambda c: c.label),
                axis_label=cases,
            ),
            "statuses": bar_chart(
                title=_("Cases per status"),
                bars=count_bars(figures.statuses, lambda c: _(STATUS_LABELS[c.key])),
                axis_label=cases,
            ),
            "channels": bar_chart(
                title=_("Cases per channel"),
                bars=count_bars(figures.channels, lambda c: c.label),
                axis_label=cases,
            ),
            "times": bar_chart(
                title=_("Time to acknowledge, give feedback and close (days)"),
                bars=times,
                axis_label=_("Days"),
            ),
        }

    async def export(self, request: Request) -> Response:
        """The same figures as CSV (``section,item,value``); the export is audited."""
        staff = await self.viewer(request)
        if isinstance(staff, Response):
            return staff
        try:
            params = request.query_params
            export = await self.web.call(
                request,
                reports.export_csv,
                staff.user,
                params.get("from"),
                params.get("to"),
                params.get("channel"),
                locale=self.web.locale(request),
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        headers = {
            "Content-Disposition": content_disposition(export.filename),
            # The channels are named in the reader's language, as on the dashboard.
            "Content-Language": language(self.web.locale(request)).tag,
        }
        return Response(export.text, media_type="text/csv; charset=utf-8", headers=headers)
