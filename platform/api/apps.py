from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        # Registers the OpenAPI view extensions before any schema is generated.
        from api import openapi  # noqa: F401
