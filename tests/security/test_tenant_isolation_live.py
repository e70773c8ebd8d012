"""Tenant isolation under attack (OWASP API1, broken object-level authorisation), against a live gunicorn.

Every tenant-scoped operation of the OpenAPI document is tried, for every method it has, with: the other
tenant's object ids under the caller's own tenant header (every role, both ways); the caller's own ids under
the other tenant's header; no, malformed, forged (wrong key, `alg: none`, tampered), expired,
refresh-instead-of-access, unknown-user, deactivated-user and other-tenant-issued tokens; tenant headers
naming the public schema, a schema name, a slug, SQL or nothing; `ordering` and filters naming fields of
other tables; search strings with SQL and `search_path` syntax; malformed pagination. OPTIONS and HEAD on
every path join in for some variants (for all of them with --run-slow). The answers must follow the
contract (400/401/403/404), never be a 5xx, and never carry the other tenant's ids, titles, slug, schema
name, webhook secret or SLA targets. Afterwards both tenants' data must be exactly as before.

"Other-tenant-issued token": tokens are not bound to a tenant here (a user has one identity and many
memberships; the tenant comes from X-Tenant-ID), so the attack is a perfectly valid token of a user who
is only a member of tenant B, used with tenant A's header: 403 `not_a_member`, never A's data.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
import requests
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import Role
from tenancy.models import Tenant
from tests.live import LiveServer
from tests.security.attack import (
    ANY_ANSWER,
    UNAUTHENTICATED_CODES,
    Operation,
    Probe,
    judge,
    run_probes,
    tenant_operations,
)
from tests.security.world import Side, World, fingerprint
from tests.summary_plugin import SecurityCounters

pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

ROLES = (Role.ADMIN, Role.MANAGER, Role.MEMBER)
GUESSED_KEY = "a-guessed-signing-key-of-a-plausible-length"
WRONG_KEY = "not-the-server-secret-key-but-long-enough"

# Path parameters → the object of a side they name. `unique`: the id exists in one tenant only (UUIDs, and
# membership ids from the shared table); per-schema integer ids (notifications) and names (priorities)
# exist in both tenants, so "the other tenant's id" is also one of the caller's own.
ID_SOURCES: dict[tuple[str, str], tuple[bool, Any]] = {
    ("projects", "id"): (True, lambda side: side.projects[0]),
    ("tasks", "id"): (True, lambda side: side.tasks[0]),
    ("members", "id"): (True, lambda side: side.memberships[-1]),
    ("webhooks", "id"): (True, lambda side: side.webhook_id),
    ("webhooks", "webhook_id"): (True, lambda side: side.webhook_id),
    ("analytics", "project_id"): (True, lambda side: side.projects[0]),
    ("notifications", "id"): (False, lambda side: side.notification_id),
    ("sla-policies", "priority"): (False, lambda side: "URGENT"),
}

ORDERINGS = [
    "reporter__password",
    "-reporter__password",
    "assignee__email",
    "project__tasks__title",
    "created_by__password",
    "title",
    "created_at,reporter__password",
    "(SELECT 1)",
    "-created_at; DROP TABLE tracker_task; --",
]
SEARCHES = [
    "' OR '1'='1",
    "%' OR 1=1 --",
    "'; SET search_path TO {schema}, public; --",
    "set_config('search_path', '{schema}', false)",
    "\\'; SELECT pg_sleep(3); --",
    "') UNION SELECT email, password FROM accounts_user --",
    "%",
    "_",
    "\\",
    "{slug}",
    "{schema}",
    "\x00",
    "ä" * 250,
]
PAGINATION = [
    ("page_size", "²"),
    ("page_size", "0"),
    ("page_size", "-1"),
    ("page_size", "100000000000000000000"),
    ("page_size", "1e3"),
    ("cursor", "not-a-cursor"),
    ("cursor", "eyJvIjoiLWNyZWF0ZWRfYXQiLCJyIjpmYWxzZSwidiI6IngiLCJrIjoieCJ9"),
]


# Values Python parses and PostgreSQL may not store (offsets beyond ±15:59, years past the range once in
# UTC), Unicode digits: a 400 or an answer, never a database error.
EXTREME_VALUES = [
    ("created_after", "2030-01-01T00:00:00+16:24"),
    ("updated_before", "2030-01-01T00:00:00-23:59"),
    ("due_before", "9999-12-31T23:59:59-15:00"),
    ("due_after", "0001-01-01T00:00:00+15:00"),
    ("created_after", "\uff12\uff10\uff13\uff10-01-01T00:00:00Z"),  # fullwidth digits
    ("assignee", "٣"),
    ("from", "0001-01-01"),
    ("to", "9999-12-31"),
]


def _schema(server: LiveServer) -> dict[str, Any]:
    response = requests.get(f"{server.url}/api/v1/schema/", params={"format": "json"}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.json()


class Attack:
    """Builds the probes of one world; `unmapped` collects path parameters it had to guess."""

    def __init__(self, world: World, operations: list[Operation], *, full: bool) -> None:
        self.world = world
        self.operations = operations
        self.full = full  # every token and header variant also with OPTIONS and HEAD (make verify)
        self.unmapped: set[str] = set()

    # -- paths
    def _value(self, operation: Operation, param: str, side: Side) -> tuple[bool, str]:
        source = ID_SOURCES.get((operation.resource, param))
        if source is None:
            self.unmapped.add(f"{operation.name} {{{param}}}")
            return True, str(uuid.uuid4())
        unique, pick = source
        return unique, str(pick(side))

    def path(self, operation: Operation, side: Side) -> tuple[str, bool]:
        """The operation's path with `side`'s objects; True when it names an id unique to that side."""
        path, names_unique_id = operation.template, False
        for param in operation.path_params:
            unique, value = self._value(operation, param, side)
            names_unique_id = names_unique_id or unique
            path = path.replace(f"{{{param}}}", value)
        return path, names_unique_id

    @staticmethod
    def headers(token: str | None, tenant: str | None) -> tuple[tuple[str, str], ...]:
        headers = []
        if token is not None:
            headers.append(("Authorization", token))
        if tenant is not None:
            headers.append(("X-Tenant-ID", tenant))
        return tuple(headers)

    @staticmethod
    def forbidden(*sides: Side) -> frozenset[str]:
        return frozenset().union(*(side.markers() for side in sides))

    @staticmethod
    def body(operation: Operation, side: Side, other: Side) -> Any:
        """Write bodies that point at the other tenant's objects where a field can; else an empty object
        (a validation error), so that no probe changes either tenant."""
        if operation.method not in ("POST", "PUT", "PATCH"):
            return None
        if operation.name == "POST /api/v1/tasks/":
            return {"project": other.projects[0], "title": "probe"}
        if operation.name == "PATCH /api/v1/tasks/{id}/":
            return {"project": other.projects[1]}
        return {}

    # -- probe families
    def cross_object(self) -> Iterator[Probe]:
        for side in (self.world.a, self.world.b):
            other = self.world.other(side)
            for role in ROLES:
                token = f"Bearer {side.token(role)}"
                for operation in self.operations:
                    path, unique = self.path(operation, other)
                    if unique:
                        expected = frozenset({404}) if role == Role.ADMIN else frozenset({403, 404})
                    else:
                        expected = ANY_ANSWER
                    yield Probe(
                        kind=f"other tenant's ids as {role}",
                        operation=operation.name,
                        method=operation.method,
                        path=path,
                        headers=self.headers(token, side.id),
                        expected=expected,
                        forbidden=self.forbidden(other),
                        body=self.body(operation, side, other),
                    )

    def references(self) -> Iterator[Probe]:
        """The caller's own objects, pointed at the other tenant's through bodies and filters."""
        a, b = self.world.a, self.world.b
        token = f"Bearer {a.token(Role.ADMIN)}"
        own_task = f"/api/v1/tasks/{a.tasks[1]}/"
        cases: list[tuple[str, str, Any, tuple[tuple[str, str], ...], frozenset[int]]] = [
            ("PATCH", own_task, {"assignee": b.users[Role.MEMBER].pk}, (), frozenset({400})),
            ("PATCH", own_task, {"project": b.projects[0]}, (), frozenset({400})),
            ("POST", "/api/v1/tasks/", {"project": b.projects[0], "title": "x"}, (), frozenset({400})),
            ("GET", "/api/v1/tasks/", None, (("project", b.projects[0]),), frozenset({400})),
            ("GET", "/api/v1/tasks/", None, (("assignee", str(b.users[Role.MEMBER].pk)),), frozenset({200})),
            ("GET", "/api/v1/tasks/", None, (("reporter", str(b.admin.pk)),), frozenset({200})),
            (
                "GET",
                f"/api/v1/tasks/{b.deleted_task}/",
                None,
                (("include_deleted", "true"),),
                frozenset({404}),
            ),
            ("GET", "/api/v1/projects/", None, (("q", b.slug),), frozenset({200})),
        ]
        for method, path, body, params, expected in cases:
            yield Probe(
                kind="own ids pointing at the other tenant",
                operation=f"{method} {path}",
                method=method,
                path=path,
                headers=self.headers(token, a.id),
                expected=expected,
                forbidden=self.forbidden(b),
                params=params,
                body=body,
            )

    def foreign_header(self) -> Iterator[Probe]:
        for side in (self.world.a, self.world.b):
            other = self.world.other(side)
            for role in ROLES:
                token = f"Bearer {side.token(role)}"
                for method, path, body in self._every_method(side):
                    yield Probe(
                        kind=f"own ids under the other tenant's header as {role}",
                        operation=f"{method} {path}",
                        method=method,
                        path=path,
                        headers=self.headers(token, other.id),
                        expected=frozenset({403}),
                        codes=frozenset({"not_a_member"}),
                        forbidden=self.forbidden(other),
                        body=body,
                    )

    def _every_method(self, side: Side, *, extras: bool = True) -> Iterator[tuple[str, str, Any]]:
        """Each operation with `side`'s ids, plus (with `extras`) OPTIONS and HEAD on each of its paths."""
        other = self.world.other(side)
        paths = []
        for operation in self.operations:
            path, _ = self.path(operation, side)
            yield operation.method, path, self.body(operation, side, other)
            if path not in paths:
                paths.append(path)
        for path in paths if extras else []:
            yield "OPTIONS", path, None
            yield "HEAD", path, None

    def tokens(self) -> Iterator[Probe]:
        a, b = self.world.a, self.world.b
        valid = a.token(Role.ADMIN)
        variants = {
            "no token": None,
            "empty bearer": "Bearer ",
            "malformed": "Bearer not.a.jwt",
            "wrong scheme": f"Token {valid}",
            "tampered signature": f"Bearer {valid[:-2]}{'A' if valid[-2] != 'A' else 'B'}{valid[-1]}",
            "forged (wrong key)": f"Bearer {_resigned(valid, key=WRONG_KEY)}",
            "forged (alg none)": f"Bearer {_resigned(valid, key=None)}",
            "forged (other user id)": f"Bearer {_resigned(valid, key=GUESSED_KEY, user_id=b.admin.pk)}",
            "expired": f"Bearer {_expired(a)}",
            "refresh token as access token": f"Bearer {_refresh_without_record(a)}",
            "unknown user": f"Bearer {_with_user_id(valid, 2_000_000_000)}",
            "deactivated user": f"Bearer {_with_user_id(valid, a.inactive.pk if a.inactive else 0)}",
        }
        forbidden = self.forbidden(a, b)
        for name, token in variants.items():
            extras = self.full or name in ("no token", "forged (wrong key)")
            for method, path, body in self._every_method(a, extras=extras):
                yield Probe(
                    kind=f"token: {name}",
                    operation=f"{method} {path}",
                    method=method,
                    path=path,
                    headers=self.headers(token, a.id),
                    expected=frozenset({401}),
                    codes=UNAUTHENTICATED_CODES,
                    forbidden=forbidden,
                    body=body,
                )
        issued_elsewhere = f"Bearer {b.token(Role.MEMBER)}"
        for method, path, body in self._every_method(a):
            yield Probe(
                kind="token: other-tenant-issued (valid, member of B only)",
                operation=f"{method} {path}",
                method=method,
                path=path,
                headers=self.headers(issued_elsewhere, a.id),
                expected=frozenset({403}),
                codes=frozenset({"not_a_member"}),
                forbidden=forbidden,
                body=body,
            )

    def tenant_headers(self, public_tenant_id: str) -> Iterator[Probe]:
        a, b = self.world.a, self.world.b
        token = f"Bearer {a.token(Role.ADMIN)}"
        variants: dict[str, tuple[str | None, int, str]] = {
            "missing": (None, 400, "tenant_header_missing"),
            "empty": ("", 400, "tenant_header_missing"),
            "public": ("public", 400, "tenant_header_invalid"),
            "public tenant row's id": (public_tenant_id, 404, "tenant_not_found"),
            "own schema name": (a.tenant.schema_name, 400, "tenant_header_invalid"),
            "other schema name": (b.tenant.schema_name, 400, "tenant_header_invalid"),
            "slug": (a.slug, 400, "tenant_header_invalid"),
            "SQL": ("'; SET search_path TO public; --", 400, "tenant_header_invalid"),
            "two ids": (f"{a.id},{b.id}", 400, "tenant_header_invalid"),
            "nil uuid": (str(uuid.UUID(int=0)), 404, "tenant_not_found"),
            "unknown uuid": (str(uuid.uuid4()), 404, "tenant_not_found"),
        }
        for name, (value, status, code) in variants.items():
            extras = self.full or name in ("missing", "unknown uuid")
            for method, path, body in self._every_method(a, extras=extras):
                yield Probe(
                    kind=f"tenant header: {name}",
                    operation=f"{method} {path}",
                    method=method,
                    path=path,
                    headers=self.headers(token, value),
                    expected=frozenset({status}),
                    codes=frozenset({code}),
                    forbidden=self.forbidden(b),
                    body=body,
                )

    def queries(self) -> Iterator[Probe]:
        """`ordering`, filters and `q` with other tables' fields, SQL and search_path syntax, on every GET
        operation without an id; malformed pagination on every list."""
        a, b = self.world.a, self.world.b
        token = f"Bearer {a.token(Role.ADMIN)}"
        strict = {"/api/v1/tasks/", "/api/v1/projects/"}  # django-filter lists: unknown parameters are 400s
        foreign_filters = [
            ("reporter__email", b.admin.email),
            ("assignee__password__startswith", "pbkdf2"),
            ("project__name__icontains", b.slug),
            ("tenant", b.id),
            ("schema_name", b.tenant.schema_name),
            ("search_path", f"{b.tenant.schema_name},public"),
        ]
        searches = [text.format(schema=b.tenant.schema_name, slug=b.slug) for text in SEARCHES]
        for operation in self.operations:
            if operation.method != "GET" or operation.path_params:
                continue
            strict_list = operation.template in strict
            params: list[tuple[str, tuple[tuple[str, str], ...], frozenset[int]]] = []
            for ordering in ORDERINGS:
                params.append(("ordering", (("ordering", ordering),), _either(strict_list, 400)))
            for name, value in foreign_filters:
                params.append(("filter on another table", ((name, value),), _either(strict_list, 400)))
            for text in searches:
                has_q = "q" in operation.query_params
                allowed = frozenset({200, 400}) if has_q or not strict_list else frozenset({400})
                params.append(("search", (("q", text),), allowed))
            for name, value in EXTREME_VALUES:
                if name in operation.query_params:
                    params.append(("extreme value", ((name, value),), frozenset({200, 400})))
            if operation.is_list:
                for name, value in PAGINATION:
                    # A cursor is opaque: DRF's own format may read a foreign one as "the first page".
                    allowed = frozenset({400}) if name == "page_size" else frozenset({200, 400, 404})
                    params.append(("pagination", ((name, value),), allowed))
            for kind, query, expected in params:
                yield Probe(
                    kind=f"query: {kind}",
                    operation=operation.name,
                    method="GET",
                    path=operation.template,
                    headers=self.headers(token, a.id),
                    expected=expected,
                    forbidden=self.forbidden(b),
                    params=query,
                )


def _either(strict: bool, status: int) -> frozenset[int]:
    """Strict lists refuse with `status`; the others may ignore an unknown parameter (200)."""
    return frozenset({status}) if strict else frozenset({200, status})


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _resigned(token: str, *, key: str | None, **changes: Any) -> str:
    claims = {**_claims(token), **changes}
    if key is None:
        return jwt.encode(claims, key=None, algorithm="none")
    return jwt.encode(claims, key=key, algorithm="HS256")


def _with_user_id(token: str, user_id: int) -> str:
    access = AccessToken(token)
    access["user_id"] = user_id
    return str(access)


def _expired(side: Side) -> str:
    access = AccessToken.for_user(side.admin)
    access.set_exp(from_time=timezone.now() - timedelta(hours=3))
    return str(access)


def _refresh_without_record(side: Side) -> str:
    """A genuine refresh token of the admin, built without recording it (no database write here)."""
    refresh = RefreshToken()
    refresh["user_id"] = _claims(side.token(Role.ADMIN))["user_id"]
    return str(refresh)


@pytest.fixture
def public_tenant_row(django_db_blocker: Any) -> Iterator[str]:
    """A Tenant row for the public schema, as operators often create for the main domain: no client may
    select it. Committed for the server's sake and deleted afterwards (nothing else may see it)."""
    with django_db_blocker.unblock():
        row = Tenant(schema_name="public", name="Public", slug=f"public-{uuid.uuid4().hex[:8]}")
        row.save(verbosity=0)
    try:
        yield str(row.pk)
    finally:
        with django_db_blocker.unblock():
            Tenant.objects.filter(pk=row.pk).delete()


def test_no_probe_crosses_tenants_or_breaks_the_contract(
    request: pytest.FixtureRequest,
    world: World,
    attack_server: LiveServer,
    public_tenant_row: str,
    django_db_blocker: Any,
    security_counters: SecurityCounters,
) -> None:
    with django_db_blocker.unblock():
        before = (fingerprint(world.a), fingerprint(world.b))
    full = bool(request.config.getoption("--run-slow"))
    attack = Attack(world, tenant_operations(_schema(attack_server)), full=full)
    assert len(attack.operations) >= 30, [operation.name for operation in attack.operations]

    probes = [
        *attack.cross_object(),
        *attack.references(),
        *attack.foreign_header(),
        *attack.tokens(),
        *attack.tenant_headers(public_tenant_row),
        *attack.queries(),
    ]
    verdict = judge(run_probes(attack_server.url, probes))
    with django_db_blocker.unblock():
        after = (fingerprint(world.a), fingerprint(world.b))

    kinds = Counter(probe.kind.split(" as ")[0].split(":")[0] for probe in probes)
    print(
        f"\ntenant isolation: {len(probes)} probes over {len(attack.operations)} operations "
        f"({', '.join(f'{kind} {count}' for kind, count in sorted(kinds.items()))}); "
        f"{len(verdict.server_errors)} 5xx, {len(verdict.leaks)} leaks, "
        f"{len(verdict.failures)} contract failures"
    )
    if attack.unmapped:
        print(f"path parameters without a world object (probed with random ids): {sorted(attack.unmapped)}")
    security_counters.add("probes", len(probes))
    security_counters.add("leaks", len(verdict.leaks))
    security_counters.add("server_errors", len(verdict.server_errors))

    assert not verdict.server_errors and not verdict.leaks and not verdict.failures, verdict.summary()
    assert after == before, "a refused probe changed a tenant's data"


APP_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ (?P<logger>\S+) \[(?P<request_id>[^\]]*)\] "
)
ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} .* request_id=(?P<request_id>\S*)$')
BARE_DJANGO_LINE = re.compile(r"^[A-Z][A-Za-z ]+: /")  # Django's own handler: "Not Found: /api/..."
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")
REQUEST_SCOPED_LOGGERS = ("django.request", "api", "tenancy", "accounts", "tracker")


def test_tokens_rotate_and_no_log_line_holds_a_secret_or_lacks_a_request_id(
    world: World, attack_server: LiveServer, security_counters: SecurityCounters
) -> None:
    """Runs after the attack (same server, same log): real logins with the password, a wrong password, a
    refresh-token rotation with the reuse of a used refresh token; then reads every line the server wrote."""
    from django.conf import settings

    from tests.security.world import WORLD_PASSWORD

    base = f"{attack_server.url}/api/v1"
    email = world.a.admin.email
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    refused = requests.post(
        f"{base}/auth/token/", json={"email": email, "password": wrong_password}, timeout=30
    )
    assert refused.status_code == 401, refused.text
    login = requests.post(
        f"{base}/auth/token/", json={"email": email, "password": WORLD_PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    first = login.json()

    rotated = requests.post(f"{base}/auth/token/refresh/", json={"refresh": first["refresh"]}, timeout=30)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh"] != first["refresh"]  # a new refresh token with every refresh...
    reused = requests.post(f"{base}/auth/token/refresh/", json={"refresh": first["refresh"]}, timeout=30)
    assert reused.status_code == 401 and reused.json()["code"] == "token_not_valid", (
        reused.text
    )  # ...single use
    again = requests.post(f"{base}/auth/token/refresh/", json={"refresh": second["refresh"]}, timeout=30)
    assert again.status_code == 200, again.text
    me = requests.get(
        f"{base}/me/", headers={"Authorization": f"Bearer {again.json()['access']}"}, timeout=30
    )
    assert me.status_code == 200 and me.json()["user"]["email"] == email

    secrets = {
        "password": WORLD_PASSWORD,
        "wrong password": wrong_password,
        "SECRET_KEY": settings.SECRET_KEY,
        **{f"token {n}": value for n, value in enumerate([*first.values(), *second.values()])},
        **{f"webhook secret of {side.slug}": side.webhook_secret for side in (world.a, world.b)},
    }
    log = attack_server.log()
    lines = log.splitlines()
    found = [name for name, value in secrets.items() if value and value in log]
    found += [f"a JWT: {match[:24]}..." for match in JWT.findall(log)]
    found += [f"an Authorization value: {line[:120]}" for line in lines if "Bearer " in line]
    security_counters.add("leaks", len(found))
    assert not found, f"secrets in the server log: {found}"

    bare = [line for line in lines if BARE_DJANGO_LINE.match(line)]
    access = [m for m in map(ACCESS_LINE.match, lines) if m]
    app = [m for m in map(APP_LINE.match, lines) if m]
    scoped = [
        m
        for m in app
        if m["logger"].split(".")[0] in REQUEST_SCOPED_LOGGERS or m["logger"] == "django.request"
    ]
    print(
        f"\nserver log: {len(lines)} lines, {len(access)} access lines, "
        f"{len(scoped)} request-scoped app lines"
    )
    assert len(access) > 1000 and scoped, attack_server.log_tail()
    assert not bare, f"log lines without format or request id: {bare[:5]}"
    assert all(re.fullmatch(r"[0-9a-f]{32}", m["request_id"]) for m in access), [
        m.string for m in access if not re.fullmatch(r"[0-9a-f]{32}", m["request_id"])
    ][:5]
    assert all(m["request_id"] != "-" for m in scoped), [m.string for m in scoped if m["request_id"] == "-"][
        :5
    ]
