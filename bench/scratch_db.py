"""A scratch database per benchmark, on the server DATABASE_URL names, so benchmarks never touch real data.

Must be imported before Django is set up: it rewrites DATABASE_URL for this process.
"""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


def use_scratch_database(name: str) -> str:
    """Drop and recreate database `name` next to DATABASE_URL's, and point this process at it."""
    url = os.environ["DATABASE_URL"]
    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    scratch_url = urlunsplit(parts._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = scratch_url
    return scratch_url


def drop_scratch_database(name: str, original_url: str) -> None:
    parts = urlsplit(original_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_run(database: str) -> Iterator[str]:
    """Point this process (and the servers it starts) at a fresh scratch database, with Django's settings
    chosen; yield a new SECRET_KEY, set here too, so that tokens minted here verify in the servers. The
    database is dropped at the end."""
    original_url = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = use_scratch_database(database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    secret_key = secrets.token_urlsafe(40)
    os.environ["SECRET_KEY"] = secret_key
    try:
        yield secret_key
    finally:
        drop_scratch_database(database, original_url)
