"""JWT authentication reads the user through a per-process memo of at most LOCAL_MEMO_SECONDS: a saved
user (a deactivation) is seen at once in this process, and in any process once the memo entry expires."""

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

import api.cache
from accounts.models import Role, User, user_cache_key
from accounts.selectors import user_for_authentication
from accounts.services import deactivate_user
from api.cache import LOCAL_MEMO_SECONDS, user_memo
from tenancy.models import Tenant
from tests.conftest import TenantClient, assert_problem

TASKS = "/api/v1/tasks/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The memo's clock, moved by hand (no sleeping): `clock[0] += 3` is three seconds later."""
    now = [api.cache.time.monotonic()]
    monkeypatch.setattr(api.cache.time, "monotonic", lambda: now[0])
    yield now


def test_deactivation_refuses_the_next_request_at_once(
    client_for: Callable[..., TenantClient], tenant: Tenant
) -> None:
    member = client_for(Role.MANAGER)
    assert member.get(TASKS).status_code == 200  # the user row is in the memo now
    deactivate_user(user=member.user)
    assert_problem(member.get(TASKS), 401, "authentication_failed")


def test_a_write_this_process_did_not_see_counts_within_the_memo_bound(
    client_for: Callable[..., TenantClient], clock: list[float]
) -> None:
    """Another worker's deactivation (here: an UPDATE that sends no signal) is seen once the entry
    expires, LOCAL_MEMO_SECONDS at most."""
    member = client_for(Role.MEMBER)
    assert member.get(TASKS).status_code == 200
    User.objects.filter(pk=member.user.pk).update(is_active=False)
    assert user_memo.seconds == LOCAL_MEMO_SECONDS <= 2.0
    clock[0] += LOCAL_MEMO_SECONDS + 0.01
    assert_problem(member.get(TASKS), 401, "authentication_failed")


def test_any_save_of_a_user_is_not_served_stale_from_the_memo(make_user: Callable[..., User]) -> None:
    """Not only deactivations: whatever a save changes, the next read in this process sees it."""
    user = make_user()
    assert user_for_authentication(user_id=user.pk) is not None  # the row is in the memo now
    user.full_name = "Renamed"
    user.save()
    assert user_memo.get(user_cache_key(user.pk)) is api.cache.MISSING
    assert user_for_authentication(user_id=user.pk).full_name == "Renamed"  # type: ignore[union-attr]


def test_a_stale_copy_read_before_the_commit_is_forgotten_after_it(
    make_user: Callable[..., User], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """A request that read the old row between the save and the commit (it could not see the change yet)
    put it back in the memo; the forget after the commit removes it."""
    user = make_user()
    key = user_cache_key(user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        user.full_name = "Renamed"
        user.save()
        user_memo.put(key, {"stale": True})
    assert user_memo.get(key) is api.cache.MISSING


def test_accounts_models_do_not_import_the_api_package() -> None:
    """The domain layer must not depend on the API; api.signals clears the memo instead (the tests above
    show that it does)."""
    models_py = Path(settings.SOURCE_ROOT) / "accounts" / "models.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(models_py.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name for name in imported if name == "api" or name.startswith("api.")}


def test_each_read_is_a_separate_instance(make_user: Callable[..., User]) -> None:
    user = make_user()
    first = user_for_authentication(user_id=user.pk)
    second = user_for_authentication(user_id=user.pk)
    assert first is not None and second is not None
    assert first is not second
    assert first.email == second.email == user.email
    first.full_name = "changed by one request"
    assert user_for_authentication(user_id=user.pk).full_name == user.full_name  # type: ignore[union-attr]


def test_unknown_user_is_refused_and_not_remembered() -> None:
    assert user_for_authentication(user_id=2**62) is None
    assert user_memo.get(user_cache_key(2**62)) is api.cache.MISSING


def test_a_token_of_an_unknown_user_is_401(client_for: Callable[..., TenantClient]) -> None:
    member = client_for(Role.MEMBER)
    token = AccessToken.for_user(member.user)
    token["user_id"] = 2**62
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(TASKS, headers={"X-Tenant-ID": str(member.tenant.id)})
    assert_problem(response, 401, "authentication_failed")
