"""Writes tasks and their activity log straight through the ORM, following docs/activity-log.md.

For the pipeline tests only: it writes history at any past instant and skips roles and the lifecycle
table, so a test can state exactly the log it needs. `seq` continues the tenant's sequence; the hash
chain is well-formed but not the canonical one (the pipeline never reads it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db.models import Max

from accounts.models import User
from tracker.models import PRIORITY_RANK, Project, Task, TaskActivity

UTC = dt.UTC


def at(day: str, time: str = "00:00:00") -> dt.datetime:
    """`at("2025-01-02", "09:30")` → that instant in UTC."""
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


class ActivityWriter:
    """The task API's writes, by hand: each method saves the Task row and appends its log row."""

    def __init__(self, actor: User) -> None:
        self.actor = actor

    def project(
        self, key: str, *, created_at: dt.datetime, archived_at: dt.datetime | None = None
    ) -> Project:
        return Project.objects.create(
            name=f"Project {key}",
            key=key,
            created_by=self.actor,
            created_at=created_at,
            archived_at=archived_at,
        )

    def _append(self, task: Task, verb: str, changes: dict[str, Any], occurred_at: dt.datetime) -> None:
        last = TaskActivity.objects.aggregate(Max("seq"))["seq__max"] or 0
        previous = TaskActivity.objects.filter(seq=last).values_list("hash", flat=True).first() or "0" * 64
        TaskActivity.objects.create(
            seq=last + 1,
            task=task,
            actor=self.actor,
            verb=verb,
            changes=changes,
            occurred_at=occurred_at,
            prev_hash=previous,
            hash=hashlib.sha256(f"{previous}{last + 1}{verb}{changes}".encode()).hexdigest(),
        )
        task.updated_at = occurred_at
        task.save()

    def create(
        self, project: Project, when: dt.datetime, *, priority: str = "MEDIUM", title: str = "A task"
    ) -> Task:
        task = Task.objects.create(
            project=project,
            title=title,
            priority=priority,
            priority_rank=PRIORITY_RANK[priority],
            reporter=self.actor,
            created_at=when,
            updated_at=when,
        )
        self._append(
            task,
            "created",
            {
                "project": [None, str(project.id)],
                "title": [None, title],
                "status": [None, "OPEN"],
                "priority": [None, priority],
                "assignee": [None, None],
                "reporter": [None, self.actor.id],
                "due_at": [None, None],
                "description": [None, ""],
            },
            when,
        )
        return task

    def move(self, task: Task, to_status: str, when: dt.datetime) -> None:
        old = task.status
        task.status = to_status
        self._append(task, "status_changed", {"status": [old, to_status]}, when)

    def update(self, task: Task, when: dt.datetime, **fields: Any) -> None:
        changes = {}
        for name, value in fields.items():
            if name == "project":
                changes["project"] = [str(task.project_id), str(value.id)]
                task.project = value
            else:
                changes[name] = [getattr(task, name), value]
                setattr(task, name, value)
        self._append(task, "updated", changes, when)

    def assign(self, task: Task, user: User | None, when: dt.datetime) -> None:
        old = task.assignee_id
        task.assignee = user
        self._append(task, "assigned", {"assignee": [old, user.id if user else None]}, when)

    def delete(self, task: Task, when: dt.datetime) -> None:
        task.deleted_at = when
        self._append(task, "deleted", {"deleted_at": [None, when.isoformat()]}, when)

    def restore(self, task: Task, when: dt.datetime) -> None:
        old = task.deleted_at
        task.deleted_at = None
        self._append(task, "restored", {"deleted_at": [old.isoformat() if old else None, None]}, when)
