"""The tenant overview and the project dashboard: charts over the cached analytics documents."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils.dateparse import parse_datetime
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound

from analytics.selectors import project_report, project_sla_report, tenant_overview_report, utc_today
from dashboards import charts
from dashboards.forms import DateRangeForm
from dashboards.web_tenant import TenantPageMixin
from tracker.models import Project, Status
from tracker.selectors import get_project, task_list

DEFAULT_DAGSTER_UI_URL = "http://127.0.0.1:3000"


def _pipeline_help(*, tenant_slug: str, first_day: Any, last_day: Any) -> dict[str, str]:
    """What to run when the days on screen have not been built yet."""
    return {
        "backfill_command": (
            f"python platform/manage.py backfill_snapshots --from {first_day} --to {last_day} "
            f"--tenant {tenant_slug}"
        ),
        "dagster_url": getattr(settings, "DAGSTER_UI_URL", DEFAULT_DAGSTER_UI_URL),
    }


def quick_ranges() -> list[dict[str, Any]]:
    today = utc_today()
    return [
        {"label": label, "first": today - timedelta(days=days - 1), "last": today}
        for label, days in (("7 d", 7), ("30 d", 30), ("90 d", 90), ("1 y", 365))
    ]


class RangePageMixin(TenantPageMixin):
    """Reads the date-range control (from/to, the API's defaults and limits)."""

    def date_range(self) -> tuple[DateRangeForm, Any, Any]:
        form = DateRangeForm(self.request.GET or None)
        first, last = form.days()
        if not form.is_bound:
            form = DateRangeForm(initial={"from": first, "to": last})
        return form, first, last


class OverviewPage(RangePageMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form, first, last = self.date_range()
        report = tenant_overview_report(first_day=first, last_day=last).data
        rows = []
        for entry in report["projects"]:
            rows.append(
                {
                    **entry,
                    "chart_id": f"spark-{entry['project']['key']}",
                    "sparkline": charts.sparkline(entry["throughput"], first_day=first, last_day=last),
                    "wip_now": sum(
                        count for status, count in entry["live"]["by_status"].items() if status != "DONE"
                    ),
                }
            )
        context.update(
            nav="overview",
            range_form=form,
            quick_ranges=quick_ranges(),
            first_day=first,
            last_day=last,
            report=report,
            as_of=parse_datetime(report["as_of"]) if report["as_of"] else None,
            rows=rows,
            has_tasks=task_list().exists(),
            built_any=any(entry["days_built"] for entry in report["projects"]),
            **_pipeline_help(tenant_slug=self.web_tenant.tenant.slug, first_day=first, last_day=last),
        )
        return context


class ProjectDashboardPage(RangePageMixin, TemplateView):
    template_name = "dashboards/project_dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            project: Project = get_project(project_id=self.kwargs["project_id"])
        except NotFound as error:
            raise Http404("No such project in this tenant.") from error
        form, first, last = self.date_range()
        report = project_report(project_id=project.pk, first_day=first, last_day=last).data
        sla = project_sla_report(project_id=project.pk, first_day=first, last_day=last).data
        live = report["live"]["by_status"]
        context.update(
            nav="overview",
            project=project,
            range_form=form,
            quick_ranges=quick_ranges(),
            first_day=first,
            last_day=last,
            report=report,
            as_of=parse_datetime(report["as_of"]) if report["as_of"] else None,
            sla=sla,
            charts=charts.project_charts(report) if report["series"] else [],
            wip_now=sum(count for status, count in live.items() if status != Status.DONE),
            open_work=[
                (label, live.get(status, 0)) for status, label in Status.choices if status != Status.DONE
            ],
            has_tasks=any(live.values()) or task_list().filter(project=project).exists(),
            **_pipeline_help(tenant_slug=self.web_tenant.tenant.slug, first_day=first, last_day=last),
        )
        return context
