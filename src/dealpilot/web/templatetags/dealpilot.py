"""Template filters shared by every page: money, percentages, status badges."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

EMPTY = "\u2014"  # an em dash for "no value"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def format_money(value, currency: str = "", places: int = 2) -> str:
    """`USD 1,234,567.50`: the currency code, then the amount with thousands separators."""
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    text = f"{amount:,.{places}f}"
    return f"{currency} {text}".strip() if currency else text


@register.filter
def money(value, currency: str = "") -> str:
    """Money with cents: `{{ opp.amount|money:opp.currency }}`."""
    return format_money(value, currency, 2)


@register.filter
def money0(value, currency: str = "") -> str:
    """Money in whole units, for lists and totals: `{{ total|money0:"USD" }}`."""
    return format_money(value, currency, 0)


@register.filter
def percent(value) -> str:
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    return f"{amount.normalize():f}%" if amount == amount.to_integral() else f"{amount:.1f}%"


@register.filter
def status_badge(opportunity) -> str:
    status = opportunity.status
    return format_html('<span class="badge badge-{}">{}</span>', status, status.capitalize())


@register.filter
def progress_percent(progress: dict | None) -> int:
    """0-100 from an import's {done, total} progress."""
    if not progress or not progress.get("total"):
        return 0
    return max(0, min(100, int(100 * progress.get("done", 0) / progress["total"])))


@register.simple_tag(takes_context=True)
def sort_link(context, label: str, key: str, default: str = "") -> str:
    """A column header that sorts the list by `key` (keeping the filters, back to page 1)."""
    request = context["request"]
    params = request.GET.copy()
    current = params.get("sort") or default
    params["sort"] = key
    params.pop("page", None)
    query = "?" + params.urlencode()
    if current == key:
        return format_html('<a href="{}" hx-get="{}" class="sorted">{} <span aria-hidden="true">\u25be</span></a>',
                           query, query, label)
    return format_html('<a href="{}" hx-get="{}">{}</a>', query, query, label)


@register.filter
def number_cell(value) -> str:
    """A table cell of a chart's numbers: thousands separators, at most 4 significant decimals."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    return f"{number:,.2f}" if abs(number) >= 100 else f"{number:.4g}"


@register.simple_tag(takes_context=True)
def plotly_style_slots(context) -> str:
    """Empty <style> elements carrying this request's CSP nonce, for the rules plotly.js writes (web/finders.py)."""
    from dealpilot.web.finders import plotly_style_ids

    request = context.get("request")
    # str(), not truthiness: django-csp's lazy nonce is falsy until something has read it
    nonce = str(request.csp_nonce) if hasattr(request, "csp_nonce") else ""
    return format_html_join("\n", '<style id="{}" nonce="{}"></style>', ((i, nonce) for i in plotly_style_ids()))
