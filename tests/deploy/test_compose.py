"""Docker cannot run on our machines, so this checks what can be checked of the production stack without it:
every service's command names a program and module that exist, every referenced file exists, every
dependency is a defined service, and the environment covers what the settings require."""

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

from config.celery import app as celery_app

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = {name: spec for name, spec in SERVICES.items() if spec.get("build")}


def command_of(spec: dict[str, Any]) -> list[str]:
    command = spec["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_the_stack_has_every_part_of_the_platform() -> None:
    assert {
        "postgres",
        "redis",
        "web",
        "worker",
        "beat",
        "dagster-webserver",
        "dagster-daemon",
    } <= SERVICES.keys()
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")


def test_dependencies_name_defined_services_and_data_services_have_health_checks() -> None:
    for name, spec in SERVICES.items():
        for dependency, rule in (spec.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            if rule.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} needs a healthcheck"
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in SERVICES[name]


def test_named_volumes_are_declared_and_bind_mounts_exist() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_image_is_built_from_a_dockerfile_whose_copied_files_exist() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_app_commands_refer_to_things_that_exist(service: str) -> None:
    argv = command_of(APP_SERVICES[service])
    program = argv[0]
    if program == "python" and argv[1] == "platform/manage.py":
        assert argv[2] in get_commands(), f"unknown management command {argv[2]}"
    elif program == "gunicorn":
        module, _, attribute = argv[1].partition(":")
        assert hasattr(__import__(module, fromlist=[attribute]), attribute)
    elif program == "celery":
        assert argv[1:3] == ["-A", "config"]
        if "-Q" in argv:
            queues = set(argv[argv.index("-Q") + 1].split(","))
            assert queues <= {queue.name for queue in celery_app.conf.task_queues}
    elif program in {"dagster-webserver", "dagster-daemon"}:
        workspace = argv[argv.index("-w") + 1]
        assert (REPO / workspace).exists(), f"{service} needs {workspace}"
    else:
        pytest.fail(f"{service} runs an unchecked program {program!r}; teach this test about it")


def test_app_environment_covers_the_required_settings() -> None:
    env = SERVICES["web"]["environment"]
    for required in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
        assert required in env
    assert env["DEBUG"] == "0", "production runs with DEBUG off (and so needs SECRET_KEY)"
    assert re.search(r"@postgres:5432/", env["DATABASE_URL"])
    assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_dagster_instance_stores_runs_in_its_own_postgres_database() -> None:
    instance = yaml.safe_load((REPO / "deploy" / "dagster" / "dagster.yaml").read_text())
    database = instance["storage"]["postgres"]["postgres_db"]
    assert database["db_name"] == "dagster"
    assert database["hostname"] == "postgres"
    assert database["scheme"] == "postgresql+psycopg2"
    init_sql = (REPO / "deploy" / "postgres" / "create-dagster-db.sql").read_text()
    assert "CREATE DATABASE dagster" in init_sql
