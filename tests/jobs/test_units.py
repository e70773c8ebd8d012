"""The small pure parts: SLA clocks, retry backoff, webhook signatures and URL safety, tenant resolution."""

import hashlib
import hmac
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from analytics.sla import SlaTarget
from background.base import MissingTenantError, resolve_tenant, tenant_job_kwargs
from background.idempotency import claim
from background.retry import backoff_seconds
from sla.clock import task_clocks
from tenancy.models import Tenant
from tests.jobs import worker_extras
from webhooks.signing import signature, verify
from webhooks.url_safety import UnsafeUrlError, check_webhook_url

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TARGETS = SlaTarget(time_to_start_seconds=100, time_to_done_seconds=1000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def clocks(changes: list[tuple[float, str]], now: float) -> dict[str, tuple[float, float, str]]:
    result = task_clocks(
        created_at=T0, status_changes=[(at(s), status) for s, status in changes], now=at(now), targets=TARGETS
    )
    return {clock.target: (clock.elapsed_seconds, clock.paused_seconds, clock.state) for clock in result}


class TestSlaClock:
    def test_an_open_task_runs_both_clocks_and_warns_at_eighty_percent(self) -> None:
        assert clocks([], now=79) == {"time_to_start": (79, 0, "ok"), "time_to_done": (79, 0, "ok")}
        assert clocks([], now=80)["time_to_start"] == (80, 0, "warning")
        assert clocks([], now=101)["time_to_start"] == (101, 0, "breached")

    def test_starting_stops_the_start_clock_met_or_late(self) -> None:
        assert clocks([(50, "IN_PROGRESS")], now=500)["time_to_start"] == (50, 0, "met")
        assert clocks([(150, "IN_PROGRESS")], now=500)["time_to_start"] == (150, 0, "breached")

    def test_time_in_blocked_is_paused_and_reported(self) -> None:
        changes = [(10, "IN_PROGRESS"), (20, "BLOCKED"), (5020, "IN_PROGRESS")]
        assert clocks(changes, now=5100)["time_to_done"] == (100, 5000, "ok")

    def test_done_stops_the_clock_and_reopening_resumes_it(self) -> None:
        changes = [(10, "IN_PROGRESS"), (900, "DONE")]
        assert clocks(changes, now=99_999)["time_to_done"] == (900, 0, "met")
        reopened = [*changes, (5000, "OPEN")]
        assert clocks(reopened, now=5050)["time_to_done"] == (950, 0, "warning")

    def test_only_running_clocks_raise_alerts(self) -> None:
        [start, done] = task_clocks(
            created_at=T0, status_changes=[(at(500), "IN_PROGRESS")], now=at(600), targets=TARGETS
        )
        assert start.state == "breached" and start.level is None  # finished late: reported, not alerted
        assert done.level is None and done.remaining_seconds == 400


class TestRetryBackoff:
    @override_settings(JOBS_RETRY_BACKOFF_SECONDS=2.0, JOBS_RETRY_BACKOFF_MAX_SECONDS=600.0)
    def test_delays_grow_exponentially_with_jitter_up_to_the_cap(self) -> None:
        rng = random.Random(7)
        for retries, cap in [(0, 2), (1, 4), (3, 16), (8, 512), (9, 600), (20, 600)]:
            draws = {backoff_seconds(retries, rng=rng) for _ in range(50)}
            assert all(cap / 2 <= draw <= cap for draw in draws), (retries, draws)
            assert len(draws) > 10  # jitter: the retries of jobs that failed together spread out


class TestWebhookSignature:
    def test_signature_is_hmac_sha256_of_the_raw_body(self) -> None:
        body = b'{"event_type":"task.created"}'
        expected = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
        assert signature(secret="s3cret-s3cret-s3cret", body=body) == f"sha256={expected}"
        assert verify(secret="s3cret-s3cret-s3cret", body=body, header_value=f"sha256={expected}")
        assert not verify(secret="s3cret-s3cret-s3cret", body=body + b" ", header_value=f"sha256={expected}")
        assert not verify(secret="s3cret-s3cret-s3cret", body=body, header_value="")


class TestWebhookUrlSafety:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/hook",
            "http://localhost:8000/hook",
            "http://10.1.2.3/hook",
            "http://172.16.0.9/hook",
            "https://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://[fe80::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://100.64.0.1/hook",
        ],
    )
    def test_private_loopback_and_link_local_addresses_are_refused(self, url: str) -> None:
        with pytest.raises(UnsafeUrlError, match="loopback, private or link-local"):
            check_webhook_url(url, allow_private=False)

    def test_a_public_address_is_allowed_and_private_ones_only_when_the_setting_says_so(self) -> None:
        check_webhook_url("https://93.184.216.34/hook", allow_private=False)
        check_webhook_url("http://127.0.0.1:9000/hook", allow_private=True)
        with override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=False), pytest.raises(UnsafeUrlError):
            check_webhook_url("http://127.0.0.1:9000/hook")

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("ftp://93.184.216.34/hook", "http:// or https://"),
            ("http://user:pw@93.184.216.34/hook", "Credentials"),
            ("http://0.0.0.0/hook", "cannot receive"),
            ("http://224.0.0.1/hook", "cannot receive"),
            ("http://no-such-host.invalid/hook", "does not resolve"),
        ],
    )
    def test_other_unusable_urls_are_refused_even_in_development(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeUrlError, match=reason):
            check_webhook_url(url, allow_private=True)


class TestTenantResolution:
    @pytest.mark.parametrize("raw", [None, "", "not-a-uuid", str(uuid.uuid4())])
    def test_a_message_without_a_valid_tenant_is_refused(self, raw: object, db: None) -> None:
        with pytest.raises(MissingTenantError):
            resolve_tenant(raw, job="tests.record_schema")

    def test_the_public_schema_is_never_a_tenant(self, db: None) -> None:
        public = Tenant.objects.filter(schema_name="public").first()
        if public is not None:
            with pytest.raises(MissingTenantError):
                resolve_tenant(str(public.id), job="tests.record_schema")

    def test_a_tenant_resolves_by_its_id(self, tenant: Tenant) -> None:
        assert resolve_tenant(str(tenant.id), job="tests.record_schema") == tenant

    def test_the_producer_refuses_to_send_a_job_without_a_tenant(self, tenant: Tenant) -> None:
        with pytest.raises(MissingTenantError, match="needs tenant_id"):
            worker_extras.record_schema.apply_async(kwargs={"marker": "x"})
        assert tenant_job_kwargs(tenant=tenant, marker="x") == {"tenant_id": str(tenant.id), "marker": "x"}


def test_a_dedupe_key_is_claimed_once(tenant: Tenant) -> None:
    from tenancy.schema import activate_tenant

    activate_tenant(tenant)
    with transaction.atomic():
        assert claim(job="tests.job", key="outbox:1") is True
        assert claim(job="tests.job", key="outbox:1") is False
        assert claim(job="tests.other-job", key="outbox:1") is True


def test_a_tasks_target_clocks_come_from_its_own_log(tenant: Tenant, make_user: Any) -> None:
    from accounts.models import Role
    from sla.selectors import task_target_clocks
    from tenancy.schema import activate_tenant
    from tracker import services as tracker

    activate_tenant(tenant)
    manager = make_user(tenant=tenant, role=Role.MANAGER)
    project = tracker.create_project(actor=manager, name="Clocks", key="CLK")
    start = datetime.now(UTC) - timedelta(hours=2)
    task = tracker.create_task(actor=manager, project=project, title="Measure me", occurred_at=start)
    for minutes, status in ((30, "IN_PROGRESS"), (60, "BLOCKED")):
        tracker.transition_task(
            task=task, actor=manager, to_status=status, occurred_at=start + timedelta(minutes=minutes)
        )

    start_clock, done_clock = task_target_clocks(task=task, now=start + timedelta(hours=2))

    assert (start_clock.elapsed_seconds, start_clock.state) == (1800, "met")
    assert (done_clock.elapsed_seconds, done_clock.paused_seconds) == (3600, 3600)
    assert done_clock.state == "ok" and done_clock.remaining_seconds == 7 * 24 * 3600 - 3600


def test_an_sla_line_crossed_long_ago_is_recorded_without_notifying(tenant: Tenant, make_user: Any) -> None:
    from accounts.models import Role
    from notifications.models import Notification
    from sla.models import SlaAlert
    from sla.services import check_sla
    from tenancy.schema import activate_tenant
    from tracker import services as tracker

    activate_tenant(tenant)
    manager = make_user(tenant=tenant, role=Role.MANAGER)
    assignee = make_user(tenant=tenant, role=Role.MEMBER)
    project = tracker.create_project(actor=manager, name="Stale", key="STL")
    now = datetime.now(UTC)
    # URGENT starts within 1 h by default: one task crossed that line ten days ago, one an hour ago.
    old, fresh = (
        tracker.create_task(
            actor=manager,
            project=project,
            title=title,
            priority="URGENT",
            assignee=assignee,
            occurred_at=when,
        )
        for title, when in (("Old", now - timedelta(days=10)), ("Fresh", now - timedelta(hours=2)))
    )

    raised = {(alert.task_id, alert.level): alert.notified for alert in check_sla(tenant=tenant, now=now)}

    assert raised[(fresh.pk, "breached")] is True
    assert raised[(old.pk, "breached")] is False
    assert SlaAlert.objects.filter(task=old, level="breached").exists()
    assert not Notification.objects.filter(task=old).exists()
    assert Notification.objects.filter(task=fresh, recipient=assignee).exists()
