"""Shared (public-schema) tables of the API layer."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first successful response to a request sent with an `Idempotency-Key` (see `api.idempotency`).

    Lives in the public schema beside users and memberships: a key is scoped to (tenant, user), and the
    tenant is null for endpoints outside any tenant. Rows older than the retention window are ignored and
    purged by `manage.py purge_idempotency_records`.
    """

    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and canonical body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "key"], name="idempotency_scope_key_unique", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"
