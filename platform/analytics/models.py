"""Projections of the activity log (tenant schema): per-task time in status, daily per-project snapshots.

Dagster (`pipelines/`) is the only writer of TaskSLA, AnalyticsSnapshot and PartitionBuild (DESIGN.md §2.3);
every row can be rebuilt from `tracker_taskactivity` for any range of days. Durations are whole seconds
(log timestamps are truncated to the second) and days are UTC. SlaPolicy is written by the admin API.

The foreign keys carry no database constraint: the rows derive from the log, whose own keys already
guarantee the task, and a year-long backfill would otherwise check one key per written row.
"""

from django.db import models

from tracker.models import Priority, Project, Status, Task


class SlaState(models.TextChoices):
    MET = "met"
    BREACHED = "breached"
    OPEN = "open"


class SlaPolicy(models.Model):
    """The SLA targets of one priority. A priority without a row uses `analytics.sla.DEFAULT_TARGETS`.

    Both clocks run only while the task is OPEN or IN_PROGRESS: time in BLOCKED (and in DONE) does not
    count. `time_to_start` stops at the first IN_PROGRESS (or DONE), `time_to_done` when the task is DONE.
    """

    priority = models.CharField(max_length=8, choices=Priority.choices, unique=True)
    time_to_start_seconds = models.PositiveIntegerField()
    time_to_done_seconds = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.priority}: start {self.time_to_start_seconds}s, done {self.time_to_done_seconds}s"


class TaskSLA(models.Model):
    """Seconds one task spent in one status within one UTC day, and its SLA state at the end of that day.

    A task has rows on a day when it existed that day, was not DONE for the whole day, and was not
    (soft-)deleted at the end of the day. Per-day attributes (project, priority, clocks, target states)
    are those at the end of the day and repeat on each of that task-day's rows.
    """

    # No single-column indexes on task and project: the unique key leads with task, the day index carries
    # project, and every index costs a year-long backfill about as much as writing the row itself.
    task = models.ForeignKey(
        Task, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices)
    seconds = models.IntegerField(help_text="Seconds in `status` within the day (0 to 86 400).")
    in_status_at_end = models.BooleanField(help_text="The task was in `status` at the end of the day.")
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    priority = models.CharField(max_length=8, choices=Priority.choices)
    start_clock_seconds = models.BigIntegerField(help_text="Time-to-start clock at the end of the day.")
    done_clock_seconds = models.BigIntegerField(help_text="Time-to-done clock at the end of the day.")
    start_target_state = models.CharField(max_length=8, choices=SlaState.choices)
    done_target_state = models.CharField(max_length=8, choices=SlaState.choices)
    built_at = models.DateTimeField(
        help_text="When this row's values were last written (not rewritten if equal)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "day", "status"], name="task_sla_task_day_status_uniq"),
        ]
        indexes = [
            # The pipeline rewrites ranges of days; the reports read ranges of days of some projects.
            models.Index(fields=["day", "project"], name="task_sla_day_project_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.day} {self.status} {self.seconds}s"


class AnalyticsSnapshot(models.Model):
    """One project's figures for one UTC day.

    Counts of events are distinct tasks (a task completed twice in one day counts once). Tasks deleted at
    the end of the day are left out of that day entirely. Durations are seconds; percentiles are
    `percentile_disc` (an observed value), null when there is nothing to measure.
    """

    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    day = models.DateField()
    # Flow of the day.
    tasks_created = models.IntegerField()
    tasks_started = models.IntegerField(help_text="Tasks that entered IN_PROGRESS for the first time.")
    tasks_completed = models.IntegerField(help_text="Tasks that moved to DONE (throughput).")
    tasks_reopened = models.IntegerField(help_text="Tasks that moved out of DONE.")
    tasks_blocked = models.IntegerField(help_text="Tasks that moved to BLOCKED.")
    # Cumulative flow: tasks in each status at the end of the day.
    end_open = models.IntegerField()
    end_in_progress = models.IntegerField()
    end_blocked = models.IntegerField()
    end_done = models.IntegerField()
    # Of the tasks completed that day: first IN_PROGRESS → DONE, and created → DONE.
    cycle_time_p50 = models.BigIntegerField(null=True)
    cycle_time_p85 = models.BigIntegerField(null=True)
    cycle_time_p95 = models.BigIntegerField(null=True)
    lead_time_p50 = models.BigIntegerField(null=True)
    lead_time_p85 = models.BigIntegerField(null=True)
    lead_time_p95 = models.BigIntegerField(null=True)
    # Age (since creation) of the tasks not DONE at the end of the day.
    open_age_p50 = models.BigIntegerField(null=True)
    open_age_p85 = models.BigIntegerField(null=True)
    open_age_max = models.BigIntegerField(null=True)
    # Sum over the project's tasks of the seconds spent in each status that day (TaskSLA).
    time_open_seconds = models.BigIntegerField()
    time_in_progress_seconds = models.BigIntegerField()
    time_blocked_seconds = models.BigIntegerField()
    # Tasks with TaskSLA rows that day, by target state at the end of the day.
    sla_start_met = models.IntegerField()
    sla_start_breached = models.IntegerField()
    sla_done_met = models.IntegerField()
    sla_done_breached = models.IntegerField()
    built_at = models.DateTimeField(
        help_text="When this row's values were last written (not rewritten if equal)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "day"], name="snapshot_project_day_uniq")]
        indexes = [models.Index(fields=["day"], name="snapshot_day_idx")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.day}"


class PartitionBuild(models.Model):
    """When each day was last built, whether or not the build changed a row: the `as_of` of the figures.

    Projection rows keep their `built_at` when a rebuild finds them equal, so they alone cannot tell a
    reader that an unchanged day was re-checked against the log a minute ago; this table can.
    """

    day = models.DateField(unique=True)
    built_at = models.DateTimeField()
    log_seq = models.BigIntegerField(help_text="Highest activity `seq` the build read (0 for an empty log).")

    def __str__(self) -> str:
        return f"{self.day} built {self.built_at:%Y-%m-%d %H:%M:%S}"
