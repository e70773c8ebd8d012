"""Pipeline fixtures: a real Dagster instance (instance_for_test), the tenant schema, a log writer.

The assets run in-process (`materialize` executes in the calling thread) on Django's connection, so they
see the test's own uncommitted rows; the resource closes connections only outside a transaction, so the
test transaction survives and is rolled back as usual.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from django_tenants.utils import schema_context

import pipelines.definitions  # noqa: F401  (sets Django up the way the code location does)
from accounts.models import Role
from pipelines.partitions import TENANTS
from tenancy.models import Tenant
from tests.pipelines.activity import ActivityWriter
from tests.pipelines.helpers import memory_instance


@pytest.fixture(scope="session")
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    with memory_instance() as instance:
        yield instance


@pytest.fixture
def instance(dagster_instance: dg.DagsterInstance, tenants: dict[str, Tenant]) -> dg.DagsterInstance:
    known = set(dagster_instance.get_dynamic_partitions(TENANTS.name))
    missing = sorted(set(tenants) - known)
    if missing:
        dagster_instance.add_dynamic_partitions(TENANTS.name, missing)
    return dagster_instance


@pytest.fixture
def in_tenant(tenant: Tenant) -> Iterator[Tenant]:
    """The test body runs in the tenant's schema (as the API's middleware would put it)."""
    with schema_context(tenant.schema_name):
        yield tenant


@pytest.fixture
def writer(in_tenant: Tenant, make_user: Callable[..., Any]) -> ActivityWriter:
    return ActivityWriter(make_user(tenant=in_tenant, role=Role.MEMBER))


REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def definitions_validation() -> Iterator[subprocess.Popen[str]]:
    """`dagster definitions validate -w workspace.yaml`, started with the first pipeline test so its ten
    seconds of imports overlap the other tests; test_operations waits for it.

    PYTHONPATH is dropped on purpose: definitions.py must put platform/ on sys.path by itself. Only the
    database settings are needed; loading the code location contacts no server."""
    with tempfile.TemporaryDirectory() as home:
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        environment["DAGSTER_HOME"] = home
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
