"""Writes simulated histories in bulk: projects with the ORM, tasks and activity with COPY.

A million activity rows take minutes, not hours, because nothing goes through the per-change service
path (row lock, advisory lock, one INSERT per row); the histories were already checked against the same
rules by `simulation.py`. The hash chain is computed here with `tracker.audit`'s own functions, continuing
the tenant's existing chain, so `verify_audit_log` accepts the result.

History is imported, not announced: no outbox rows are written (replaying months of notifications and
webhooks would be wrong); the analytics are built by backfilling the pipeline afterwards.
"""

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from accounts.models import Membership, Role, User
from sampledata.simulation import Person, SimTask, simulate_project_tasks
from tenancy.models import Tenant
from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import tenant_by_slug
from tenancy.services import create_tenant
from tracker.audit import GENESIS_HASH, canonical_content, chain_hash
from tracker.models import Project, TaskActivity

SAMPLE_PASSWORD = "demo-password-1"
DEFAULT_TENANTS = (("acme", "Acme Corp"), ("globex", "Globex"), ("initech", "Initech"))
PROJECTS = (("OPS", "Operations"), ("WEB", "Website"), ("MOB", "Mobile app"))
EXTRA_MEMBERS = 4  # besides one account per role: people who pick up work
BATCH = 5000

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SampleAccount:
    email: str
    role: str
    tenant_slug: str
    tenant_id: uuid.UUID


@dataclass
class TenantLoad:
    slug: str
    tenant_id: uuid.UUID
    created: bool
    tasks: int = 0
    activity: int = 0


def tenant_names(count: int) -> list[tuple[str, str]]:
    names = list(DEFAULT_TENANTS[:count])
    names += [(f"tenant{index}", f"Tenant {index}") for index in range(len(names) + 1, count + 1)]
    return names


def _ensure_people(tenant: Tenant, slug: str, password_hash: str) -> list[tuple[User, str]]:
    """One account per role (the demo logins) plus a few members; reused if they exist."""
    wanted = [(f"{role.lower()}@{slug}.example", role) for role in (Role.ADMIN, Role.MANAGER, Role.MEMBER)]
    wanted += [(f"dev{index}@{slug}.example", Role.MEMBER) for index in range(1, EXTRA_MEMBERS + 1)]
    people = []
    for email, role in wanted:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create(
                email=email, full_name=email.split("@")[0].title(), password=password_hash
            )
        membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
        people.append((user, str(membership.role)))
    return people


def load_tenant(
    *,
    slug: str,
    name: str,
    seed: int,
    days: int,
    tasks_per_project: int,
    now: datetime,
    password_hash: str,
    progress: Progress | None = None,
) -> TenantLoad:
    """Create the tenant (if absent), its people, and — unless its sample projects exist — its history."""
    tenant = tenant_by_slug(slug=slug)
    if tenant is None:
        tenant = create_tenant(
            name=name, slug=slug, admin_email=f"admin@{slug}.example", admin_password=SAMPLE_PASSWORD
        ).tenant
    people = _ensure_people(tenant, slug, password_hash)
    load = TenantLoad(slug=slug, tenant_id=tenant.id, created=False)
    activate_tenant(tenant)
    try:
        if Project.objects.filter(key__in=[key for key, _ in PROJECTS]).exists():
            return load  # idempotent: this tenant already has its sample history
        with transaction.atomic():
            load.created = True
            _write_history(tenant, people, seed, days, tasks_per_project, now, load, progress)
    finally:
        activate_public()
    return load


def _write_history(
    tenant: Tenant,
    people: list[tuple[User, str]],
    seed: int,
    days: int,
    tasks_per_project: int,
    now: datetime,
    load: TenantLoad,
    progress: Progress | None,
) -> None:
    # A string seed is hashed deterministically by random.Random (unlike hash()).
    rng = random.Random(f"{seed}:{tenant.slug}")
    start = now - timedelta(days=days)
    admin = next(user for user, role in people if role == Role.ADMIN)
    persons = [Person(user_id=user.pk, role=role) for user, role in people]
    tasks: list[SimTask] = []
    for key, project_name in PROJECTS:
        project = Project.objects.create(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            name=project_name,
            key=key,
            description=f"Sample project {project_name}.",
            created_by=admin,
            created_at=start,
        )
        tasks.extend(
            simulate_project_tasks(
                rng,
                project_id=project.id,
                project_key=key,
                people=persons,
                count=tasks_per_project,
                start=start,
                now=now,
            )
        )
    _copy_tasks(tasks)
    load.tasks = len(tasks)
    load.activity = _copy_activity(tasks, progress=progress, label=tenant.slug)


def _copy_rows(table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY rows into a table of the active tenant schema (search_path is set on the connection)."""
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor  # psycopg 3 cursor behind Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _copy_tasks(tasks: list[SimTask]) -> None:
    columns = (
        "id",
        "project_id",
        "title",
        "description",
        "status",
        "priority",
        "priority_rank",
        "assignee_id",
        "reporter_id",
        "due_at",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    _copy_rows(
        "tracker_task",
        columns,
        (
            (
                t.id,
                t.project_id,
                t.title,
                t.description,
                t.status,
                t.priority,
                t.priority_rank,
                t.assignee_id,
                t.reporter_id,
                t.due_at,
                t.version,
                t.created_at,
                t.updated_at,
                t.deleted_at,
            )
            for t in tasks
        ),
    )


def _copy_activity(tasks: list[SimTask], *, progress: Progress | None, label: str) -> int:
    """Append every task's events to the tenant's chain, in time order, continuing its last link."""
    from psycopg.types.json import Jsonb

    events = sorted(
        (
            (event.occurred_at, task_index, event_index, task.id, event)
            for task_index, task in enumerate(tasks)
            for event_index, event in enumerate(task.events)
        ),
        key=lambda item: item[:3],
    )
    last = TaskActivity.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    total = len(events)

    def rows() -> Iterable[tuple[Any, ...]]:
        nonlocal seq, prev_hash
        for done, (occurred_at, _, _, task_id, event) in enumerate(events, start=1):
            seq += 1
            content = canonical_content(
                seq=seq,
                task_id=task_id,
                actor_id=event.actor_id,
                verb=event.verb,
                changes=event.changes,
                occurred_at=occurred_at,
            )
            link = chain_hash(prev_hash, content)
            yield (
                seq,
                task_id,
                event.actor_id,
                event.verb,
                Jsonb(event.changes),
                occurred_at,
                prev_hash,
                link,
            )
            prev_hash = link
            if progress and (done % BATCH == 0 or done == total):
                progress(label, done, total)

    columns = ("seq", "task_id", "actor_id", "verb", "changes", "occurred_at", "prev_hash", "hash")
    _copy_rows("tracker_taskactivity", columns, rows())
    return total


def load_sample_data(
    *,
    tenants: int = 3,
    days: int = 90,
    tasks_per_project: int = 120,
    seed: int = 42,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> list[TenantLoad]:
    moment = (now or datetime.now(tz=UTC)).replace(microsecond=0)
    password_hash = make_password(SAMPLE_PASSWORD)  # hashed once: hashing is slow by design
    loads = [
        load_tenant(
            slug=slug,
            name=name,
            seed=seed,
            days=days,
            tasks_per_project=tasks_per_project,
            now=moment,
            password_hash=password_hash,
            progress=progress,
        )
        for slug, name in tenant_names(tenants)
    ]
    _add_consultant(loads)
    return loads


def _add_consultant(loads: list[TenantLoad]) -> None:
    """The first tenant's manager also joins the other tenants as a MEMBER, as consultants do: one sample
    account that shows the web UI's tenant switcher."""
    if len(loads) < 2:
        return
    consultant = User.objects.get(email=f"manager@{loads[0].slug}.example")
    for load in loads[1:]:
        Membership.objects.get_or_create(
            user=consultant, tenant_id=load.tenant_id, defaults={"role": Role.MEMBER}
        )


def sample_accounts(loads: list[TenantLoad]) -> list[SampleAccount]:
    accounts = []
    for load in loads:
        for membership in Membership.objects.filter(tenant_id=load.tenant_id).select_related("user"):
            accounts.append(
                SampleAccount(
                    email=membership.user.email,
                    role=str(membership.role),
                    tenant_slug=load.slug,
                    tenant_id=load.tenant_id,
                )
            )
    return sorted(accounts, key=lambda account: (account.tenant_slug, account.email))
