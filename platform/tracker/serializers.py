"""Input and output shapes of the project and task endpoints.

Input serializers are strict: unknown fields, read-only fields and values of the wrong JSON type are
400s (DRF would turn `123` into `"123"` and ignore unknown keys). Rules that need the database state
(assignee membership, archived projects, the lifecycle, roles) live in `tracker.services`.
"""

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from tracker import lifecycle, selectors
from tracker.models import Priority, Project, Status, Task, TaskActivity
from tracker.services import DESCRIPTION_MAX_LENGTH, PROJECT_KEY_PATTERN, TITLE_MAX_LENGTH

_MAX_ID = 2**63 - 1


def _has_lone_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class StrictCharField(serializers.CharField):
    """Only JSON strings, and only ones PostgreSQL can store (no NUL, no lone surrogates)."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or _has_lone_surrogates(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class ProjectReferenceField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {
        "does_not_exist": "No project of this tenant has this id.",
        "incorrect_type": "Send a project id (UUID).",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Project.objects.all(), pk_field=StrictUUIDField(), **kwargs)

    def to_internal_value(self, data: Any) -> Project:
        # As PrimaryKeyRelatedField, with the lookup through the selector's memo of known projects.
        project_id = self.pk_field.to_internal_value(data)  # type: ignore[union-attr]
        project = selectors.project_reference(project_id=project_id)
        if project is None:
            self.fail("does_not_exist", pk_value=project_id)
        return project


@extend_schema_field({"type": "integer", "nullable": True, "description": "A member's user id, or null."})
class MemberReferenceField(serializers.Field):
    """A user id (JSON integer) → the User. Membership in the tenant is the service's check."""

    default_error_messages = {
        "invalid": "Send a user id (an integer) or null.",
        "unknown": "No member of this tenant has this id.",
    }

    def to_internal_value(self, data: Any) -> User:
        if isinstance(data, bool) or not isinstance(data, int) or not 1 <= data <= _MAX_ID:
            self.fail("invalid")
        user = User.objects.filter(pk=data).first()
        if user is None:
            self.fail("unknown")
        return user

    def to_representation(self, value: Any) -> Any:
        return value.pk if isinstance(value, User) else value


# Status names outside the task's own `status` field. Not an enum in the schema: drf-spectacular would
# name the same choice set a second time (StatusEnum is the one).
_STATUS_NAME_SCHEMA = {"type": "string", "description": f"One of {', '.join(Status.values)}."}


@extend_schema_field(_STATUS_NAME_SCHEMA)
class StatusNameField(serializers.CharField):
    pass


class StrictInputSerializer(serializers.Serializer):
    """Rejects unknown keys (and `read_only_inputs`, which exist but are not writable here)."""

    read_only_inputs: Mapping[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        extra: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            for name in data:
                if name in self.read_only_inputs:
                    extra[name] = [self.read_only_inputs[name]]
                elif name not in self.fields:
                    extra[name] = ["Unknown field."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if extra and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **extra}) from None
            raise
        if extra:
            raise serializers.ValidationError(extra)
        return value


def _title(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=TITLE_MAX_LENGTH, trim_whitespace=True, **kwargs)


def _description(**kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, trim_whitespace=False, **kwargs
    )


# --- projects -----------------------------------------------------------------------------------------


class ProjectCreateInput(StrictInputSerializer):
    name = _title(help_text="1-200 characters, trimmed.")
    key = StrictCharField(
        max_length=10, help_text="2-10 letters and digits, starting with a letter; stored upper-case."
    )
    description = _description(required=False, default="")

    def validate_key(self, value: str) -> str:
        key = value.upper()
        if not re.match(PROJECT_KEY_PATTERN, key):
            raise serializers.ValidationError(
                "Use 2-10 letters and digits, starting with a letter (e.g. OPS)."
            )
        return key


class ProjectUpdateInput(StrictInputSerializer):
    read_only_inputs = {
        "key": "A project's key cannot change.",
        "archived_at": "Archive with DELETE.",
        "id": "Read-only.",
        "created_at": "Read-only.",
        "created_by": "Read-only.",
    }
    name = _title(required=False)
    description = _description(required=False)


class ProjectOutput(serializers.ModelSerializer):
    created_by = serializers.IntegerField(source="created_by_id", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "key", "name", "description", "created_by", "created_at", "archived_at"]
        read_only_fields = fields


# --- tasks --------------------------------------------------------------------------------------------

_TASK_READ_ONLY = {
    "id": "Read-only.",
    "reporter": "The reporter is whoever created the task.",
    "version": "Read-only; send If-Match to guard against concurrent changes.",
    "created_at": "Read-only.",
    "updated_at": "Read-only.",
    "deleted_at": "Delete with DELETE, restore with POST …/restore/.",
    "allowed_transitions": "Read-only.",
}


class TaskCreateInput(StrictInputSerializer):
    read_only_inputs = {**_TASK_READ_ONLY, "status": "A task always starts OPEN; change it with PATCH."}
    project = ProjectReferenceField()
    title = _title(help_text="1-200 characters, trimmed.")
    description = _description(required=False, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.MEDIUM)
    assignee = MemberReferenceField(required=False, allow_null=True, default=None)
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="ISO 8601.")


class TaskUpdateInput(StrictInputSerializer):
    """Any subset of the fields; the status moves along the lifecycle in the same change."""

    read_only_inputs = _TASK_READ_ONLY
    project = ProjectReferenceField(required=False)
    title = _title(required=False)
    description = _description(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = MemberReferenceField(required=False, allow_null=True)
    due_at = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601.")
    status = serializers.ChoiceField(choices=Status.choices, required=False)


# ChoiceField output: the choice's value for a known one, anything else as it is.
_STATUS_OUTPUT = {str(value): value for value, _label in Status.choices}
_PRIORITY_OUTPUT = {str(value): value for value, _label in Priority.choices}


def _current_timezone() -> Any:
    """The zone DRF's DateTimeField renders in (`DateTimeField.default_timezone`)."""
    return timezone.get_current_timezone() if settings.USE_TZ else None


class TaskOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True, allow_null=True)
    reporter = serializers.IntegerField(source="reporter_id", read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text="Statuses the lifecycle allows next (your role may allow fewer)."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "project",
            "title",
            "description",
            "status",
            "allowed_transitions",
            "priority",
            "assignee",
            "reporter",
            "due_at",
            "version",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": _STATUS_NAME_SCHEMA})
    def get_allowed_transitions(self, task: Task) -> list[str]:
        return [str(status) for status in lifecycle.allowed_targets(task.status)]

    def to_representation(self, task: Task) -> dict[str, Any]:
        """The declared fields' output, written out: a list page renders 50 tasks of 14 fields, and DRF's
        generic path (building the ModelSerializer's fields, then per value an attribute walk and, per
        date-time, a lookup of the current time zone) was the largest cost of the endpoint. Each value
        goes through what its field would do; `test_task_output_matches_the_declared_fields` compares
        this with DRF's own rendering."""
        moment = self._datetime_output()
        return {
            "id": str(task.id),
            "project": str(task.project_id),
            "title": str(task.title),
            "description": str(task.description),
            "status": _STATUS_OUTPUT.get(str(task.status), task.status),
            "allowed_transitions": self.get_allowed_transitions(task),
            "priority": _PRIORITY_OUTPUT.get(str(task.priority), task.priority),
            "assignee": None if task.assignee_id is None else int(task.assignee_id),
            "reporter": int(task.reporter_id),
            "due_at": None if task.due_at is None else moment(task.due_at),
            "version": int(task.version),
            "created_at": moment(task.created_at),
            "updated_at": moment(task.updated_at),
            "deleted_at": None if task.deleted_at is None else moment(task.deleted_at),
        }

    def _datetime_output(self) -> Any:
        """DRF's DateTimeField rendering, with the current time zone read once per serializer (per page),
        not once per value."""
        field = getattr(self, "_datetime_field", None)
        if field is None:
            field = serializers.DateTimeField(default_timezone=_current_timezone())
            self._datetime_field = field
        return field.to_representation


class ActivityOutput(serializers.ModelSerializer):
    task = serializers.UUIDField(source="task_id", read_only=True)
    actor = serializers.IntegerField(source="actor_id", read_only=True)
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2, allow_null=True),
        help_text="{field: [old, new]} (see docs/activity-log.md).",
    )

    class Meta:
        model = TaskActivity
        fields = ["seq", "task", "actor", "verb", "changes", "occurred_at", "prev_hash", "hash"]
        read_only_fields = fields


class SlaTargetOutput(serializers.Serializer):
    """One SLA target of the task (policy per priority; time in BLOCKED is paused, not counted)."""

    target = serializers.ChoiceField(choices=["time_to_start", "time_to_done"])
    target_seconds = serializers.IntegerField()
    elapsed_seconds = serializers.FloatField(help_text="Counted time, BLOCKED excluded.")
    paused_seconds = serializers.FloatField(help_text="Time spent BLOCKED while the clock ran.")
    remaining_seconds = serializers.FloatField()
    state = serializers.ChoiceField(choices=["ok", "warning", "breached", "met"])


class SlaOutput(serializers.Serializer):
    task = serializers.UUIDField(source="task_id")
    current_status = StatusNameField()
    status_since = serializers.DateTimeField(help_text="When the task entered its current status.")
    as_of = serializers.DateTimeField(help_text="The end of the open interval (now).")
    seconds_in_status = serializers.SerializerMethodField(
        help_text="Seconds spent in each status, the current one counted up to `as_of`."
    )
    total_seconds = serializers.SerializerMethodField(help_text="The task's age: the sum of the above.")
    targets = serializers.SerializerMethodField(help_text="Each SLA target's clock and state as of `as_of`.")

    @extend_schema_field(
        {
            "type": "object",
            "properties": {status: {"type": "number"} for status in Status.values},
            "required": list(Status.values),
        }
    )
    def get_seconds_in_status(self, sla: Any) -> dict[str, float]:
        return {status: duration.total_seconds() for status, duration in sla.durations.items()}

    def get_total_seconds(self, sla: Any) -> float:
        return float(sla.total.total_seconds())

    @extend_schema_field(SlaTargetOutput(many=True))
    def get_targets(self, sla: Any) -> list[dict[str, Any]]:
        return list(SlaTargetOutput(self.context.get("targets", []), many=True).data)
