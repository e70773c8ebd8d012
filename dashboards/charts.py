"""Plotly figures (plain dicts: data, layout, config) from the analytics documents.

Pure functions of the documents that `analytics.selectors` builds and caches, so the dashboards show the
same numbers as /api/v1/analytics. The page embeds each figure as JSON; static/dashboards/charts.js draws it.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

Figure = dict[str, Any]

DAY_SECONDS = 86_400
ROLLING_DAYS = 7
STATUS_COLOURS = {
    "OPEN": "#6c757d",
    "IN_PROGRESS": "#0d6efd",
    "BLOCKED": "#dc3545",
    "DONE": "#198754",
}
STATUS_LABELS = {"OPEN": "Open", "IN_PROGRESS": "In progress", "BLOCKED": "Blocked", "DONE": "Done"}


def _days(value: int | None) -> float | None:
    return None if value is None else round(value / DAY_SECONDS, 2)


def _figure(data: list[dict[str, Any]], **layout: Any) -> Figure:
    return {"data": data, "layout": {"hovermode": "x unified", **layout}}


def _column(series: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return [row[name] for row in series]


def cumulative_flow(series: Sequence[dict[str, Any]]) -> Figure:
    """Tasks in each status at the end of each day, stacked with DONE at the bottom."""
    days = _column(series, "day")
    columns = {
        "DONE": "end_done",
        "BLOCKED": "end_blocked",
        "IN_PROGRESS": "end_in_progress",
        "OPEN": "end_open",
    }
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "flow",
            "name": STATUS_LABELS[status],
            "x": days,
            "y": _column(series, column),
            "line": {"width": 0.5, "color": STATUS_COLOURS[status]},
        }
        for status, column in columns.items()
    ]
    return _figure(data, yaxis={"title": {"text": "tasks"}, "rangemode": "tozero"})


def rolling_mean(series: Sequence[dict[str, Any]], name: str, window: int = ROLLING_DAYS) -> list[float]:
    """Mean of `name` over the `window` calendar days ending on each row's day (unbuilt days skipped)."""
    values = [(date.fromisoformat(row["day"]), row[name] or 0) for row in series]
    result = []
    for day, _ in values:
        start = day - timedelta(days=window - 1)
        inside = [value for other, value in values if start <= other <= day]
        result.append(round(sum(inside) / len(inside), 2))
    return result


def throughput(series: Sequence[dict[str, Any]]) -> Figure:
    days = _column(series, "day")
    data = [
        {
            "type": "bar",
            "name": "Completed",
            "x": days,
            "y": _column(series, "tasks_completed"),
            "marker": {"color": STATUS_COLOURS["DONE"]},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"{ROLLING_DAYS}-day average",
            "x": days,
            "y": rolling_mean(series, "tasks_completed"),
            "line": {"color": "#212529", "width": 2},
        },
    ]
    return _figure(data, yaxis={"title": {"text": "tasks / day"}, "rangemode": "tozero"})


def cycle_time(series: Sequence[dict[str, Any]], totals: dict[str, Any]) -> Figure:
    """Each day's p50 and p85 cycle time (marker size: tasks completed), with the range's p50/p85 lines."""
    done_days = [row for row in series if row["tasks_completed"] and row["cycle_time_p50"] is not None]
    days = _column(done_days, "day")
    sizes = [min(28, 6 + 2 * row["tasks_completed"]) for row in done_days]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "p50 of the day",
            "x": days,
            "y": [_days(row["cycle_time_p50"]) for row in done_days],
            "marker": {"size": sizes, "color": "#0d6efd", "opacity": 0.7},
            "customdata": _column(done_days, "tasks_completed"),
            "hovertemplate": "%{y} days (%{customdata} completed)<extra>p50</extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "p85 of the day",
            "x": days,
            "y": [_days(row["cycle_time_p85"]) for row in done_days],
            "marker": {"size": 7, "color": "#fd7e14", "symbol": "diamond", "opacity": 0.7},
        },
    ]
    if series:
        span = [series[0]["day"], series[-1]["day"]]
        for percent, colour in (("p50", "#0d6efd"), ("p85", "#fd7e14")):
            value = _days(totals.get(f"cycle_time_{percent}"))
            if value is not None:
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": f"{percent} over the range ({value} d)",
                        "x": span,
                        "y": [value, value],
                        "line": {"dash": "dash", "color": colour, "width": 1.5},
                    }
                )
    return _figure(data, hovermode="closest", yaxis={"title": {"text": "days"}, "rangemode": "tozero"})


def time_in_status(series: Sequence[dict[str, Any]]) -> Figure:
    """Hours all of the project's tasks spent in each status, per day."""
    days = _column(series, "day")
    columns = {
        "OPEN": "time_open_seconds",
        "IN_PROGRESS": "time_in_progress_seconds",
        "BLOCKED": "time_blocked_seconds",
    }
    data = [
        {
            "type": "bar",
            "name": STATUS_LABELS[status],
            "x": days,
            "y": [round((row[column] or 0) / 3600, 1) for row in series],
            "marker": {"color": STATUS_COLOURS[status]},
        }
        for status, column in columns.items()
    ]
    return _figure(data, barmode="stack", yaxis={"title": {"text": "task-hours"}, "rangemode": "tozero"})


def _breach_rate(row: dict[str, Any]) -> float | None:
    breached = row["sla_start_breached"] + row["sla_done_breached"]
    measured = breached + row["sla_start_met"] + row["sla_done_met"]
    return round(100 * breached / measured, 1) if measured else None


def sla_breaches(series: Sequence[dict[str, Any]]) -> Figure:
    """Tasks over an SLA target at the end of each day (bars) and the day's breach rate (line, right axis)."""
    days = _column(series, "day")
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "Time to start breached",
            "x": days,
            "y": _column(series, "sla_start_breached"),
            "marker": {"color": "#fd7e14"},
        },
        {
            "type": "bar",
            "name": "Time to done breached",
            "x": days,
            "y": _column(series, "sla_done_breached"),
            "marker": {"color": "#dc3545"},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Breach rate %",
            "x": days,
            "y": [_breach_rate(row) for row in series],
            "yaxis": "y2",
            "line": {"color": "#212529"},
            "connectgaps": True,
        },
    ]
    return _figure(
        data,
        barmode="stack",
        yaxis={"title": {"text": "tasks"}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "%"}, "overlaying": "y", "side": "right", "range": [0, 100]},
    )


def aging(series: Sequence[dict[str, Any]]) -> Figure:
    """Age (since creation) of the work not done at the end of each day: p50, p85 and the oldest."""
    days = _column(series, "day")
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": label,
            "x": days,
            "y": [_days(row[column]) for row in series],
            "line": {"color": colour, "dash": dash},
        }
        for label, column, colour, dash in (
            ("p50 age", "open_age_p50", "#0d6efd", "solid"),
            ("p85 age", "open_age_p85", "#fd7e14", "solid"),
            ("oldest", "open_age_max", "#dc3545", "dot"),
        )
    ]
    return _figure(data, yaxis={"title": {"text": "days"}, "rangemode": "tozero"})


def project_charts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The project dashboard's charts, in page order: id, title, a sentence on how to read it, figure."""
    series = report["series"]
    charts = [
        {
            "id": "cumulative-flow",
            "title": "Cumulative flow",
            "help": "Tasks in each status at the end of each day. A widening band is work piling up.",
            "figure": cumulative_flow(series),
        },
        {
            "id": "throughput",
            "title": "Throughput",
            "help": f"Tasks completed per day, with the {ROLLING_DAYS}-day rolling average.",
            "figure": throughput(series),
        },
        {
            "id": "cycle-time",
            "title": "Cycle time",
            "help": "First start to done, per day of completion; dashed lines: p50 and p85 over the range.",
            "figure": cycle_time(series, report["totals"]),
        },
        {
            "id": "time-in-status",
            "title": "Time in status",
            "help": "Task-hours spent in each status per day (DONE is not counted).",
            "figure": time_in_status(series),
        },
        {
            "id": "sla-breaches",
            "title": "SLA breaches",
            "help": "Tasks over a target at the end of each day, and the share of measured targets breached.",
            "figure": sla_breaches(series),
        },
        {
            "id": "aging",
            "title": "Aging of open work",
            "help": "Age since creation of the tasks not done at the end of each day.",
            "figure": aging(series),
        },
    ]
    for chart in charts:
        chart["figure_id"] = f"{chart['id']}-figure"
    return charts


def sparkline(
    points: Sequence[dict[str, Any]], *, first_day: date, last_day: date, colour: str = STATUS_COLOURS["DONE"]
) -> Figure:
    """A tiny, static throughput line for the overview table, on the range's full width (so the rows of
    different projects line up day by day)."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": _column(points, "day"),
                "y": _column(points, "completed"),
                "fill": "tozeroy",
                "line": {"color": colour, "width": 1.5},
                "hoverinfo": "skip",
            }
        ],
        "layout": {
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "xaxis": {"visible": False, "range": [first_day.isoformat(), last_day.isoformat()]},
            "yaxis": {"visible": False, "rangemode": "tozero"},
            "showlegend": False,
        },
        "config": {"staticPlot": True, "responsive": False},
    }
