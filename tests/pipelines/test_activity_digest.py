"""activity_day's digest of a day: its fingerprint (the data version of a single-day run) moves when that
day's slice of the log gains a row, backdated ones included, and only then."""

from __future__ import annotations

import datetime as dt

from pipelines.partitions import TenantDays
from pipelines.projections import DayActivity, day_activity
from pipelines.resources import TenantDatabase
from tenancy.models import Tenant
from tests.pipelines.activity import ActivityWriter, at

JAN_2, JAN_3 = dt.date(2025, 1, 2), dt.date(2025, 1, 3)


def digests(tenant: Tenant) -> dict[dt.date, DayActivity]:
    with TenantDatabase().tenant(tenant.slug) as session:
        days = day_activity(session, TenantDays(tenant.slug, JAN_2, JAN_3), now=at("2025-01-10"))
    return {day.day: day for day in days}


def test_a_backdated_row_changes_the_fingerprint_of_its_day_only(
    writer: ActivityWriter, in_tenant: Tenant
) -> None:
    ops = writer.project("OPS", created_at=at("2025-01-01", "08:00"))
    task = writer.create(ops, at("2025-01-02", "09:00"))
    writer.move(task, "IN_PROGRESS", at("2025-01-03", "10:00"))
    before = digests(in_tenant)

    writer.move(task, "BLOCKED", at("2025-01-02", "18:00"))  # appended last, dated the 2nd
    after = digests(in_tenant)

    assert after[JAN_2].fingerprint != before[JAN_2].fingerprint
    assert (after[JAN_2].rows, after[JAN_2].tasks) == (2, 1)
    assert after[JAN_2].by_verb == {"created": 1, "status_changed": 1}
    assert after[JAN_2].last_seq == after[JAN_3].last_seq + 1
    assert after[JAN_3] == before[JAN_3]


def test_an_unchanged_log_gives_the_same_digests(writer: ActivityWriter, in_tenant: Tenant) -> None:
    ops = writer.project("OPS", created_at=at("2025-01-01", "08:00"))
    writer.create(ops, at("2025-01-02", "09:00"))
    assert digests(in_tenant) == digests(in_tenant)
    assert set(digests(in_tenant)) == {JAN_2}
