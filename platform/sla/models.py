"""The record of SLA alerts raised, in each tenant's schema: at most one per task, target and level."""

from django.db import models


class SlaTargetName(models.TextChoices):
    TIME_TO_START = "time_to_start"
    TIME_TO_DONE = "time_to_done"


class SlaLevel(models.TextChoices):
    WARNING = "warning"  # 80% of the target used
    BREACHED = "breached"


class SlaAlert(models.Model):
    """ "This task reached this level of this target" — the unique key is what makes the check, which runs
    every minute (and may overlap itself), notify once. Alerts are never cleared: reopening a task does
    not raise the same alert again."""

    id = models.BigAutoField(primary_key=True)
    task = models.ForeignKey("tracker.Task", on_delete=models.CASCADE, related_name="sla_alerts")
    target = models.CharField(max_length=16, choices=SlaTargetName.choices)
    level = models.CharField(max_length=16, choices=SlaLevel.choices)
    elapsed_seconds = models.PositiveIntegerField()
    target_seconds = models.PositiveIntegerField()
    notified = models.BooleanField(help_text="False when a breach was found at once and the warning skipped.")
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["raised_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "target", "level"], name="sla_alert_task_target_level_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.target} {self.level}"
