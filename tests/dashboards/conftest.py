"""Fixtures of the web UI tests: the committed world, a live gunicorn on the test database, chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from tenancy.models import Tenant
from tests.conftest import TEST_PASSWORD
from tests.dashboards.browser import ConsoleLog, chromium, require_chromium
from tests.dashboards.world import WebWorld, build_world, destroy_world
from tests.live import LiveServer, gunicorn

# Module scope: the committed world, its server and the browser live while one test module runs (the
# browser tests), and the world is dropped afterwards, before any other module could see it.


@pytest.fixture(scope="module")
def web_world(tenants: dict[str, Tenant], django_db_blocker: Any) -> Iterator[WebWorld]:
    require_chromium()  # only the browser tests use the world: fail before building it
    with django_db_blocker.unblock():
        world = build_world(tenants["alpha"])
    yield world
    with django_db_blocker.unblock():
        destroy_world(world, tenants["alpha"])


@pytest.fixture(scope="module")
def web_sessions(web_world: WebWorld, django_db_blocker: Any) -> dict[str, str]:
    """A committed session per role of the web world ({"MANAGER": session key, ...}): the tests that are
    not about signing in skip the login form (and its deliberately slow password hash)."""
    sessions = {}
    with django_db_blocker.unblock():
        for role, user in (
            ("ADMIN", web_world.admin),
            ("MANAGER", web_world.manager),
            ("MEMBER", web_world.member),
        ):
            client = Client()
            client.force_login(user)
            sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return sessions


@pytest.fixture(scope="module")
def live_server_url(web_world: WebWorld, web_sessions: dict[str, str]) -> Iterator[str]:
    """The project under gunicorn (2 workers, DEBUG so WhiteNoise serves the static files from the apps)."""
    server: LiveServer
    with gunicorn(redis_url=settings.REDIS_URL, workers=2) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser(live_server_url: str) -> Iterator[Any]:
    """Headless chromium. While it runs, Playwright's event loop is alive in this thread, so Django's
    async-safety guard is lifted for this process only (the server already runs in its own process)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with chromium() as instance:
            yield instance
            # Django keeps connections per context, and Playwright's loop makes this one its own: close
            # them here, or the test database could not be dropped at the end of the session.
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class WebPage:
    """A browser tab on the live server with its console watched; `go("/tasks/")` opens a path."""

    def __init__(self, page: Any, base_url: str, console: ConsoleLog) -> None:
        self.page = page
        self.base_url = base_url
        self.console = console

    def go(self, path: str) -> Any:
        return self.page.goto(f"{self.base_url}{path}")

    def log_in(self, email: str, password: str = TEST_PASSWORD) -> None:
        self.go("/accounts/login/")
        self.page.fill("input[name=username]", email)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def sign_in_as(self, session_key: str) -> None:
        """Use a session created by the `web_sessions` fixture."""
        self.page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": self.base_url}]
        )

    def path(self) -> str:
        url: str = self.page.url
        return url.removeprefix(self.base_url)


@pytest.fixture
def web(browser: Any, live_server_url: str) -> Iterator[WebPage]:
    """A fresh browser context (no cookies) and tab per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    console = ConsoleLog()
    console.watch(page)
    try:
        yield WebPage(page, live_server_url, console)
    finally:
        context.close()
