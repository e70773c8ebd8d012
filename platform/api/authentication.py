"""JWT authentication (simplejwt) with the user row read through a short per-process memo."""

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.selectors import user_for_authentication


class MemoizedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's JWTAuthentication with the same checks, answers and messages (word for word: USE_I18N
    is off, so its gettext_lazy returns them unchanged), but the user row comes from
    `accounts.selectors.user_for_authentication`. That saves every request a query and the
    `SET search_path` before it; the price is that a deactivation reaches the other worker processes
    within `api.cache.LOCAL_MEMO_SECONDS` (at once in the process that saved it), like a role change."""

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        if api_settings.USER_ID_FIELD != "id":
            # The memo is keyed by primary key; any other lookup goes the library's way.
            return super().get_user(validated_token)
        user = user_for_authentication(user_id=user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user
