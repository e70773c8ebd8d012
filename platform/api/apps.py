from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        # Imported for their side effects: `openapi` registers the view extensions before any schema is
        # generated; `signals` connects the cache invalidations (a user save clears the JWT user memo),
        # here rather than in accounts.models so that the domain layer never imports the API package.
        from api import openapi, signals  # noqa: F401
