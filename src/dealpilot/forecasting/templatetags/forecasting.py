"""Filters of the forecast pages."""

from __future__ import annotations

from django import template

from dealpilot.web.templatetags.dealpilot import EMPTY

register = template.Library()


@register.filter
def share(value) -> str:
    """0.537 -> 54%."""
    if value is None or value == "":
        return EMPTY
    return f"{float(value):.0%}"


@register.filter
def signed(value) -> str:
    """+1,200 / -3,400 (whole units)."""
    if value is None or value == "":
        return EMPTY
    number = float(value)
    return f"{number:+,.0f}" if number else "0"


@register.filter
def sign_class(value) -> str:
    if value is None or value == "":
        return ""
    return "change-positive" if float(value) > 0 else "change-negative" if float(value) < 0 else ""


@register.filter
def absolute(value):
    return None if value is None or value == "" else abs(value)
