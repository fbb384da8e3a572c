"""Number formats of the team dashboard: rates as percentages, money a day, signed changes."""

from __future__ import annotations

from django import template

from dealpilot.web.templatetags.dealpilot import EMPTY

register = template.Library()


def _number(value) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


@register.filter
def rate(value, places: int = 0) -> str:
    """A share as a percentage: 0.234 -> 23%."""
    x = _number(value)
    return EMPTY if x is None else f"{x:.{int(places)}%}"


@register.filter
def signed_rate(value) -> str:
    """A relative change: 0.12 -> +12%."""
    x = _number(value)
    return EMPTY if x is None else f"{x:+.0%}"


@register.filter
def amount(value) -> str:
    """Money in whole units with thousands separators."""
    x = _number(value)
    return EMPTY if x is None else f"{x:,.0f}"


@register.filter
def signed_amount(value) -> str:
    x = _number(value)
    return EMPTY if x is None else f"{x:+,.0f}"


@register.filter
def one_decimal(value) -> str:
    x = _number(value)
    return EMPTY if x is None else f"{x:.1f}"


@register.filter
def times(value) -> str:
    """A coverage ratio: 2.345 -> 2.3x."""
    x = _number(value)
    return EMPTY if x is None else f"{x:.1f}x"


@register.filter
def coverage_class(value) -> str:
    from dealpilot.performance.selectors import coverage_class as css

    return css(_number(value))


@register.filter
def verdict_class(verdict: str) -> str:
    from dealpilot.performance.selectors import VERDICTS

    return VERDICTS.get(verdict, "none")


@register.filter
def lever_value(value, lever: str) -> str:
    """A lever's value in its own unit: deals, money, a win rate, days."""
    x = _number(value)
    if x is None:
        return EMPTY
    if lever == "win_rate":
        return f"{x:.1%}"
    if lever == "cycle_days":
        return f"{x:,.0f} days"
    if lever == "opportunities":
        return f"{x:,.1f} deals"
    return f"{x:,.0f}"
