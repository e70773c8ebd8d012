"""Helpers that make the job tests read like the behaviour they check."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import Role, User
from background.models import DeadLetter, ProcessedEvent
from notifications.models import Notification
from tenancy.models import Tenant
from tenancy.schema import activate_public, activate_tenant
from tracker import services as tracker
from tracker.models import OutboxEvent, Priority, Project, Task


@contextmanager
def in_tenant(tenant: Tenant) -> Iterator[None]:
    activate_tenant(tenant)
    try:
        yield
    finally:
        activate_public()


@dataclass
class Cast:
    """A project with a reporter (MANAGER), an assignee (MEMBER) and an actor (MANAGER) who changes things."""

    tenant: Tenant
    reporter: User
    assignee: User
    actor: User
    project: Project

    def task(
        self, *, title: str = "", priority: str = Priority.MEDIUM, occurred_at: datetime | None = None
    ) -> Task:
        with in_tenant(self.tenant):
            return tracker.create_task(
                actor=self.reporter,
                project=self.project,
                title=title or f"Task {uuid.uuid4().hex[:6]}",
                priority=priority,
                assignee=self.assignee,
                occurred_at=occurred_at,
            )

    def move(
        self, task: Task, to_status: str, *, occurred_at: datetime | None = None, by: User | None = None
    ) -> Task:
        with in_tenant(self.tenant):
            return tracker.transition_task(
                task=task, actor=by or self.actor, to_status=to_status, occurred_at=occurred_at
            )


def make_cast(*, tenant: Tenant, member: Any) -> Cast:
    reporter, assignee, actor = member(Role.MANAGER), member(Role.MEMBER), member(Role.MANAGER)
    with in_tenant(tenant):
        project = tracker.create_project(
            actor=actor, name="Live project", key="J" + uuid.uuid4().hex[:8].upper()
        )
    return Cast(tenant=tenant, reporter=reporter, assignee=assignee, actor=actor, project=project)


def notifications_of(
    tenant: Tenant, *, task: Task | None = None, user: User | None = None, **filters: Any
) -> list[Notification]:
    with in_tenant(tenant):
        queryset = Notification.objects.all()
        if task is not None:
            queryset = queryset.filter(task_id=task.pk)
        if user is not None:
            queryset = queryset.filter(recipient=user)
        return list(queryset.filter(**filters).order_by("id"))


def outbox_events(tenant: Tenant, *, task: Task, event_type: str | None = None) -> list[OutboxEvent]:
    with in_tenant(tenant):
        queryset = OutboxEvent.objects.filter(task_id=task.pk)
        if event_type:
            queryset = queryset.filter(event_type=event_type)
        return list(queryset.order_by("id"))


def processed(tenant: Tenant, *, job: str, event_id: int) -> bool:
    with in_tenant(tenant):
        return ProcessedEvent.objects.filter(job=job, key=f"outbox:{event_id}").exists()


def dead_letters(tenant: Tenant, **filters: Any) -> list[DeadLetter]:
    with in_tenant(tenant):
        return list(DeadLetter.objects.filter(**filters).order_by("failed_at"))
