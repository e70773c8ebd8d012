"""OpenAPI generation: the tenant header and the problem+json errors on every operation."""

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from api.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    IdempotencyInFlightError,
    IdempotencyKeyReusedError,
    is_idempotent,
)
from api.serializers import ProblemSerializer

PROBLEM_MEDIA_TYPE = "application/problem+json"

_COMMON_ERRORS = {
    401: "No or invalid bearer token (`not_authenticated`, `token_not_valid`).",
    429: "Rate limited (`rate_limited`); see `Retry-After`.",
    503: "The database is unreachable for the moment (`database_unavailable`); retry after `Retry-After`.",
}
_TENANT_ERRORS = {
    400: "Invalid input (`validation_error` with `errors`) or a missing/malformed X-Tenant-ID.",
    403: "Not a member of the tenant (`not_a_member`) or role too low (`role_too_low`).",
    404: "Unknown tenant (`tenant_not_found`) or unknown object (`not_found`).",
}


_IDEMPOTENCY_ERRORS = {
    IdempotencyInFlightError.status_code: (
        f"A request with this {IDEMPOTENCY_HEADER} is still in flight (`idempotency_in_flight`)."
    ),
    IdempotencyKeyReusedError.status_code: (
        f"This {IDEMPOTENCY_HEADER} was used for a different request (`idempotency_key_reused`)."
    ),
}


def problem_responses(descriptions: dict[int, str]) -> dict[str, OpenApiResponse]:
    """Problem+json responses with operation-specific descriptions, for `extend_schema(responses=...)`."""
    return {
        str(status_code): OpenApiResponse(response=ProblemSerializer, description=description)
        for status_code, description in descriptions.items()
    }


class PlatformAutoSchema(AutoSchema):
    def _is_tenant_scoped(self) -> bool:
        return bool(getattr(self.view, "tenant_scoped", False))

    def _is_idempotent(self) -> bool:
        """The handler is wrapped by `api.idempotency.idempotent`."""
        name = getattr(self.view, "action", None) or self.method.lower()
        return is_idempotent(getattr(self.view, name, None))

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._is_tenant_scoped():
            parameters.append(
                OpenApiParameter(
                    name="X-Tenant-ID",
                    type=str,
                    location=OpenApiParameter.HEADER,
                    required=True,
                    description="The tenant (organisation) id, a UUID from `GET /api/v1/me/`.",
                )
            )
        if self._is_idempotent():
            parameters.append(
                OpenApiParameter(
                    name=IDEMPOTENCY_HEADER,
                    type=str,
                    location=OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Makes a retry safe: the same key with the same body within 24 h replays the first "
                        f"successful response (with `{REPLAYED_HEADER}: true`). Scoped to tenant and user."
                    ),
                )
            )
        return parameters

    def _problem_descriptions(self) -> dict[int, str]:
        errors = dict(_COMMON_ERRORS)
        if self._is_tenant_scoped():
            errors.update(_TENANT_ERRORS)
        if self._is_idempotent():
            errors.update(_IDEMPOTENCY_ERRORS)
        return errors

    def get_response_serializers(self) -> Any:
        documented: Any = super().get_response_serializers()
        if not isinstance(documented, dict):
            success_code = "201" if self.method == "POST" else "200"
            if self.method == "DELETE":
                success_code = "204"
            documented = {success_code: documented}
        for status_code, description in self._problem_descriptions().items():
            documented.setdefault(
                str(status_code), OpenApiResponse(response=ProblemSerializer, description=description)
            )
        return documented

    def _get_response_for_code(
        self, serializer: Any, status_code: Any, media_types: Any = None, direction: Any = "response"
    ) -> Any:
        # Every error is sent as problem+json (api.errors), so that is the media type to document.
        if media_types is None and str(status_code).isdigit() and int(status_code) >= 400:
            media_types = [PROBLEM_MEDIA_TYPE]
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        # `@extend_schema(responses=...)` replaces get_response_serializers above; add the problems here too.
        bodies = super()._get_response_bodies(direction)
        for status_code, description in self._problem_descriptions().items():
            if str(status_code) not in bodies:
                problem = OpenApiResponse(response=ProblemSerializer, description=description)
                bodies[str(status_code)] = self._get_response_for_code(
                    problem, str(status_code), direction=direction
                )
        return bodies


class _TokenViewSchema(OpenApiViewExtension):
    """simplejwt's views answer 200 (not drf-spectacular's 201 for a POST) and 400 for a malformed body."""

    target_class = "rest_framework_simplejwt.views.TokenViewBase"
    match_subclasses = True

    def view_replacement(self) -> Any:
        target: Any = self.target

        @extend_schema(
            responses={
                "200": target().get_serializer_class(),
                **problem_responses(
                    {
                        400: "`validation_error`: a field is missing or not a string.",
                        401: "`authentication_failed` (wrong email or password) or `token_not_valid`.",
                    }
                ),
            }
        )
        class Documented(target):
            pass

        return Documented


class _MemoizedUserJWTScheme(SimpleJWTScheme):
    """Our JWT authentication is simplejwt's with a memoized user read: the same bearer scheme, same name."""

    target_class = "api.authentication.MemoizedUserJWTAuthentication"
