"""Keyset pagination over (sort column, primary key), for orderings DRF's CursorPagination cannot page.

DRF's cursor keeps only the first column's value plus an offset among equal values: fine for unique
columns, but priority has four values (the offset grows with depth and DRF gives up past 1000) and
`due_at` may be null (its cursor breaks). Here the cursor holds the last row's (value, id), so every page
is one indexed range scan with `LIMIT page_size + 1`, whatever the depth. Nulls sort last in both
directions. Bad `page_size`, `ordering` or `cursor` values are 400s, never silently replaced.
"""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.pagination import KeysetPagination, page_size_from


@dataclass(frozen=True)
class KeysetOrdering:
    field: str
    descending: bool = False
    nullable: bool = False

    def order_by(self, *, reverse: bool) -> list[OrderBy]:
        descending = self.descending != reverse
        column = F(self.field).desc if descending else F(self.field).asc
        key = F("pk").desc() if descending else F("pk").asc()
        if not self.nullable:
            return [column(), key]  # no NULLS clause: the plain (field, id) index serves both directions
        # Reading backwards flips the null placement too, so a reversed page is exactly a mirrored one.
        return [column(nulls_first=True) if reverse else column(nulls_last=True), key]

    def after(self, value: Any, pk: Any) -> Q:
        """Rows after (value, pk) in this ordering."""
        beyond = "lt" if self.descending else "gt"
        if value is None:
            return Q(**{f"{self.field}__isnull": True, f"pk__{beyond}": pk})
        return (
            Q(**{f"{self.field}__{beyond}": value})
            | Q(**{self.field: value, f"pk__{beyond}": pk})
            | Q(**{f"{self.field}__isnull": True})
        )

    def before(self, value: Any, pk: Any) -> Q:
        """Rows before (value, pk) in this ordering."""
        ahead = "gt" if self.descending else "lt"
        if value is None:
            return Q(**{f"{self.field}__isnull": False}) | Q(
                **{f"{self.field}__isnull": True, f"pk__{ahead}": pk}
            )
        return Q(**{f"{self.field}__{ahead}": value}) | Q(**{self.field: value, f"pk__{ahead}": pk})


@dataclass(frozen=True)
class Cursor:
    ordering: str
    reverse: bool
    value: Any
    pk: Any


def _invalid(param: str, message: str) -> ValidationError:
    return ValidationError({param: [message]})


class ColumnKeysetPagination(KeysetPagination):
    """Subclasses name their orderings: {query value: KeysetOrdering} and a default."""

    orderings: Mapping[str, KeysetOrdering] = {"-created_at": KeysetOrdering("created_at", descending=True)}
    default_ordering = "-created_at"
    ordering_query_param: str | None = None  # None: the ordering is fixed

    def _page_size_from(self, request: Request) -> int:
        return page_size_from(
            request,
            param=self.page_size_query_param or "page_size",
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def _ordering_from(self, request: Request) -> str:
        if self.ordering_query_param is None:
            return self.default_ordering
        name = request.query_params.get(self.ordering_query_param, self.default_ordering)
        if name not in self.orderings:
            raise _invalid(self.ordering_query_param, f"Choose one of: {', '.join(self.orderings)}.")
        return name

    def _decode(self, request: Request, model: type[Model]) -> Cursor | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
            ordering = data["o"]
            spec = self.orderings[ordering]
            value = data["v"]
            if value is not None:
                value = model._meta.get_field(spec.field).to_python(value)  # type: ignore[union-attr]
            pk = model._meta.pk.to_python(data["k"])
            if pk is None or not isinstance(data["r"], bool):
                raise ValueError("incomplete cursor")
            if isinstance(value, datetime) and timezone.is_naive(value):
                raise ValueError("this API never issues naive times")
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, DjangoValidationError):
            raise _invalid(
                self.cursor_query_param, "Invalid cursor: use the next/previous links as given."
            ) from None
        if ordering != self.ordering_name:
            raise _invalid(self.cursor_query_param, "This cursor belongs to another ordering.")
        return Cursor(ordering=ordering, reverse=data["r"], value=value, pk=pk)

    def _encode(self, *, reverse: bool, row: Model) -> str:
        spec = self.orderings[self.ordering_name]
        value = getattr(row, spec.field)
        payload = {
            "o": self.ordering_name,
            "r": reverse,
            "v": value.isoformat() if hasattr(value, "isoformat") else value,
            "k": str(row.pk),
        }
        encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return encoded.decode("ascii").rstrip("=")

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:  # type: ignore[override]
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self._page_size_from(request)
        self.ordering_name = self._ordering_from(request)
        spec = self.orderings[self.ordering_name]
        cursor = self._decode(request, queryset.model)
        reverse = cursor is not None and cursor.reverse
        if cursor is not None:
            condition = spec.before if reverse else spec.after
            queryset = queryset.filter(condition(cursor.value, cursor.pk))
        rows = list(queryset.order_by(*spec.order_by(reverse=reverse))[: self.page_size + 1])
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, cursor is not None
        self.page_rows: Sequence[Model] = page
        return page

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page_rows:
            return None
        return replace_query_param(
            str(self.base_url), self.cursor_query_param, self._encode(reverse=False, row=self.page_rows[-1])
        )

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page_rows:
            return None
        return replace_query_param(
            str(self.base_url), self.cursor_query_param, self._encode(reverse=True, row=self.page_rows[0])
        )

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})


def _both_ways(name: str, field: str, *, nullable: bool = False) -> dict[str, KeysetOrdering]:
    return {
        name: KeysetOrdering(field, nullable=nullable),
        f"-{name}": KeysetOrdering(field, descending=True, nullable=nullable),
    }


class TaskPagination(ColumnKeysetPagination):
    # `priority` sorts by urgency (LOW < MEDIUM < HIGH < URGENT): `-priority` puts URGENT first.
    orderings = {
        **_both_ways("created_at", "created_at"),
        **_both_ways("updated_at", "updated_at"),
        **_both_ways("due_at", "due_at", nullable=True),
        **_both_ways("priority", "priority_rank"),
    }
    default_ordering = "-created_at"
    ordering_query_param = "ordering"


class ProjectPagination(ColumnKeysetPagination):
    orderings = {"-created_at": KeysetOrdering("created_at", descending=True)}
    default_ordering = "-created_at"


class ActivityPagination(ColumnKeysetPagination):
    """A task's log, oldest first."""

    orderings = {"seq": KeysetOrdering("seq")}
    default_ordering = "seq"
