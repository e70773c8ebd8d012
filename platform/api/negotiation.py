"""Content negotiation that never fails on an `Accept` header.

The API speaks JSON; a client asking for `application/problem+json` or `text/html` gets JSON rather than
a 406. Views with several renderers (the OpenAPI document: YAML or JSON) still honour `?format=` and
`Accept`.
"""

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class LenientContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, Any]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            renderer = next(iter(renderers))
            return renderer, renderer.media_type
