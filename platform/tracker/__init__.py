"""Projects and tasks: the task lifecycle, the append-only activity log and the outbox (tenant schema)."""
