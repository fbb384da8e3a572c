"""`{% deal_intelligence opportunity %}`, `{% stage_checklist opportunity %}` and
`{% mutual_plan opportunity %}`: the deal-intelligence panel, the exit criteria of the deal's
stage and its mutual action plan on the opportunity page, built by this app so that the CRM's view
stays as it is."""

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


def _deal_context(context, opportunity) -> dict | None:
    """The deal again through the caller's visibility (the tags may be reused), or None."""
    request = context["request"]
    visible = selectors.visible_opportunity(request.user, opportunity.pk)
    if visible is None:
        return None
    return {"o": visible, "request": request, "csrf_token": context.get("csrf_token"),
            "can_edit": selectors.may_edit(request.user)}


@register.inclusion_tag("deals/_stage_checklist.html", takes_context=True)
def stage_checklist(context, opportunity):
    from dealpilot.deals.guided import stage_checklist as checklist_of

    base = _deal_context(context, opportunity)
    if base is None:
        return {"checklist": None}
    return {**base, "checklist": checklist_of(base["o"])}


@register.inclusion_tag("deals/_mutual_plan.html", takes_context=True)
def mutual_plan(context, opportunity):
    from dealpilot.deals.models import PlanSide

    base = _deal_context(context, opportunity)
    if base is None:
        return {"plan": None}
    user, o = base["request"].user, base["o"]
    people = {"sellers": list(selectors.seller_people(user, o)[:500]), "buyers": list(selectors.buyer_contacts(o)[:500])} \
        if base["can_edit"] else {}
    return {**base, **people, "plan": selectors.mutual_plan_of(o), "sides": PlanSide.choices}


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


@register.inclusion_tag("deals/_similar_deals.html", takes_context=True)
def deals_like_this(context, opportunity, limit: int = 5):
    """Closed deals like this one, how they ended and why (deals.winloss): two queries, and the deal's own
    visibility is checked inside the first (a deal the caller may not see gets none)."""
    from dealpilot.deals.winloss import deals_like_this as similar

    user = context["request"].user
    if user.role == "enablement" and not user.sees_everything:
        return {"similar": None}
    return {"similar": similar(user, opportunity, limit), "o": opportunity}
