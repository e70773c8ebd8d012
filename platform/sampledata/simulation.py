"""Simulated task histories, obeying the same lifecycle table and role matrix as the service layer.

Pure and deterministic: the same seed gives the same histories, byte for byte, so sample data (and every
benchmark built on it) can be reproduced. Nothing here touches the database; `loader.py` writes the
result in bulk. Each step is checked with `tracker.lifecycle.ensure_transition` and
`tracker.roles.ensure_allowed` / `ensure_may_assign`, so a history the API would refuse cannot be made.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracker import lifecycle
from tracker.audit import log_value
from tracker.models import PRIORITY_RANK, ActivityVerb, Priority, Status
from tracker.roles import Action, ensure_allowed, ensure_may_assign

HOUR = 3600.0
DAY = 24 * HOUR

# Weekday arrival weights, Monday first: people file work on weekdays.
WEEKDAY_WEIGHTS = (1.0, 1.1, 1.0, 0.95, 0.8, 0.2, 0.15)
PRIORITY_WEIGHTS: dict[str, float] = {
    Priority.LOW: 0.25,
    Priority.MEDIUM: 0.45,
    Priority.HIGH: 0.22,
    Priority.URGENT: 0.08,
}
# Mean wait before work starts, and mean working time, by priority (exponential distributions).
MEAN_WAIT_TO_START: dict[str, float] = {
    Priority.URGENT: 2 * HOUR,
    Priority.HIGH: 10 * HOUR,
    Priority.MEDIUM: 1.5 * DAY,
    Priority.LOW: 4 * DAY,
}
MEAN_WORK: dict[str, float] = {
    Priority.URGENT: 6 * HOUR,
    Priority.HIGH: 1 * DAY,
    Priority.MEDIUM: 2 * DAY,
    Priority.LOW: 3 * DAY,
}
P_BLOCKED = 0.22
MEAN_BLOCKED = 1.5 * DAY
P_BACK_TO_OPEN = 0.05
P_REOPEN = 0.08
P_ABANDON_OPEN = 0.07
P_ABANDON_IN_PROGRESS = 0.04
P_EDIT = 0.3
P_DELETE = 0.03
P_ASSIGNED_AT_CREATION = 0.7
P_DUE_DATE = 0.6

TITLE_VERBS = (
    "Fix",
    "Add",
    "Investigate",
    "Update",
    "Remove",
    "Document",
    "Refactor",
    "Migrate",
    "Review",
    "Speed up",
)
TITLE_THINGS = (
    "login flow",
    "invoice export",
    "search results",
    "billing webhook",
    "onboarding emails",
    "audit report",
    "mobile layout",
    "API pagination",
    "CSV import",
    "password reset",
    "dashboard filters",
    "cache warmup",
    "error pages",
    "release notes",
    "user settings",
    "backup job",
    "SSO integration",
    "rate limits",
)


@dataclass(frozen=True)
class Person:
    user_id: int
    role: str


@dataclass
class SimEvent:
    verb: str
    changes: dict[str, Any]
    occurred_at: datetime
    actor_id: int


@dataclass
class SimTask:
    """A task's final row and the history that led to it."""

    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str
    status: str
    priority: str
    assignee_id: int | None
    reporter_id: int
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int
    events: list[SimEvent] = field(default_factory=list)

    @property
    def priority_rank(self) -> int:
        return PRIORITY_RANK[self.priority]


class _History:
    """Builds one task's history step by step, checking each step against the real rules."""

    def __init__(self, task: SimTask, people: dict[int, Person], now: datetime) -> None:
        self.task = task
        self.people = people
        self.now = now

    def _role(self, actor_id: int) -> str:
        return self.people[actor_id].role

    def _record(self, verb: str, changes: dict[str, Any], when: datetime, actor_id: int) -> None:
        self.task.events.append(SimEvent(verb=verb, changes=changes, occurred_at=when, actor_id=actor_id))
        self.task.updated_at = when
        if verb != ActivityVerb.CREATED:
            self.task.version += 1

    def in_past(self, when: datetime) -> bool:
        return when < self.now

    def move(self, target: str, when: datetime, actor_id: int) -> None:
        task = self.task
        ensure_allowed(
            action=Action.TRANSITION_TASK,
            role=self._role(actor_id),
            actor_id=actor_id,
            reporter_id=task.reporter_id,
            assignee_id=task.assignee_id,
        )
        lifecycle.ensure_transition(current=task.status, target=target)
        if lifecycle.is_reopening(task.status, target):
            ensure_allowed(action=Action.REOPEN_TASK, role=self._role(actor_id), actor_id=actor_id)
        self._record(ActivityVerb.STATUS_CHANGED, {"status": [task.status, target]}, when, actor_id)
        task.status = target

    def assign(self, assignee_id: int, when: datetime, actor_id: int) -> None:
        ensure_may_assign(
            role=self._role(actor_id),
            actor_id=actor_id,
            old_assignee_id=self.task.assignee_id,
            new_assignee_id=assignee_id,
        )
        self._record(
            ActivityVerb.ASSIGNED, {"assignee": [self.task.assignee_id, assignee_id]}, when, actor_id
        )
        self.task.assignee_id = assignee_id

    def edit(self, changes: dict[str, Any], when: datetime, actor_id: int) -> None:
        ensure_allowed(
            action=Action.UPDATE_TASK,
            role=self._role(actor_id),
            actor_id=actor_id,
            reporter_id=self.task.reporter_id,
            assignee_id=self.task.assignee_id,
        )
        self._record(ActivityVerb.UPDATED, changes, when, actor_id)

    def delete(self, when: datetime, actor_id: int) -> None:
        ensure_allowed(action=Action.DELETE_TASK, role=self._role(actor_id), actor_id=actor_id)
        self._record(ActivityVerb.DELETED, {"deleted_at": [None, log_value(when)]}, when, actor_id)
        self.task.deleted_at = when


def _arrival_times(rng: random.Random, *, count: int, start: datetime, days: int) -> list[datetime]:
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    day_weights = [WEEKDAY_WEIGHTS[(midnight + timedelta(days=offset)).weekday()] for offset in range(days)]
    chosen_days = rng.choices(range(days), weights=day_weights, k=count)
    # Most work is filed in office hours (08:00 to 18:00 UTC), some at any hour.
    times = []
    for offset in chosen_days:
        hour = rng.uniform(8, 18) if rng.random() < 0.85 else rng.uniform(0, 24)
        times.append(max(start, midnight + timedelta(days=offset, hours=hour)))
    return sorted(times)


def simulate_project_tasks(
    rng: random.Random,
    *,
    project_id: uuid.UUID,
    project_key: str,
    people: list[Person],
    count: int,
    start: datetime,
    now: datetime,
) -> Iterator[SimTask]:
    """`count` tasks arriving between `start` and `now`, each with its history up to `now`."""
    by_id = {person.user_id: person for person in people}
    managers = [p.user_id for p in people if p.role in ("ADMIN", "MANAGER")]
    workers = [p.user_id for p in people if p.role in ("MEMBER", "MANAGER")]
    days = max(1, (now - start).days)
    for number, created_at in enumerate(_arrival_times(rng, count=count, start=start, days=days), start=1):
        if created_at >= now:
            continue
        yield _simulate_task(
            rng,
            by_id=by_id,
            managers=managers,
            workers=workers,
            project_id=project_id,
            title=f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_THINGS)} ({project_key}-{number})",
            created_at=created_at,
            now=now,
        )


def _simulate_task(
    rng: random.Random,
    *,
    by_id: dict[int, Person],
    managers: list[int],
    workers: list[int],
    project_id: uuid.UUID,
    title: str,
    created_at: datetime,
    now: datetime,
) -> SimTask:
    priorities = list(PRIORITY_WEIGHTS)
    priority = rng.choices(priorities, weights=list(PRIORITY_WEIGHTS.values()))[0]
    reporter_id = rng.choice(list(by_id))
    reporter_role = by_id[reporter_id].role
    assignee_id: int | None = None
    if rng.random() < P_ASSIGNED_AT_CREATION:
        # A MEMBER may only assign to themselves; others assign anyone.
        assignee_id = reporter_id if reporter_role == "MEMBER" else rng.choice(workers)
    due_at = created_at + timedelta(days=rng.randint(2, 30)) if rng.random() < P_DUE_DATE else None
    task = SimTask(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        project_id=project_id,
        title=title,
        description=f"Reported on {created_at:%Y-%m-%d}.",
        status=str(lifecycle.INITIAL_STATUS),
        priority=str(priority),
        assignee_id=assignee_id,
        reporter_id=reporter_id,
        due_at=due_at,
        created_at=created_at,
        updated_at=created_at,
        deleted_at=None,
        version=1,
    )
    history = _History(task, by_id, now)
    initial = {
        "project": [None, str(project_id)],
        "title": [None, title],
        "description": [None, task.description],
        "status": [None, task.status],
        "priority": [None, task.priority],
        "assignee": [None, assignee_id],
        "reporter": [None, reporter_id],
        "due_at": [None, log_value(due_at)],
    }
    history._record(ActivityVerb.CREATED, initial, created_at, reporter_id)
    _run_lifecycle(rng, history, managers=managers, workers=workers)
    return task


def _run_lifecycle(rng: random.Random, history: _History, *, managers: list[int], workers: list[int]) -> None:
    task = history.task
    when = task.created_at
    reopened = False
    if rng.random() < P_EDIT:
        when += timedelta(seconds=rng.expovariate(1 / (6 * HOUR)))
        new_priority = rng.choice([p for p in PRIORITY_WEIGHTS if p != task.priority])
        if history.in_past(when):
            history.edit({"priority": [task.priority, str(new_priority)]}, when, rng.choice(managers))
            task.priority = str(new_priority)
    while True:
        if rng.random() < P_ABANDON_OPEN:
            break
        when += timedelta(seconds=rng.expovariate(1 / MEAN_WAIT_TO_START[task.priority]))
        if not history.in_past(when):
            break
        if task.assignee_id is None:
            history.assign(rng.choice(workers), when, rng.choice(managers))
        history.move(Status.IN_PROGRESS, when, task.assignee_id or 0)
        finished = _work_until_done_or_stop(rng, history, when)
        if finished is None:
            break
        when = finished
        if reopened or rng.random() >= P_REOPEN:
            break
        when += timedelta(seconds=rng.expovariate(1 / DAY))
        if not history.in_past(when):
            break
        history.move(Status.OPEN, when, rng.choice(managers))
        reopened = True
    if rng.random() < P_DELETE:
        when = task.updated_at + timedelta(seconds=rng.expovariate(1 / (2 * DAY)))
        if history.in_past(when):
            history.delete(when, rng.choice(managers))


def _work_until_done_or_stop(rng: random.Random, history: _History, started: datetime) -> datetime | None:
    """Work on an IN_PROGRESS task (maybe blocked, maybe handed back); the DONE time, or None if it stops."""
    task = history.task
    when = started
    worker = task.assignee_id or 0
    while True:
        when += timedelta(seconds=rng.expovariate(1 / MEAN_WORK[task.priority]))
        if not history.in_past(when):
            return None
        roll = rng.random()
        if roll < P_BLOCKED:
            history.move(Status.BLOCKED, when, worker)
            when += timedelta(seconds=rng.expovariate(1 / MEAN_BLOCKED))
            if not history.in_past(when):
                return None
            history.move(Status.IN_PROGRESS, when, worker)
            continue
        if roll < P_BLOCKED + P_BACK_TO_OPEN:
            history.move(Status.OPEN, when, worker)
            return None
        if roll < P_BLOCKED + P_BACK_TO_OPEN + P_ABANDON_IN_PROGRESS:
            return None
        history.move(Status.DONE, when, worker)
        return when
