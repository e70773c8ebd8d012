"""A tenant never loses its last ADMIN, however many ADMINs demote and remove each other at the same instant,
against a live gunicorn (3 workers x 2 threads: the requests really run in parallel, on separate database
connections).

Each round starts with five ADMINs; all of them fire, released by one barrier, a request against every
ADMIN (themselves included): demote, remove, or a mix. `accounts.services` locks the tenant's ADMIN rows
before its last-ADMIN check, so the requests queue and the last one standing is refused (400 `last_admin`).
Requests of a caller who lost the role a moment earlier answer 403 `role_too_low` (or, while a worker
still remembers the old role for api.cache.LOCAL_MEMO_SECONDS, are served: the lock still keeps the last
ADMIN), or 404 once their target is gone. Never a 5xx, never zero ADMINs. Between rounds a survivor
promotes everyone back through the API (which also proves the survivor can still act).

Parallel same-key idempotent POSTs and parallel PATCHes of one task are tested in
tests/tracker/test_live_concurrency.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership, Role, User
from api.cache import LOCAL_MEMO_SECONDS
from tenancy.models import Tenant
from tenancy.services import create_tenant
from tests.live import LiveServer, live_database_url
from tests.security.live import gunicorn, private_redis
from tests.summary_plugin import SecurityCounters

pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

ADMINS = 5


@dataclass
class Council:
    tenant: Tenant
    admins: list[User]
    server: LiveServer

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {AccessToken.for_user(user)}", "X-Tenant-ID": str(self.tenant.id)}

    def url(self, membership_id: int) -> str:
        return f"{self.server.url}/api/v1/members/{membership_id}/"


@pytest.fixture(scope="module")
def council(django_db_setup: None, django_db_blocker: Any) -> Iterator[Council]:
    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        provisioned = create_tenant(
            name=f"Council {suffix}", slug=f"council-{suffix}", admin_email=f"a0@{suffix}.test"
        )
        admins = [provisioned.admin]
        for n in range(1, ADMINS):
            user = User.objects.create_user(f"a{n}@{suffix}.test", None)
            Membership.objects.create(user=user, tenant=provisioned.tenant, role=Role.ADMIN)
            admins.append(user)
        database_url = live_database_url()
    with (
        private_redis() as redis_server,
        gunicorn(database_url=database_url, redis_url=redis_server.url) as server,
    ):
        yield Council(tenant=provisioned.tenant, admins=admins, server=server)


def _memberships(council: Council, django_db_blocker: Any) -> dict[int, tuple[int, str]]:
    """user id → (membership id, role), as committed."""
    with django_db_blocker.unblock():
        rows = Membership.objects.filter(tenant=council.tenant).values_list("user_id", "id", "role")
        return {user_id: (membership_id, role) for user_id, membership_id, role in rows}


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response | Exception]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except requests.RequestException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _restore(council: Council, django_db_blocker: Any) -> None:
    """A surviving ADMIN adds back the removed and promotes the demoted, through the API."""
    state = _memberships(council, django_db_blocker)
    survivor = next(user for user in council.admins if state.get(user.pk, (0, ""))[1] == Role.ADMIN)
    headers = council.headers(survivor)
    members_url = f"{council.server.url}/api/v1/members/"
    for user in council.admins:
        if user.pk not in state:
            added = requests.post(
                members_url, json={"email": user.email, "role": Role.ADMIN}, headers=headers, timeout=30
            )
            assert added.status_code == 201, added.text
        elif state[user.pk][1] != Role.ADMIN:
            promoted = requests.patch(
                council.url(state[user.pk][0]), json={"role": Role.ADMIN}, headers=headers, timeout=30
            )
            assert promoted.status_code == 200, promoted.text
    assert all(role == Role.ADMIN for _, role in _memberships(council, django_db_blocker).values())
    # Each worker process remembers a membership for LOCAL_MEMO_SECONDS after Redis forgot it: wait that out,
    # so the next round starts with five ADMINs in every worker's eyes.
    time.sleep(LOCAL_MEMO_SECONDS + 0.5)


def _round(council: Council, django_db_blocker: Any, mode: str) -> Counter[Any]:
    state = _memberships(council, django_db_blocker)
    calls = []
    for actor in council.admins:
        headers = council.headers(actor)
        for target_index, target in enumerate(council.admins):
            url = council.url(state[target.pk][0])
            remove = mode == "remove" or (mode == "mixed" and target_index % 2 == 0)
            if remove:
                calls.append(
                    lambda url=url, headers=headers: requests.delete(url, headers=headers, timeout=60)
                )
            else:
                calls.append(
                    lambda url=url, headers=headers: requests.patch(
                        url, json={"role": Role.MEMBER}, headers=headers, timeout=60
                    )
                )
    outcomes: Counter[Any] = Counter()
    for result in _at_once(calls):
        if isinstance(result, Exception):
            outcomes[repr(result)] += 1
        else:
            code = result.json().get("code", "") if result.content else ""
            outcomes[(result.status_code, code)] += 1
    return outcomes


def _rounds(council: Council, django_db_blocker: Any, counters: SecurityCounters, rounds: int) -> None:
    seen: Counter[Any] = Counter()
    admins_left = []
    for number in range(rounds):
        mode = ("demote", "remove", "mixed")[number % 3]
        outcomes = _round(council, django_db_blocker, mode)
        seen.update(outcomes)
        state = _memberships(council, django_db_blocker)
        admins = [user_id for user_id, (_, role) in state.items() if role == Role.ADMIN]
        admins_left.append(len(admins))
        assert admins, f"round {number} ({mode}) left no ADMIN: {outcomes}"
        _restore(council, django_db_blocker)
    print(
        f"\nadmin invariant: {rounds} rounds of {ADMINS}x{ADMINS} simultaneous demotions/removals; "
        f"ADMINs left per round {admins_left}; answers {dict(seen)}"
    )
    counters.add(
        "server_errors", sum(n for key, n in seen.items() if isinstance(key, tuple) and key[0] >= 500)
    )
    allowed = {(200, ""), (204, ""), (400, "last_admin"), (403, "role_too_low"), (403, "not_a_member")}
    allowed.add((404, "not_found"))  # the target was removed a moment earlier
    if not set(seen) <= allowed:
        print(_errors_in(council.server.log()))
    assert set(seen) <= allowed, seen
    assert seen[(400, "last_admin")] >= rounds  # every round ran into the guard


def test_simultaneous_demotions_and_removals_never_leave_zero_admins(
    council: Council, django_db_blocker: Any, security_counters: SecurityCounters
) -> None:
    _rounds(council, django_db_blocker, security_counters, rounds=3)


@pytest.mark.slow
def test_many_rounds_of_simultaneous_demotions_and_removals_never_leave_zero_admins(
    council: Council, django_db_blocker: Any, security_counters: SecurityCounters
) -> None:
    _rounds(council, django_db_blocker, security_counters, rounds=30)


def _errors_in(log: str) -> str:
    """The ERROR records (with their tracebacks) and database warnings of the server log."""
    blocks = log.split("\n20")
    wanted = [block for block in blocks if " ERROR " in block[:60] or "database unavailable" in block[:200]]
    return "\n".join(block[-2500:] for block in wanted)[-8000:]


def test_parallel_adds_of_one_new_member_make_one_membership(
    council: Council, django_db_blocker: Any, security_counters: SecurityCounters
) -> None:
    """Several ADMINs add the same new person at once: one 201, the others 409 `already_member`."""
    state = _memberships(council, django_db_blocker)
    admins = [user for user in council.admins if state.get(user.pk, (0, ""))[1] == Role.ADMIN]
    email = f"newcomer-{uuid.uuid4().hex[:8]}@example.test"
    body = {"email": email, "role": Role.MEMBER, "password": "a-long-enough-password"}
    url = f"{council.server.url}/api/v1/members/"
    senders = [council.headers(admin) for admin in admins * 2]
    calls = [
        lambda headers=headers: requests.post(url, json=body, headers=headers, timeout=60)
        for headers in senders
    ]
    answers = Counter(
        (r.status_code, r.json().get("code", "")) if not isinstance(r, Exception) else repr(r)
        for r in _at_once(calls)
    )
    print(f"\nparallel adds of one new member by {len(calls)} requests: {dict(answers)}")
    security_counters.add("server_errors", sum(n for key, n in answers.items() if key[0] >= 500))
    assert answers == {(201, ""): 1, (409, "already_member"): len(calls) - 1}, answers
    with django_db_blocker.unblock():
        assert Membership.objects.filter(tenant=council.tenant, user__email=email).count() == 1
