"""The security suites' live world: two committed tenants and one gunicorn (3 workers x 2 threads, persistent
connections) in front of them, shared by the attack, pooling and log tests of the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.live import LiveServer, live_database_url
from tests.security.live import gunicorn, private_redis
from tests.security.world import World, build_world


@pytest.fixture(scope="session")
def world(django_db_setup: None, django_db_blocker: Any) -> World:
    with django_db_blocker.unblock():
        return build_world()


@pytest.fixture(scope="session")
def attack_server(world: World, django_db_blocker: Any) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        database_url = live_database_url()
    with (
        private_redis() as redis_server,
        gunicorn(database_url=database_url, redis_url=redis_server.url) as server,
    ):
        yield server
