"""A committed tenant with three weeks of task history, built through the tracker services, and its
analytics materialised by the Dagster assets in-process — the data the browser tests look at.

Committed, because the live gunicorn server cannot see a test's transaction. It lives in its own tenant
(unique slug) and is removed again, schema and all, when the browser tests end (`destroy_world`), so no
other test ever sees its tenant, tasks, snapshots or activity rows. Its admin also holds a membership in
the session tenant `alpha` (for the tenant switcher), removed with it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import dagster as dg
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Membership, Role, User
from accounts.services import remove_member
from pipelines.assets import ASSETS
from pipelines.partitions import TENANTS, TenantDays, range_tags
from pipelines.resources import TenantDatabase
from tenancy.models import Tenant
from tenancy.services import create_tenant
from tests.conftest import TEST_PASSWORD
from tracker import services
from tracker.models import Priority, Project, Status, Task

HISTORY_DAYS = 21
PRIORITIES = [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW]
# Step patterns: (hours after the previous step, target status); a step that would land in the future is
# left out, so the most recent tasks stay in progress or open, as in real life.
PATTERNS: list[list[tuple[float, str]]] = [
    [(2, Status.IN_PROGRESS), (30, Status.DONE)],
    [(6, Status.IN_PROGRESS), (10, Status.BLOCKED), (20, Status.IN_PROGRESS), (15, Status.DONE)],
    [(30, Status.IN_PROGRESS), (72, Status.DONE)],
    [],
    [(1, Status.IN_PROGRESS)],
    [
        (3, Status.IN_PROGRESS),
        (5, Status.DONE),
        (24, Status.OPEN),
        (2, Status.IN_PROGRESS),
        (10, Status.DONE),
    ],
]


@dataclass
class WebWorld:
    tenant: Tenant
    admin: User  # also a MEMBER of the session tenant `alpha`: the tenant switcher has two entries
    manager: User
    member: User
    project: Project
    second_project: Project
    member_done_task: Task  # DONE and assigned to the member: reopening it is a manager action
    first_day: dt.date
    last_day: dt.date
    emails: dict[str, str] = field(default_factory=dict)


def _user(email: str, tenant: Tenant, role: str) -> User:
    """Signed in by session cookie (tests.dashboards.conftest), so no password to hash."""
    user = User.objects.create_user(email, None, full_name=f"Web {role.title()}")
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def _history(*, project: Project, actor: User, assignee: User, start: dt.datetime, count: int) -> None:
    now = timezone.now() - dt.timedelta(minutes=5)
    for index in range(count):
        created = start + dt.timedelta(hours=20 * index)
        if created > now:
            break
        task = services.create_task(
            actor=actor,
            project=project,
            title=f"{project.key} task {index + 1}",
            priority=PRIORITIES[index % len(PRIORITIES)],
            assignee=assignee if index % 2 == 0 else None,
            occurred_at=created,
        )
        when = created
        for hours, status in PATTERNS[index % len(PATTERNS)]:
            when += dt.timedelta(hours=hours)
            if when > now:
                break
            task = services.transition_task(task=task, actor=actor, to_status=status, occurred_at=when)


def materialise(tenant: Tenant, first_day: dt.date, last_day: dt.date) -> None:
    """Run the pipeline's assets for the tenant's days, in-process, on a throwaway Dagster instance."""
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(TENANTS.name, [tenant.slug])
        result = dg.materialize(
            ASSETS,
            instance=instance,
            resources={"tenant_db": TenantDatabase()},
            tags=range_tags(TenantDays(tenant.slug, first_day, last_day)),
        )
        assert result.success


def build_world(alpha: Tenant) -> WebWorld:
    suffix = uuid.uuid4().hex[:8]
    emails = {
        role: f"web-{role.lower()}-{suffix}@example.test" for role in (Role.ADMIN, Role.MANAGER, Role.MEMBER)
    }
    tenant = create_tenant(
        name=f"Web {suffix}",
        slug=f"web-{suffix}",
        admin_email=emails[Role.ADMIN],
        admin_password=TEST_PASSWORD,
    ).tenant
    admin = User.objects.get(email=emails[Role.ADMIN])
    Membership.objects.create(user=admin, tenant=alpha, role=Role.MEMBER)
    manager = _user(emails[Role.MANAGER], tenant, Role.MANAGER)
    member = _user(emails[Role.MEMBER], tenant, Role.MEMBER)

    start = (timezone.now() - dt.timedelta(days=HISTORY_DAYS)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    with tenant_context(tenant):
        project = services.create_project(actor=manager, name="Web platform", key="WEB", occurred_at=start)
        second = services.create_project(actor=manager, name="Operations", key="OPS", occurred_at=start)
        _history(project=project, actor=manager, assignee=member, start=start, count=25)
        _history(
            project=second, actor=manager, assignee=member, start=start + dt.timedelta(hours=7), count=12
        )
        done = services.create_task(
            actor=manager, project=project, title="Finished and assigned to the member", assignee=member
        )
        for status in (Status.IN_PROGRESS, Status.DONE):
            done = services.transition_task(task=done, actor=manager, to_status=status)
    first_day, last_day = start.date(), timezone.now().date()
    materialise(tenant, first_day, last_day)
    return WebWorld(
        tenant=tenant,
        admin=admin,
        manager=manager,
        member=member,
        project=project,
        second_project=second,
        member_done_task=done,
        first_day=first_day,
        last_day=last_day,
        emails=emails,
    )


def destroy_world(world: WebWorld, alpha: Tenant) -> None:
    """Drop the world's tenant (its schema, domain and memberships) and the admin's membership in alpha.
    The users stay (users are never deleted), unused: their emails are unique to this run."""
    for membership in Membership.objects.filter(user=world.admin, tenant=alpha):
        remove_member(membership=membership)
    world.tenant.delete(force_drop=True)
