"""Settings for `bench.rate_limit_middleware`: the product's settings with the benchmark's URLconf, and with
or without the tenant + rate-limit middleware (env BENCH_STACK=full|bare). Benchmark-only; never deployed."""

import os

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE as PRODUCT_MIDDLEWARE

BENCH_STACK = os.environ.get("BENCH_STACK", "full")
if BENCH_STACK not in {"full", "bare"}:
    raise ValueError(f"BENCH_STACK must be 'full' or 'bare', not {BENCH_STACK!r}")

ROOT_URLCONF = "bench.rate_limit_urls"
STACK_MIDDLEWARE = ["tenancy.middleware.TenantSelectionMiddleware", "api.rate_limit.RateLimitMiddleware"]
MIDDLEWARE = (
    PRODUCT_MIDDLEWARE
    if BENCH_STACK == "full"
    else [m for m in PRODUCT_MIDDLEWARE if m not in STACK_MIDDLEWARE]
)
