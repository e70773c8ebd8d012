"""Hardening: security headers, a content security policy the pages satisfy without inline script, HSTS and
secure cookies in production, short-lived access tokens with single-use refresh tokens, PBKDF2 at Django's
defaults.

Production settings (DEBUG off) are read at import, so they are checked in a subprocess started with a
production environment, against the session's test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings, settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher
from django.test import Client
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.models import Role, User
from tests.live import REPO_ROOT, live_database_url
from tests.security.world import World

DASHBOARD_TEMPLATES = REPO_ROOT / "dashboards" / "templates"


def _policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


class InlineCode(HTMLParser):
    """Collects what a strict CSP blocks: inline <script> bodies, on* handlers and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_script = True
            src = values.get("src") or ""
            if not src:
                self.problems.append("<script> without src")
            elif "://" in src or src.startswith("//"):
                self.problems.append(f"<script src={src!r}> from another origin")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline handler")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body: {data.strip()[:80]!r}")


def _inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


@pytest.mark.django_db
def test_every_kind_of_response_carries_the_security_headers(world: World) -> None:
    client = Client()
    client.force_login(world.a.users[Role.MEMBER])
    responses = {
        "API error": Client().get("/api/v1/tasks/", headers={"X-Tenant-ID": world.a.id}),
        "API not found": Client().get("/api/v1/no-such-thing/"),
        "API page": Client().get("/api/v1/schema/?format=json"),
        "probe": Client().get("/healthz"),
        "web page": client.get("/tasks/"),
        "login page": Client().get("/accounts/login/"),
        "static file": Client().get("/static/dashboards/charts.js"),
    }
    for name, response in responses.items():
        assert response.status_code in (200, 401, 404), (name, response.status_code)
        assert response["X-Content-Type-Options"] == "nosniff", name
        if name != "static file":  # WhiteNoise answers before Django's frame middleware; CSP covers it
            assert response["X-Frame-Options"] == "DENY", name
        assert response["Referrer-Policy"] == "same-origin", name
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], (name, policy)  # no inline script, no eval, no CDN
        assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"], name
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"], name


@pytest.mark.django_db
def test_pages_satisfy_the_content_security_policy_without_inline_script(world: World) -> None:
    """Every template, and every page as rendered, loads script only from files on this origin."""
    for template in sorted(DASHBOARD_TEMPLATES.rglob("*.html")):
        assert not _inline_code(template.read_text()), (template, _inline_code(template.read_text()))

    client = Client()
    client.force_login(world.a.users[Role.MEMBER])  # one membership: no tenant to choose
    pages = [
        "/",
        "/overview/",
        "/tasks/",
        "/tasks/board/",
        "/tasks/new/",
        f"/tasks/{world.a.tasks[0]}/",
        f"/projects/{world.a.projects[0]}/",
    ]
    rendered = {page: client.get(page, follow=True) for page in pages}
    rendered["/accounts/login/"] = Client().get("/accounts/login/")
    rendered["/api/docs/"] = Client().get("/api/docs/")
    rendered["/api/redoc/"] = Client().get("/api/redoc/")
    for page, response in rendered.items():
        assert response.status_code == 200, (page, response.status_code)
        html = response.content.decode()
        assert "<script" in html or page == "/accounts/login/", page
        assert not _inline_code(html), (page, _inline_code(html))


def test_access_tokens_are_short_lived_and_refresh_tokens_single_use() -> None:
    assert timedelta(minutes=15) >= jwt_settings.ACCESS_TOKEN_LIFETIME
    assert timedelta(days=7) >= jwt_settings.REFRESH_TOKEN_LIFETIME
    assert jwt_settings.ROTATE_REFRESH_TOKENS and jwt_settings.BLACKLIST_AFTER_ROTATION
    assert "rest_framework_simplejwt.token_blacklist" in settings.SHARED_APPS
    # The reuse of a used refresh token is refused against the live server in
    # test_tenant_isolation_live.py::test_tokens_rotate_and_no_log_line_holds_a_secret_or_lacks_a_request_id.


@pytest.mark.django_db
def test_used_refresh_token_is_refused(make_user: Any) -> None:
    from rest_framework_simplejwt.tokens import RefreshToken

    user = make_user()
    refresh = str(RefreshToken.for_user(user))
    first = Client().post(
        "/api/v1/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert first.status_code == 200 and first.json()["refresh"] != refresh
    reused = Client().post(
        "/api/v1/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert reused.status_code == 401 and reused.json()["code"] == "token_not_valid"


def test_passwords_are_hashed_with_pbkdf2_at_djangos_defaults(world: World, django_db_blocker: Any) -> None:
    assert settings.PASSWORD_HASHERS == global_settings.PASSWORD_HASHERS
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    with django_db_blocker.unblock():
        stored = User.objects.get(pk=world.a.admin.pk).password  # set through create_tenant
    algorithm, iterations, _salt, _hash = stored.split("$")
    assert algorithm == "pbkdf2_sha256" and int(iterations) == PBKDF2PasswordHasher.iterations >= 1_000_000
    assert isinstance(identify_hasher(stored), PBKDF2PasswordHasher)


PRODUCTION_CHECK = """
import json
import django
django.setup()
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import Client, RequestFactory

def view(request):
    request.session["seen"] = True
    get_token(request)
    return HttpResponse("ok")

request = RequestFactory().get("/", headers={"X-Forwarded-Proto": "https"})
response = SessionMiddleware(CsrfViewMiddleware(view))(request)
session, csrf = response.cookies[settings.SESSION_COOKIE_NAME], response.cookies[settings.CSRF_COOKIE_NAME]
over_tls = Client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
plain = Client().get("/healthz")
missing = Client().get("/api/v1/no-such-thing/")
print(json.dumps({
    "debug": settings.DEBUG,
    "session": {"secure": bool(session["secure"]), "httponly": bool(session["httponly"]),
                "samesite": session["samesite"]},
    "csrf": {"secure": bool(csrf["secure"])},
    "hsts_over_tls": over_tls.headers.get("Strict-Transport-Security"),
    "hsts_plain": plain.headers.get("Strict-Transport-Security"),
    "missing": [missing.status_code, missing.headers["Content-Type"], missing.content.decode()[:400]],
}))
"""


@pytest.mark.django_db
def test_production_settings_send_hsts_behind_tls_and_secure_httponly_cookies(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": live_database_url(),
        "DEBUG": "0",
        "SECRET_KEY": "production-check-" + "x" * 40,
        "BEHIND_TLS_PROXY": "1",
        "ALLOWED_HOSTS": "testserver",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_CHECK],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["debug"] is False
    assert seen["session"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["csrf"]["secure"] is True
    assert seen["hsts_over_tls"] == "max-age=31536000; includeSubDomains"
    assert seen["hsts_plain"] is None  # never over plain HTTP (RFC 6797)
    status, content_type, body = seen["missing"]
    assert status == 404 and content_type == "application/problem+json" and "Traceback" not in body
