"""Users are deactivated, never deleted; deactivated users lose access everywhere."""

import pytest

from accounts.models import User, UserDeletionRefused
from accounts.services import deactivate_user


@pytest.mark.django_db
def test_hard_delete_of_a_user_is_refused() -> None:
    user = User.objects.create_user("keep@example.test", "pw-123456789")
    with pytest.raises(UserDeletionRefused, match="deactivate"):
        user.delete()
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
def test_deactivated_user_cannot_get_a_token(client) -> None:  # type: ignore[no-untyped-def]
    user = User.objects.create_user("gone@example.test", "pw-123456789")
    deactivate_user(user=user)
    response = client.post(
        "/api/v1/auth/token/",
        {"email": "gone@example.test", "password": "pw-123456789"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_bulk_delete_of_users_is_refused() -> None:
    User.objects.create_user("bulk@example.test", "pw-123456789")
    with pytest.raises(UserDeletionRefused):
        User.objects.filter(email="bulk@example.test").delete()
