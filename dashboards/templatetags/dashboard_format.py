"""Template filters for figures: durations in seconds, rates as fractions, status names."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as the largest sensible unit: "2.5 d", "3.0 h", "12 min"; an em dash for nothing."""
    if seconds is None or seconds == "":
        return "—"
    value = float(seconds)
    if value >= 86_400:
        return f"{value / 86_400:.1f} d"
    if value >= 3_600:
        return f"{value / 3_600:.1f} h"
    return f"{value / 60:.0f} min"


@register.filter
def percent(fraction: Any) -> str:
    if fraction is None or fraction == "":
        return "—"
    return f"{100 * float(fraction):.1f} %"


@register.filter
def status_label(status: Any) -> str:
    return str(status).replace("_", " ").capitalize()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def person(user: Any, empty: str = "—") -> str:
    """A user's name, else their email; `empty` for nobody."""
    if user is None:
        return empty
    return str(getattr(user, "full_name", "") or getattr(user, "email", "") or empty)
