"""`{% deal_intelligence opportunity %}`: the deal-intelligence panel of the opportunity page,
built by this app so that the CRM's view stays as it is."""

from django import template

from dealpilot.deals import selectors

register = template.Library()


@register.inclusion_tag("deals/_panel.html", takes_context=True)
def deal_intelligence(context, opportunity):
    user = context["request"].user
    # the CRM view has already checked the deal is visible; check again, this tag may be reused
    visible = selectors.visible_opportunity(user, opportunity.pk)
    if visible is None:
        return {"panel": None}
    return {"panel": selectors.deal_panel(user, visible), "request": context["request"], "csrf_token": context.get("csrf_token")}


@register.filter
def pct(value) -> str:
    """0.4567 -> 46%"""
    if value is None:
        return "\u2014"
    return f"{float(value) * 100:.0f}%"


@register.filter
def pct1(value) -> str:
    """0.0367 -> 3.7%"""
    if value is None:
        return "\u2014"
    return f"{float(value) * 100:.1f}%"
