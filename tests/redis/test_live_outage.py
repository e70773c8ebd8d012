"""A live server loses its Redis in the middle of a request stream and gets it back.

gunicorn runs against a private redis-server. A client streams tenant-scoped requests while the test stops
Redis and later starts it again on the same port. Nothing may answer 5xx; while Redis is down requests
are served without quota headers (fail open, cache bypassed) and /readyz says redis is failing; once it is
back the headers return and the tenant row is cached again, without restarting anything.
"""

import threading
import time
from dataclasses import dataclass

import pytest
import requests

from api.cache import BREAKER_COOLDOWN_SECONDS, LOCAL_MEMO_SECONDS
from tests.live import PrivateRedis, gunicorn
from tests.redis.conftest import LiveMember

# django_db: makes pytest-django set up the test database even when only live tests are selected; the
# tests themselves write nothing (their members are committed by the module fixture).
pytestmark = [pytest.mark.live_server, pytest.mark.django_db]


@dataclass(frozen=True)
class Sample:
    phase: str
    status: int
    limited: bool  # carried RateLimit headers


class Stream:
    def __init__(self, base_url: str, member: LiveMember) -> None:
        self.base_url = base_url
        self.member = member
        self.phase = "redis up"
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            session.headers.update(self.member.headers)
            while not self._stop.is_set():
                phase = self.phase
                try:
                    response = session.get(
                        f"{self.base_url}/api/v1/members/", params={"page_size": 1}, timeout=10
                    )
                except requests.RequestException as error:  # a hung or dropped request is a failure too
                    self.errors.append(f"{phase}: {error!r}")
                    continue
                self.samples.append(
                    Sample(phase, response.status_code, "RateLimit-Limit" in response.headers)
                )
                time.sleep(0.01)

    def __enter__(self) -> "Stream":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def wait_for(self, phase: str, *, count: int, limited: bool | None = None, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [
                s for s in self.samples if s.phase == phase and (limited is None or s.limited == limited)
            ]
            if len(matching) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"no {count} samples in phase {phase!r} (limited={limited}): {self.summary()}")

    def summary(self) -> dict[tuple[str, int, bool], int]:
        counts: dict[tuple[str, int, bool], int] = {}
        for sample in self.samples:
            key = (sample.phase, sample.status, sample.limited)
            counts[key] = counts.get(key, 0) + 1
        return counts


def test_no_5xx_while_redis_goes_away_and_comes_back(live_members: dict[str, list[LiveMember]]) -> None:
    redis_server = PrivateRedis()
    redis_server.start()
    member = live_members["alpha"][3]
    generous = {"RATE_LIMIT_REQUESTS": "100000", "RATE_LIMIT_USER_REQUESTS": "100000"}
    try:
        with (
            gunicorn(redis_url=redis_server.url, env=generous, workers=2) as server,
            Stream(server.url, member) as stream,
        ):
            stream.wait_for("redis up", count=20, limited=True)

            stream.phase = "redis down"
            redis_server.stop()
            stream.wait_for("redis down", count=30, limited=False)
            ready = requests.get(f"{server.url}/readyz", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["failing"] == ["redis"]

            stream.phase = "redis back"
            redis_server.start()
            stream.wait_for("redis back", count=20, limited=True)  # the limiter resumed by itself
            # Each worker process skips Redis for up to a second after its last failure; after that, all
            # of them are back and every response carries the headers again.
            time.sleep(BREAKER_COOLDOWN_SECONDS + 0.5)
            stream.phase = "recovered"
            stream.wait_for("recovered", count=30)
            assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
            # ...and so did the cache: the tenant row is written to the fresh, empty Redis once the
            # workers' short local memo (api.cache.LOCAL_MEMO_SECONDS) lets them read through again.
            deadline = time.monotonic() + LOCAL_MEMO_SECONDS + 5
            while not any(b":tenant:" in key for key in redis_server.client().scan_iter(match="tp-public:*")):
                assert time.monotonic() < deadline, list(redis_server.client().scan_iter())
                time.sleep(0.1)
            log = server.log_tail()
    finally:
        redis_server.close()

    assert not stream.errors, stream.errors[:5]
    statuses = {sample.status for sample in stream.samples}
    assert statuses == {200}, (stream.summary(), log)
    assert all(sample.limited for sample in stream.samples if sample.phase == "recovered"), stream.summary()
