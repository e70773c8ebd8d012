"""Input and output shapes of /api/v1/analytics/*.

The input is the date range (`from`, `to`: inclusive UTC days). The outputs are documents built and cached
by `analytics.selectors` and served as cached bytes; the serializers below exist to document them in the
OpenAPI schema (a test checks the documents have exactly these fields).
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from analytics.selectors import DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS, SNAPSHOT_METRICS, range_days, utc_today
from api.errors import ProblemError


class RangeTooLongError(ProblemError):
    status_code = 400
    default_code = "range_too_long"
    default_detail = f"Ask for at most {MAX_RANGE_DAYS} days."


class InvalidRangeError(ProblemError):
    status_code = 400
    default_code = "invalid_range"
    default_detail = "`from` must not be after `to`."


class DateRangeInput(serializers.Serializer):
    """`from` and `to` (YYYY-MM-DD, both included), each optional. Unknown parameters are 400s."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword, so the fields are named here rather than as class attributes.
        return {
            "from": serializers.DateField(required=False, input_formats=["iso-8601"]),
            "to": serializers.DateField(required=False, input_formats=["iso-8601"]),
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(name for name in data if name not in ("from", "to"))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown query parameter; known: from, to."] for name in unknown}
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """`to` defaults to today, `from` to 30 days ending at `to` (DEFAULT_RANGE_DAYS)."""
        last: dt.date = attrs.get("to") or utc_today()
        first: dt.date = attrs.get("from") or last - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if first > last:
            raise InvalidRangeError(f"`from` ({first}) is after `to` ({last}).")
        if range_days(first, last) > MAX_RANGE_DAYS:
            raise RangeTooLongError(
                f"The range has {range_days(first, last)} days; ask for at most {MAX_RANGE_DAYS}.",
                max_days=MAX_RANGE_DAYS,
            )
        return {"first_day": first, "last_day": last}


# --- Documentation of the documents ------------------------------------------------------------------------


class ProjectRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    key = serializers.CharField()
    name = serializers.CharField()


class OverviewProjectRefOutput(ProjectRefOutput):
    archived = serializers.BooleanField()


class DailyRowOutput(serializers.Serializer):
    """One built day; every AnalyticsSnapshot metric (counts, end-of-day WIP, percentiles in seconds)."""

    day = serializers.DateField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in SNAPSHOT_METRICS:
            fields[name] = serializers.IntegerField(allow_null=True)
        return fields


class StatusCountsOutput(serializers.Serializer):
    OPEN = serializers.IntegerField()
    IN_PROGRESS = serializers.IntegerField()
    BLOCKED = serializers.IntegerField()
    DONE = serializers.IntegerField()


class TimeInStatusOutput(serializers.Serializer):
    OPEN = serializers.IntegerField()
    IN_PROGRESS = serializers.IntegerField()
    BLOCKED = serializers.IntegerField()


class TotalsOutput(serializers.Serializer):
    """Sums over the built days; percentiles are daily percentiles weighted by each day's completions."""

    tasks_created = serializers.IntegerField()
    tasks_started = serializers.IntegerField()
    tasks_completed = serializers.IntegerField()
    tasks_reopened = serializers.IntegerField()
    tasks_blocked = serializers.IntegerField()
    throughput_per_day = serializers.FloatField(help_text="tasks_completed / days in the range")
    time_in_status_seconds = TimeInStatusOutput()
    cycle_time_p50 = serializers.IntegerField(allow_null=True)
    cycle_time_p85 = serializers.IntegerField(allow_null=True)
    lead_time_p50 = serializers.IntegerField(allow_null=True)
    lead_time_p85 = serializers.IntegerField(allow_null=True)
    wip_at_end = StatusCountsOutput(
        allow_null=True, help_text="Tasks per status at the end of the last built day."
    )
    open_age_max_at_end = serializers.IntegerField(allow_null=True)


class SlaTotalsOutput(serializers.Serializer):
    """Target outcomes (time to start and time to done) of the tasks active in the range."""

    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    open = serializers.IntegerField()
    breach_rate = serializers.FloatField(allow_null=True, help_text="breached / (met + breached)")


class LiveOutput(serializers.Serializer):
    by_status = StatusCountsOutput(help_text="Tasks per status now (deleted tasks left out).")
    computed_at = serializers.DateTimeField()


class ProjectAnalyticsOutput(serializers.Serializer):
    project = ProjectRefOutput()
    to = serializers.DateField()
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="When the newest day in the range was built (null: none built yet)."
    )
    days_in_range = serializers.IntegerField()
    days_built = serializers.IntegerField()
    metrics = serializers.ListField(child=serializers.CharField(), help_text="The metric names of `series`.")
    series = DailyRowOutput(many=True)
    totals = TotalsOutput()
    sla = SlaTotalsOutput()
    live = LiveOutput()

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateField(), **super().get_fields()}


class SlaByTargetOutput(serializers.Serializer):
    target = serializers.ChoiceField(choices=["time_to_start", "time_to_done"])
    priority = serializers.CharField()
    target_seconds = serializers.IntegerField()
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    open = serializers.IntegerField()
    breach_rate = serializers.FloatField(allow_null=True)
    p50_seconds = serializers.IntegerField(allow_null=True)
    p85_seconds = serializers.IntegerField(allow_null=True)


class AtRiskOutput(serializers.Serializer):
    task_id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    target = serializers.CharField()
    level = serializers.ChoiceField(choices=["warning", "breached"])
    elapsed_seconds = serializers.IntegerField()
    target_seconds = serializers.IntegerField()
    used = serializers.FloatField(help_text="elapsed / target")


class ProjectSlaOutput(serializers.Serializer):
    project = ProjectRefOutput()
    to = serializers.DateField()
    as_of = serializers.DateTimeField(allow_null=True)
    tasks_measured = serializers.IntegerField()
    totals = SlaTotalsOutput()
    by_target = SlaByTargetOutput(many=True)
    at_risk_as_of_day = serializers.DateField(allow_null=True)
    at_risk = AtRiskOutput(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateField(), **super().get_fields()}


class ThroughputPointOutput(serializers.Serializer):
    day = serializers.DateField()
    completed = serializers.IntegerField()


class OverviewLiveOutput(serializers.Serializer):
    by_status = StatusCountsOutput()


class OverviewProjectOutput(serializers.Serializer):
    project = OverviewProjectRefOutput()
    days_built = serializers.IntegerField()
    totals = TotalsOutput()
    sla = SlaTotalsOutput()
    throughput = ThroughputPointOutput(many=True)
    live = OverviewLiveOutput()


class OverviewOutput(serializers.Serializer):
    to = serializers.DateField()
    as_of = serializers.DateTimeField(allow_null=True)
    days_in_range = serializers.IntegerField()
    projects = OverviewProjectOutput(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateField(), **super().get_fields()}
