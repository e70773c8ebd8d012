"""The chart figures are pure functions of the analytics document: every chart gets traces from a
document with data, and the derived lines (rolling average, range percentiles) are computed right."""

from __future__ import annotations

from datetime import date
from typing import Any

from analytics.selectors import SNAPSHOT_METRICS, weighted_percentile
from dashboards import charts


def row(day: str, **values: Any) -> dict[str, Any]:
    return {"day": day, **dict.fromkeys(SNAPSHOT_METRICS, 0), **values}


def test_rolling_average_uses_calendar_days_and_skips_unbuilt_ones() -> None:
    series = [
        row("2025-01-01", tasks_completed=7),
        row("2025-01-05", tasks_completed=1),
        row("2025-01-09", tasks_completed=4),
    ]
    # On the 9th the 7-day window (3rd..9th) holds the 5th and the 9th only.
    assert charts.rolling_mean(series, "tasks_completed") == [7.0, 4.0, 2.5]


def test_weighted_percentiles_summarise_daily_percentiles() -> None:
    assert weighted_percentile([(100, 1), (200, 2), (300, 3)], 0.5) == 200
    assert weighted_percentile([(100, 1), (200, 2), (300, 3)], 0.85) == 300
    assert weighted_percentile([(None, 5), (50, 0)], 0.5) is None


def test_every_project_chart_has_traces_and_its_own_figure_id() -> None:
    series = [
        row("2025-01-01", tasks_completed=2, cycle_time_p50=3600, cycle_time_p85=7200, end_open=3),
        row("2025-01-02", tasks_completed=0, end_open=2, sla_done_breached=1, sla_done_met=1),
    ]
    report = {"series": series, "totals": {"cycle_time_p50": 3600, "cycle_time_p85": 7200}}
    figures = charts.project_charts(report)
    assert [chart["id"] for chart in figures] == [
        "cumulative-flow",
        "throughput",
        "cycle-time",
        "time-in-status",
        "sla-breaches",
        "aging",
    ]
    for chart in figures:
        assert chart["figure_id"] == f"{chart['id']}-figure"
        assert chart["figure"]["data"], chart["id"]
    cycle = figures[2]["figure"]["data"]
    assert cycle[0]["x"] == ["2025-01-01"]  # only days with completions are plotted
    assert [trace["y"] for trace in cycle[2:]] == [[0.04, 0.04], [0.08, 0.08]]  # range p50/p85 in days
    breach_rate = figures[4]["figure"]["data"][2]["y"]
    assert breach_rate == [None, 50.0]


def test_sparklines_span_the_whole_range() -> None:
    figure = charts.sparkline(
        [{"day": "2025-01-03", "completed": 2}], first_day=date(2025, 1, 1), last_day=date(2025, 1, 30)
    )
    assert figure["layout"]["xaxis"]["range"] == ["2025-01-01", "2025-01-30"]
    assert figure["config"]["staticPlot"] is True
