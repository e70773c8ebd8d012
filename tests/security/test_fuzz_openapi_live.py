"""Fuzzing every operation of the OpenAPI document with schemathesis, against a live gunicorn.

The schemathesis CLI runs all its phases (examples, coverage, fuzzing, and stateful sequences whose links it
infers from `Location` headers and from the schema) with a real ADMIN token and tenant, and checks that no
answer is a 5xx and that every answer matches the documented status codes, content types, headers and
schemas, that invalid input is refused, that deleted objects are gone and that auth is not ignored.

Profiles: `fast` (make test: 5 examples per operation, fixed seed) and `long` (make verify, `--run-slow`
or FUZZ_PROFILE=long: 100 examples per operation, random seed, printed; FUZZ_SEED=<seed> replays a run).

The fuzzer gets a tenant of its own and a server of its own (with a private Redis): it creates, deletes
and demotes at random, and its login attempts spend the per-address login budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership, Role, User
from tenancy.services import create_tenant
from tests.live import REPO_ROOT, LiveServer, live_database_url
from tests.security.live import gunicorn, private_redis
from tests.summary_plugin import SecurityCounters
from tracker import services as tracker

pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

CONFIG = Path(__file__).with_name("schemathesis.toml")
PROFILES = {
    "fast": {"max_examples": 5, "seed": "20261127", "timeout": 240},
    "long": {"max_examples": 100, "seed": None, "timeout": 1800},
}


@dataclass(frozen=True)
class FuzzTenant:
    tenant_id: str
    token: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_tenant(django_db_setup: None, django_db_blocker: Any) -> FuzzTenant:
    """A tenant whose only ADMIN is the fuzzer (it cannot demote or remove itself: the last ADMIN stays)."""
    from notifications.models import NotificationKind
    from notifications.services import notify
    from webhooks.services import create_webhook

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        provisioned = create_tenant(
            name=f"Fuzz {suffix}", slug=f"fuzz-{suffix}", admin_email=f"fuzz@{suffix}.test"
        )
        tenant, admin = provisioned.tenant, provisioned.admin
        member = User.objects.create_user(f"member@{suffix}.test", None)
        membership = Membership.objects.create(user=member, tenant=tenant, role=Role.MEMBER)
        with tenant_context(tenant):
            project = tracker.create_project(actor=admin, name="Fuzzing", key="FUZZ")
            task = tracker.create_task(actor=admin, project=project, title="Fuzz me", assignee=member)
            webhook = create_webhook(
                url="http://127.0.0.1:9/fuzz", event_types=["task.created"], created_by=admin
            )
            [notification] = notify(
                tenant=tenant,
                recipient_ids=[admin.pk],
                kind=NotificationKind.TASK_ASSIGNED,
                payload={"title": "Fuzz me"},
                dedupe_key=f"fuzz:{suffix}",
                task=task,
            )
        connection.set_schema_to_public()
    return FuzzTenant(
        tenant_id=str(tenant.id),
        token=str(AccessToken.for_user(admin)),
        ids={
            "FUZZ_PROJECT_ID": str(project.pk),
            "FUZZ_TASK_ID": str(task.pk),
            "FUZZ_MEMBERSHIP_ID": str(membership.pk),
            "FUZZ_WEBHOOK_ID": str(webhook.pk),
            "FUZZ_NOTIFICATION_ID": str(notification.pk),
        },
    )


@pytest.fixture(scope="module")
def fuzz_server(fuzz_tenant: FuzzTenant, django_db_blocker: Any) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        database_url = live_database_url()
    with (
        private_redis() as redis_server,
        gunicorn(database_url=database_url, redis_url=redis_server.url, workers=2, threads=2) as server,
    ):
        yield server


def fuzz_profile(config: pytest.Config) -> str:
    chosen = os.environ.get("FUZZ_PROFILE") or ("long" if config.getoption("--run-slow") else "fast")
    if chosen not in PROFILES:
        raise pytest.UsageError(f"FUZZ_PROFILE={chosen!r}: choose one of {', '.join(PROFILES)}")
    return chosen


def test_every_operation_answers_as_documented_and_never_5xx(
    fuzz_tenant: FuzzTenant,
    fuzz_server: LiveServer,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    security_counters: SecurityCounters,
) -> None:
    profile = fuzz_profile(request.config)
    settings = PROFILES[profile]
    seed = os.environ.get("FUZZ_SEED") or settings["seed"] or str(uuid.uuid4().int % 2**31)
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run",
        f"{fuzz_server.url}/api/v1/schema/?format=json",
        "--header", f"Authorization: Bearer {fuzz_tenant.token}",
        "--header", f"X-Tenant-ID: {fuzz_tenant.tenant_id}",
        "--max-examples", str(settings["max_examples"]),
        "--seed", seed,
        # One worker (about 6 s slower than two): two interleave their requests differently from run to
        # run, so the server's state, and a replayed example's answer, may differ under a fixed seed; one
        # "Runtime Error" in about ten runs was seen with two (cause not pinned down).
        "--workers", "1",
        "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        env={**os.environ, **fuzz_tenant.ids, "PYTHONPATH": str(REPO_ROOT)},  # for the hooks module
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=int(settings["timeout"]),  # type: ignore[call-overload]
        check=False,
    )
    assert report.exists(), f"schemathesis wrote no report:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    outcome = json.loads(report.read_text())
    cases = outcome["test_cases"]["generated"]
    failures = outcome["failures"]
    server_errors = sum(f["count"] for f in failures if f["type"] == "ServerError")
    print(
        f"\nfuzzing ({profile}, seed {seed}): {outcome['operations']['tested']} operations, {cases} cases, "
        f"{len(failures)} kinds of failure, {outcome['running_time']:.0f}s"
    )
    security_counters.add("fuzz_cases", cases)
    security_counters.add("server_errors", server_errors)

    assert outcome["operations"]["tested"] == outcome["operations"]["total"] >= 35, outcome["operations"]
    assert not outcome["errors"], f"{outcome['errors']}\n{_section(result.stdout, 'ERRORS', 'FAILURES')}"
    assert result.returncode == 0 and not failures, f"{failures}\n{_failures_section(result.stdout)}"
    assert fuzz_tenant.token not in fuzz_server.log(), "the fuzzer's bearer token reached the server log"


def _failures_section(stdout: str) -> str:
    return _section(stdout, "FAILURES", "WARNINGS")


def _section(stdout: str, start: str, end: str, *, width: int = 400) -> str:
    """The CLI's section `start`, up to `end`, each line cut to `width` (generated query strings run for
    pages)."""
    section = stdout.split(start, 1)[-1].split(end, 1)[0]
    return "\n".join(line[:width] for line in section.splitlines())
