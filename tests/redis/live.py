"""What the Redis suite's live tests add to tests/live.py (gunicorn, a private redis-server): a database of
the session's Redis of their own."""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


def redis_url_with_db(db: int) -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{db}"))
