"""Settings for `bench.analytics_endpoint`: the product's settings with the benchmark's URLconf (which adds
one constant-JSON view next to the product routes). Benchmark-only; never deployed."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.analytics_urls"
