"""`make run`'s body, run inside the launcher: migrate, load the sample data, backfill, then become honcho.

Why a module and not three Makefile lines: the steps need the launcher's environment, must stop
at the first failure, and honcho must replace this process (exec) so signals reach it directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from devstack.services import REPO_ROOT, data_dir

MANAGE = REPO_ROOT / "platform" / "manage.py"
SAMPLE_HISTORY_DAYS = 90  # load_sample_data's default --days


def _environment() -> dict[str, str]:
    """This environment plus the venv's bin on PATH (the Procfile names gunicorn, celery, dagster)
    and DAGSTER_HOME, which Dagster wants absolute and existing."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)  # not resolved: the venv's python is a symlink
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    dagster_home = Path(env.get("DAGSTER_HOME") or data_dir() / "dagster")
    dagster_home.mkdir(parents=True, exist_ok=True)
    env["DAGSTER_HOME"] = str(dagster_home.resolve())
    return env


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(MANAGE), *args], env=env, cwd=REPO_ROOT, check=True)


def _backfill_sample_history(env: dict[str, str]) -> None:
    """Build the analytics for the sample history on first start, so dashboards show 90 days at once.

    A marker under .data/ (beside the database it describes) keeps later starts fast; the pipeline's
    sensor and daily schedule keep the numbers fresh from then on.
    """
    marker = data_dir() / "sample-history-backfilled"
    if marker.exists():
        return
    today = date.today()
    first = today - timedelta(days=SAMPLE_HISTORY_DAYS)
    _manage("backfill_snapshots", "--from", first.isoformat(), "--to", today.isoformat(), env=env)
    marker.write_text(f"{first}..{today}\n")


def main() -> int:
    # SIGTERM as an exception, so subprocess.run kills the running step instead of orphaning it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    env = _environment()
    (REPO_ROOT / ".data").mkdir(exist_ok=True)  # the Procfile keeps beat's schedule there
    try:
        _manage("migrate_schemas", "--executor=multiprocessing", env=env)
        _manage("load_sample_data", env=env)  # creates the sample tenants and history once; idempotent
        _backfill_sample_history(env)
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130
    honcho = str(Path(sys.executable).parent / "honcho")
    os.chdir(REPO_ROOT)
    os.execve(honcho, [honcho, "start", "-f", "Procfile"], env)


if __name__ == "__main__":
    sys.exit(main())
