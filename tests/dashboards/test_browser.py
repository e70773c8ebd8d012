"""The web UI in headless chromium against a live gunicorn: sign-in, tenant switching, the dashboards'
charts, the date range, a task's lifecycle through the buttons, and the 403 page."""

from __future__ import annotations

import re

import pytest

from tests.dashboards.browser import screenshot
from tests.dashboards.conftest import WebPage
from tests.dashboards.world import WebWorld

# django_db: so pytest-django creates the test database even when only browser tests are collected.
pytestmark = [pytest.mark.browser, pytest.mark.live_server, pytest.mark.django_db]

CHART_IDS = ["cumulative-flow", "throughput", "cycle-time", "time-in-status", "sla-breaches", "aging"]


def chart_trace_counts(web: WebPage) -> dict[str, int]:
    """How many traces Plotly has drawn in each chart div (0 when the chart did not render)."""
    web.page.wait_for_function(
        "ids => ids.every(id => document.getElementById(id)?.getAttribute('data-rendered') === 'true')",
        arg=CHART_IDS,
    )
    counts: dict[str, int] = web.page.evaluate(
        "ids => Object.fromEntries(ids.map(id => [id, (document.getElementById(id).data || []).length]))",
        CHART_IDS,
    )
    return counts


def test_sign_in_lands_on_the_tenant_chooser_then_the_overview(web: WebPage, web_world: WebWorld) -> None:
    web.go("/")
    assert web.path().startswith("/accounts/login/")
    web.log_in(web_world.emails["ADMIN"])
    # Two memberships (the web tenant and alpha): choose one first.
    assert web.path().startswith("/tenants/")
    web.page.click(f"#tenant-choices button[data-tenant-slug='{web_world.tenant.slug}']")
    assert web.path().startswith("/overview/")
    assert web.page.inner_text("h1").startswith(web_world.tenant.name)
    rows = web.page.locator("#overview-table tbody tr")
    assert rows.count() == 2
    web.page.wait_for_selector(".chart-sparkline[data-rendered=true]")
    screenshot(web.page, "tenant-overview")

    # Switch to alpha from the menu, and back.
    web.page.click("#tenant-switcher")
    web.page.click(".dropdown-menu button[data-tenant-slug='alpha']")
    assert web.page.inner_text("h1").startswith("Alpha")
    assert web.page.inner_text("#current-role") == "MEMBER"
    web.page.click("#tenant-switcher")
    web.page.click(f".dropdown-menu button[data-tenant-slug='{web_world.tenant.slug}']")
    assert web.page.inner_text("h1").startswith(web_world.tenant.name)
    assert web.console.errors == []


def test_project_dashboard_renders_every_chart_and_follows_the_date_range(
    web: WebPage, web_world: WebWorld, web_sessions: dict[str, str]
) -> None:
    web.sign_in_as(web_sessions["MANAGER"])
    web.go("/overview/")
    web.page.click(f"#overview-table a[href*='{web_world.project.pk}']")
    assert web.path().startswith(f"/projects/{web_world.project.pk}/")

    counts = chart_trace_counts(web)
    assert all(count > 0 for count in counts.values()), counts
    assert "figures as of" in web.page.inner_text("#as-of")
    screenshot(web.page, "project-dashboard")

    days_before = web.page.evaluate("() => document.getElementById('throughput').data[0].x.length")
    first = web_world.last_day.fromordinal(web_world.last_day.toordinal() - 6).isoformat()
    web.page.fill("#id_from", first)
    web.page.fill("#id_to", web_world.last_day.isoformat())
    web.page.click("#range-apply")
    web.page.wait_for_url(re.compile(r"from=" + first))
    counts = chart_trace_counts(web)
    assert all(count > 0 for count in counts.values()), counts
    days_after = web.page.evaluate("() => document.getElementById('throughput').data[0].x.length")
    assert days_after == 7 < days_before
    assert f"{first} → {web_world.last_day.isoformat()}" in web.page.inner_text("#as-of")
    assert web.console.errors == []


def test_a_task_moves_through_its_lifecycle_with_the_buttons(
    web: WebPage, web_world: WebWorld, web_sessions: dict[str, str]
) -> None:
    web.sign_in_as(web_sessions["MANAGER"])
    web.go("/tasks/new/")
    web.page.select_option("#id_project", str(web_world.project.pk))
    web.page.fill("#id_title", "   ")
    web.page.click("#save-task")
    # The field error is shown next to the field, and nothing was created.
    assert web.page.inner_text(".invalid-feedback[data-field=title]") == "This field is required."
    assert web.path() == "/tasks/new/"
    web.page.fill("#id_title", "Walk the lifecycle")
    web.page.select_option("#id_priority", "HIGH")
    web.page.click("#save-task")
    assert web.page.inner_text("#task-status") == "Open"

    def buttons() -> list[str]:
        return web.page.locator("#status-buttons button[data-to]").evaluate_all(
            "nodes => nodes.map(n => n.dataset.to)"
        )

    for target, expected_after in [
        ("IN_PROGRESS", ["BLOCKED", "DONE", "OPEN"]),
        ("BLOCKED", ["IN_PROGRESS"]),
        ("IN_PROGRESS", ["BLOCKED", "DONE", "OPEN"]),
        ("DONE", ["OPEN"]),
        ("OPEN", ["IN_PROGRESS"]),
    ]:
        web.page.click(f"#status-buttons button[data-to={target}]")
        web.page.wait_for_selector(f"#task-status[data-status={target}]")
        assert buttons() == expected_after
    timeline = web.page.inner_text("#activity")
    assert timeline.count("Status changed") == 5

    web.go("/tasks/board/")
    column = web.page.locator(".board-column[data-status=OPEN]")
    assert column.get_by_text("Walk the lifecycle").count() == 1
    screenshot(web.page, "task-board")
    assert web.console.errors == []


def test_a_member_trying_a_manager_action_sees_the_403_page(
    web: WebPage, web_world: WebWorld, web_sessions: dict[str, str]
) -> None:
    web.sign_in_as(web_sessions["MEMBER"])
    web.go(f"/tasks/{web_world.member_done_task.pk}/")
    reopen = web.page.locator("#status-buttons button[data-to=OPEN]")
    assert "MANAGER" in reopen.inner_text()
    with web.page.expect_response(lambda response: "/status/" in response.url) as answer:
        reopen.click()
    assert answer.value.status == 403
    assert "403" in web.page.inner_text("#forbidden")
    assert "MANAGER" in web.page.inner_text("#forbidden")
    # The task did not move.
    web.go(f"/tasks/{web_world.member_done_task.pk}/")
    assert web.page.inner_text("#task-status") == "Done"
