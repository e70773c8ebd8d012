"""An independent, deliberately plain replay of the activity log: the expected TaskSLA and snapshot rows.

It walks every task's rows one by one for every day, with none of the pipeline's SQL tricks (segments,
deltas, endpoint-only cuts), so a bug there shows up as a difference here. It encodes the rules in
docs/pipeline.md:

- timestamps are truncated to whole seconds; day D is [D 00:00, D+1 00:00) UTC, or up to `now` for today;
- a task has rows on D if it existed before the end of D, is not deleted at the end of D, and was not
  DONE all day without a status change; one row per status it spent time in that day;
- SLA clocks run while OPEN or IN_PROGRESS; time-to-start stops at the first IN_PROGRESS or DONE;
- snapshot counts are distinct tasks that have rows that day, attributed to their end-of-day project.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from analytics.sla import SlaTarget
from tracker.models import Project, TaskActivity

DAY = 86_400
ACTIVE = ("OPEN", "IN_PROGRESS")


def seconds(moment: dt.datetime) -> int:
    return math.floor(moment.timestamp())


@dataclass
class Row:
    t: int
    verb: str
    changes: dict[str, Any]


@dataclass
class State:
    status: str | None = None
    priority: str | None = None
    project: str | None = None
    deleted: bool = False


@dataclass
class TaskLog:
    rows: list[Row] = field(default_factory=list)

    def states(self) -> list[State]:
        """The task's state after each of its rows."""
        state, result = State(), []
        for row in self.rows:
            state = State(state.status, state.priority, state.project, state.deleted)
            if "status" in row.changes:
                state.status = row.changes["status"][1]
            if "priority" in row.changes:
                state.priority = row.changes["priority"][1]
            if "project" in row.changes:
                state.project = row.changes["project"][1]
            if row.verb == "deleted":
                state.deleted = True
            if row.verb == "restored":
                state.deleted = False
            result.append(state)
        return result


def read_log() -> dict[str, TaskLog]:
    logs: dict[str, TaskLog] = defaultdict(TaskLog)
    for task_id, verb, changes, occurred_at in TaskActivity.objects.order_by("seq").values_list(
        "task_id", "verb", "changes", "occurred_at"
    ):
        logs[str(task_id)].rows.append(Row(seconds(occurred_at), verb, changes))
    return logs


def percentile_disc(values: list[int], fraction: float) -> int | None:
    """PostgreSQL's percentile_disc: the first value whose position reaches the fraction."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _overlap(start: int, end: int, low: int, high: int) -> int:
    return max(0, min(end, high) - max(start, low))


@dataclass
class TaskDay:
    """What one task contributes to one day, if it has rows that day."""

    task: str
    project: str
    status: str
    seconds: dict[str, int]
    sla_row: dict[str, Any]
    created: bool
    started: bool
    done_t: int | None
    reopened: bool
    blocked: bool
    cycle: int | None
    lead: int | None
    age: int


def task_day(
    task: str, log: TaskLog, day: dt.date, now: int, targets: dict[str, SlaTarget]
) -> TaskDay | None:
    start = (day - dt.date(1970, 1, 1)).days * DAY
    end = min(start + DAY, now)
    rows, states = log.rows, log.states()
    upto = [i for i, row in enumerate(rows) if row.t < end]
    if not upto or states[upto[-1]].status is None:
        return None
    final = states[upto[-1]]
    if final.deleted:
        return None
    before = [i for i in upto if rows[i].t < start]
    status_rows_today = [i for i in upto if rows[i].t >= start and "status" in rows[i].changes]
    if before and states[before[-1]].status == "DONE" and not status_rows_today:
        return None

    def until(i: int) -> int:
        return rows[i + 1].t if i + 1 < len(rows) else end

    spent: dict[str, int] = defaultdict(int)
    for i in upto:
        spent[str(states[i].status)] += _overlap(rows[i].t, min(until(i), end), start, end)
    spent = {status: value for status, value in spent.items() if value > 0}

    starts = [
        row.t
        for row in rows
        if "status" in row.changes and row.changes["status"][1] in ("IN_PROGRESS", "DONE")
    ]
    first_start = min(starts) if starts else None
    started = first_start is not None and first_start < end
    stop = first_start if started and first_start is not None else end
    start_clock = sum(
        _overlap(rows[i].t, min(until(i), end), -(2**62), stop) for i in upto if states[i].status == "OPEN"
    )
    done_clock = sum(
        _overlap(rows[i].t, min(until(i), end), -(2**62), end) for i in upto if states[i].status in ACTIVE
    )
    target = targets[str(final.priority)]
    if started:
        start_state = "met" if start_clock <= target.time_to_start_seconds else "breached"
    else:
        start_state = "breached" if start_clock > target.time_to_start_seconds else "open"
    if final.status == "DONE":
        done_state = "met" if done_clock <= target.time_to_done_seconds else "breached"
    else:
        done_state = "breached" if done_clock > target.time_to_done_seconds else "open"

    created_t = next(row.t for row in rows if row.verb == "created")
    progress = [
        row.t for row in rows if "status" in row.changes and row.changes["status"][1] == "IN_PROGRESS"
    ]
    first_progress = min(progress) if progress else None
    today = [i for i in upto if rows[i].t >= start]
    done_times = [rows[i].t for i in today if rows[i].changes.get("status", [None, None])[1] == "DONE"]
    done_t = max(done_times) if done_times else None

    def moved(i: int, condition: Any) -> bool:
        if "status" not in rows[i].changes:
            return False
        previous = states[i - 1].status if i > 0 else None
        return bool(condition(previous, rows[i].changes["status"][1]))

    return TaskDay(
        task=task,
        project=str(final.project),
        status=str(final.status),
        seconds=spent,
        sla_row={
            "project_id": str(final.project),
            "priority": final.priority,
            "start_clock_seconds": start_clock,
            "done_clock_seconds": done_clock,
            "start_target_state": start_state,
            "done_target_state": done_state,
        },
        created=any(rows[i].verb == "created" for i in today),
        started=first_progress is not None and start <= first_progress < end,
        done_t=done_t,
        reopened=any(moved(i, lambda old, new: old == "DONE" and new != "DONE") for i in today),
        blocked=any(moved(i, lambda old, new: new == "BLOCKED" and old != "BLOCKED") for i in today),
        cycle=done_t - first_progress
        if done_t is not None and first_progress is not None and first_progress <= done_t
        else None,
        lead=done_t - created_t if done_t is not None else None,
        age=end - created_t,
    )


def expected_rows(
    days: list[dt.date], *, now: dt.datetime, targets: dict[str, SlaTarget]
) -> tuple[dict[tuple[str, dt.date, str], dict[str, Any]], dict[tuple[str, dt.date], dict[str, Any]]]:
    """TaskSLA rows keyed (task, day, status) and snapshot rows keyed (project, day), active schema."""
    logs = read_log()
    now_t = seconds(now)
    projects = list(Project.objects.values_list("id", "created_at", "archived_at"))
    sla: dict[tuple[str, dt.date, str], dict[str, Any]] = {}
    snapshots: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for day in days:
        start = (day - dt.date(1970, 1, 1)).days * DAY
        end = min(start + DAY, now_t)
        live = [
            td for task, log in logs.items() if (td := task_day(task, log, day, now_t, targets)) is not None
        ]
        for td in live:
            for status, value in td.seconds.items():
                sla[(td.task, day, status)] = {
                    "seconds": value,
                    "in_status_at_end": status == td.status,
                    **td.sla_row,
                }
        end_counts: dict[tuple[str, str], int] = defaultdict(int)
        for log in logs.values():
            states = log.states()
            upto = [i for i, row in enumerate(log.rows) if row.t < end]
            if upto and not states[upto[-1]].deleted and states[upto[-1]].status:
                end_counts[(str(states[upto[-1]].project), str(states[upto[-1]].status))] += 1
        for project_id, created_at, archived_at in projects:
            project = str(project_id)
            mine = [td for td in live if td.project == project]
            active = seconds(created_at) < end and (archived_at is None or seconds(archived_at) >= start)
            unfinished = sum(end_counts[(project, s)] for s in ("OPEN", "IN_PROGRESS", "BLOCKED"))
            if not (active or mine or unfinished):
                continue
            done = [td for td in mine if td.done_t is not None]
            cycles = [td.cycle for td in done if td.cycle is not None]
            leads = [td.lead for td in done if td.lead is not None]
            ages = [td.age for td in mine if td.status != "DONE"]
            snapshots[(project, day)] = {
                "tasks_created": sum(td.created for td in mine),
                "tasks_started": sum(td.started for td in mine),
                "tasks_completed": len(done),
                "tasks_reopened": sum(td.reopened for td in mine),
                "tasks_blocked": sum(td.blocked for td in mine),
                "end_open": end_counts[(project, "OPEN")],
                "end_in_progress": end_counts[(project, "IN_PROGRESS")],
                "end_blocked": end_counts[(project, "BLOCKED")],
                "end_done": end_counts[(project, "DONE")],
                "cycle_time_p50": percentile_disc(cycles, 0.5),
                "cycle_time_p85": percentile_disc(cycles, 0.85),
                "cycle_time_p95": percentile_disc(cycles, 0.95),
                "lead_time_p50": percentile_disc(leads, 0.5),
                "lead_time_p85": percentile_disc(leads, 0.85),
                "lead_time_p95": percentile_disc(leads, 0.95),
                "open_age_p50": percentile_disc(ages, 0.5),
                "open_age_p85": percentile_disc(ages, 0.85),
                "open_age_max": max(ages) if ages else None,
                "time_open_seconds": sum(td.seconds.get("OPEN", 0) for td in mine),
                "time_in_progress_seconds": sum(td.seconds.get("IN_PROGRESS", 0) for td in mine),
                "time_blocked_seconds": sum(td.seconds.get("BLOCKED", 0) for td in mine),
                "sla_start_met": sum(td.sla_row["start_target_state"] == "met" for td in mine),
                "sla_start_breached": sum(td.sla_row["start_target_state"] == "breached" for td in mine),
                "sla_done_met": sum(td.sla_row["done_target_state"] == "met" for td in mine),
                "sla_done_breached": sum(td.sla_row["done_target_state"] == "breached" for td in mine),
            }
    return sla, snapshots
