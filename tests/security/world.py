"""Two committed tenants with users of every role and realistic data, for attacks against a live server.

Everything a tenant owns is marked with its slug (titles, descriptions, project names, emails, webhook URLs),
so one substring check finds the other tenant's data in any response body or log line. Data is written
through the services (tracker, webhooks, notifications, sla), the way the API writes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership, Role, User
from tenancy.models import Tenant
from tenancy.services import create_tenant
from tracker import services as tracker
from tracker.models import Priority, Project, Status, Task

# The only password of the world; only each tenant's ADMIN has it (hashing is deliberately slow).
WORLD_PASSWORD = "S3curity-suite-pass-phrase"
ROLES = (Role.ADMIN, Role.MANAGER, Role.MEMBER)


@dataclass
class Side:
    """One tenant of the world and everything it owns."""

    tenant: Tenant
    slug: str
    users: dict[str, User]
    projects: list[str]
    tasks: list[str]
    deleted_task: str
    memberships: list[int]
    inactive: User | None = None  # a deactivated MEMBER: their valid-looking tokens must not work
    webhook_id: str = ""
    webhook_secret: str = ""
    notification_id: int = 0
    sla_marker: int = 0
    titles: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.tenant.id)

    @property
    def admin(self) -> User:
        return self.users[Role.ADMIN]

    def markers(self) -> set[str]:
        """Strings that appear only in this tenant's data: none may reach the other tenant's callers."""
        values = {self.slug, self.tenant.schema_name, self.id, *self.projects, *self.tasks, self.deleted_task}
        values |= set(self.titles)
        if self.webhook_id:
            values |= {self.webhook_id, self.webhook_secret}
        if self.sla_marker:
            values.add(str(self.sla_marker))
        return values

    def token(self, role: str) -> str:
        return str(AccessToken.for_user(self.users[role]))


@dataclass
class World:
    a: Side
    b: Side

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a


def _user(email: str, password: str | None = None) -> User:
    return User.objects.create_user(email, password, full_name=email.split("@")[0].replace("-", " ").title())


def build_side(label: str, *, sla_marker: int) -> Side:
    """A tenant `sec<label>-<hex>` with an ADMIN (who has a password), a MANAGER and a MEMBER, two projects
    (same keys in every tenant), four tasks (one assigned, one moved along, one soft-deleted), a webhook,
    a notification and a custom SLA target."""
    slug = f"sec{label}-{uuid.uuid4().hex[:8]}"
    provisioned = create_tenant(
        name=f"Security {label.upper()} {slug}",
        slug=slug,
        admin_email=f"admin@{slug}.test",
        admin_password=WORLD_PASSWORD,
    )
    tenant = provisioned.tenant
    users = {Role.ADMIN: provisioned.admin}
    for role in (Role.MANAGER, Role.MEMBER):
        users[role] = _user(f"{role.lower()}@{slug}.test")
        Membership.objects.create(user=users[role], tenant=tenant, role=role)
    memberships = list(Membership.objects.filter(tenant=tenant).values_list("id", flat=True))
    inactive = _user(f"former@{slug}.test")
    Membership.objects.create(user=inactive, tenant=tenant, role=Role.MEMBER)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    admin, manager, member = users[Role.ADMIN], users[Role.MANAGER], users[Role.MEMBER]

    with tenant_context(tenant):
        launch = tracker.create_project(
            actor=admin, name=f"{slug} launch", key="OPS", description=f"{slug} confidential roadmap"
        )
        other = tracker.create_project(actor=manager, name=f"{slug} ops", key="WEB")
        titles = [f"{slug} secret task {n}" for n in range(1, 5)]
        assigned = tracker.create_task(
            actor=admin, project=launch, title=titles[0], description=f"{slug} private notes",
            priority=Priority.HIGH, assignee=member, due_at=timezone.now() + timedelta(days=3),
        )  # fmt: skip
        moving = tracker.create_task(actor=manager, project=launch, title=titles[1])
        tracker.transition_task(task=moving, actor=manager, to_status=Status.IN_PROGRESS)
        own = tracker.create_task(actor=member, project=other, title=titles[2], assignee=member)
        doomed = tracker.create_task(actor=admin, project=other, title=titles[3])
        tracker.delete_task(task=doomed, actor=admin)
        side = Side(
            tenant=tenant,
            slug=slug,
            users=users,
            projects=[str(launch.pk), str(other.pk)],
            tasks=[str(assigned.pk), str(moving.pk), str(own.pk)],
            deleted_task=str(doomed.pk),
            memberships=memberships,
            inactive=inactive,
            titles=titles,
        )
        _add_owned_extras(side, tenant=tenant, task=assigned, sla_marker=sla_marker)
    connection.set_schema_to_public()
    return side


def _add_owned_extras(side: Side, *, tenant: Tenant, task: object, sla_marker: int) -> None:
    """A webhook, a notification and an SLA target: the other tenant-scoped resources (their own suites
    test them; here they only need to exist, so their ids can be attacked)."""
    from notifications.models import NotificationKind
    from notifications.services import notify
    from sla.services import set_policy
    from webhooks.services import create_webhook

    webhook = create_webhook(
        url=f"http://127.0.0.1:9/{side.slug}/hook",
        event_types=["task.created"],
        created_by=side.admin,
        description=f"{side.slug} webhook",
    )
    side.webhook_id, side.webhook_secret = str(webhook.pk), webhook.secret
    [notification] = notify(
        tenant=tenant,
        recipient_ids=[side.users[Role.MEMBER].pk],
        kind=NotificationKind.TASK_ASSIGNED,
        payload={"title": f"{side.slug} you were assigned"},
        dedupe_key=f"security:{side.slug}",
        task=task,  # type: ignore[arg-type]
    )
    side.notification_id = notification.pk
    set_policy(
        priority=Priority.URGENT, time_to_start_seconds=sla_marker, time_to_done_seconds=sla_marker * 2
    )
    side.sla_marker = sla_marker


def build_world() -> World:
    return World(a=build_side("a", sla_marker=111_117), b=build_side("b", sla_marker=222_229))


def fingerprint(side: Side) -> dict[str, object]:
    """What an attack must never change: projects, tasks (with versions), memberships, webhooks."""
    from webhooks.models import Webhook

    memberships = sorted(Membership.objects.filter(tenant=side.tenant).values_list("user_id", "role"))
    with tenant_context(side.tenant):
        result: dict[str, object] = {
            "projects": sorted(Project.objects.values_list("id", "name", "archived_at")),
            "tasks": sorted(Task.objects.values_list("id", "title", "version", "deleted_at", "assignee_id")),
            "webhooks": sorted(Webhook.objects.values_list("id", "url", "is_active")),
            "memberships": memberships,
        }
    connection.set_schema_to_public()
    return result
