"""How long a failed job waits before its next try: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential cap) spreads the retries of many jobs that
failed together — say, during a Redis or SMTP blip — so they do not all come back in the same second.
"""

import random

from django.conf import settings


def retry_limit() -> int:
    return int(settings.JOBS_MAX_RETRIES)


def backoff_seconds(retries_so_far: int, *, rng: random.Random | None = None) -> float:
    """Delay before retry number `retries_so_far + 1`: uniform in [cap/2, cap], cap = base * 2**n ≤ max.

    Half the cap is kept as a floor so the delays still grow visibly; the other half is the jitter.
    """
    base = float(settings.JOBS_RETRY_BACKOFF_SECONDS)
    ceiling = float(settings.JOBS_RETRY_BACKOFF_MAX_SECONDS)
    cap = min(ceiling, base * (2 ** max(0, retries_so_far)))
    draw = (rng or random).uniform(cap / 2, cap)
    return round(draw, 3)
