"""OpenAPI generation: the tenant header and the problem+json errors on every operation."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from api.serializers import ProblemSerializer

_COMMON_ERRORS = {
    401: "No or invalid bearer token (`not_authenticated`, `token_not_valid`).",
    429: "Rate limited (`rate_limited`); see `Retry-After`.",
}
_TENANT_ERRORS = {
    400: "Invalid input (`validation_error` with `errors`) or a missing/malformed X-Tenant-ID.",
    403: "Not a member of the tenant (`not_a_member`) or role too low (`role_too_low`).",
    404: "Unknown tenant (`tenant_not_found`) or unknown object (`not_found`).",
}


class PlatformAutoSchema(AutoSchema):
    def _is_tenant_scoped(self) -> bool:
        return bool(getattr(self.view, "tenant_scoped", False))

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
        return parameters

    def get_response_serializers(self) -> Any:
        documented: Any = super().get_response_serializers()
        if not isinstance(documented, dict):
            success_code = "201" if self.method == "POST" else "200"
            if self.method == "DELETE":
                success_code = "204"
            documented = {success_code: documented}
        errors = dict(_COMMON_ERRORS)
        if self._is_tenant_scoped():
            errors.update(_TENANT_ERRORS)
        for status_code, description in errors.items():
            documented.setdefault(
                str(status_code), OpenApiResponse(response=ProblemSerializer, description=description)
            )
        return documented
