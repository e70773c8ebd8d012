"""The code location: ONE Definitions object, the whole pipeline at a glance (workspace.yaml loads it).

Django is set up first, because every other module here reads models. The Django source root `platform/`
is appended to sys.path, never prepended: a directory named `platform` must not shadow the standard
library's `platform` module, which psycopg, celery and Dagster itself import.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_SOURCE_ROOT = str(REPO_ROOT / "platform")
if _SOURCE_ROOT not in sys.path:
    sys.path.append(_SOURCE_ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import dagster as dg  # noqa: E402

from pipelines.assets import ASSETS  # noqa: E402
from pipelines.checks import CHECKS  # noqa: E402
from pipelines.jobs import analytics_job, freshness_job  # noqa: E402
from pipelines.resources import TenantDatabase  # noqa: E402
from pipelines.schedules import SCHEDULES  # noqa: E402
from pipelines.sensors import SENSORS  # noqa: E402

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[analytics_job, freshness_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"tenant_db": TenantDatabase()},
)
