"""Periodic upkeep of the API's own tables (public schema)."""

from api.idempotency import purge_expired_records
from config.celery import app


@app.task(name="api.purge_idempotency_records", acks_late=True, ignore_result=True)
def purge_idempotency_records() -> int:
    """Drop Idempotency-Key records past their retention window (beat, daily). Expired records are already
    ignored by the API; this keeps the table from growing with every write ever made."""
    return purge_expired_records()
