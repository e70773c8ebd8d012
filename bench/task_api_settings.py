"""Settings for `bench.task_api`: the product's settings with the benchmark's URLconf (the product's routes
plus two bare views next to them). Benchmark-only; never deployed."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.task_api_urls"
