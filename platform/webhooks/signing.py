"""The signature receivers check: `X-TaskPlatform-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.

Receivers compute the HMAC over the raw request body with their copy of the secret and compare in
constant time; `X-TaskPlatform-Delivery` (also inside the signed body) lets them drop a delivery they
have already processed, since a delivery can arrive more than once.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-TaskPlatform-Signature-256"
DELIVERY_HEADER = "X-TaskPlatform-Delivery"
EVENT_HEADER = "X-TaskPlatform-Event"


def signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(*, secret: str, body: bytes, header_value: str) -> bool:
    """What a receiver does (and what our tests do)."""
    return hmac.compare_digest(signature(secret=secret, body=body), header_value or "")
