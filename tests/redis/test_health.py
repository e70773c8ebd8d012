"""/readyz names Redis when it does not answer, and shows this process's fallback counters."""

from typing import Any

from django.test import Client


def test_readyz_is_ok_with_redis_up(db: None) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"postgres": "ok", "redis": "ok"}
    assert {"rate_limit_fail_open", "cache_bypassed"} <= body["redis_fallbacks"].keys()


def test_readyz_is_503_naming_redis_when_it_is_down(settings: Any, db: None) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"] == {"postgres": "ok", "redis": "failing"}
