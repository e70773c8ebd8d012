"""The HTTP POST of a delivery: stdlib only, no proxies, no redirects, bounded time."""

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the 3xx it is (a failed delivery): following it could lead inward."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy from the environment either: the address we checked must be the address we connect to.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

USER_AGENT = "task-platform-webhooks/1"


@dataclass(frozen=True)
class PostOutcome:
    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> PostOutcome:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(64 * 1024)  # let the receiver finish; we keep nothing of it
            return PostOutcome(status=response.status, error="")
    except urllib.error.HTTPError as error:
        return PostOutcome(status=error.code, error=f"HTTP {error.code} {error.reason}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        return PostOutcome(status=None, error=f"{type(error).__name__}: {error}")
