"""Keyset (cursor) pagination for every list: stable under inserts, constant cost on deep pages."""

import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

# ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses (a 500).
_PAGE_SIZE = re.compile(r"[0-9]{1,4}")


def page_size_from(request: Request, *, param: str, default: int, maximum: int) -> int:
    """The requested page size; anything but an integer from 1 to `maximum` is a 400 naming `param`."""
    raw = request.query_params.get(param)
    if raw is None:
        return default
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise ValidationError({param: [f"Send an integer from 1 to {maximum}."]})
    return int(raw)


class KeysetPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"

    def get_page_size(self, request: Request) -> Any:
        # DRF would fall back to the default on a bad value; our lists answer 400 instead.
        return page_size_from(
            request, param=self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
        )
