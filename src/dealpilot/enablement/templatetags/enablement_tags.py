"""Template tags of the enablement app: the suggested-content panel on the opportunity page and
tag labels."""

from __future__ import annotations

from django import template

from ..selectors import tag_label as _tag_label

register = template.Library()


@register.simple_tag(takes_context=True)
def enablement_suggestions(context, opportunity) -> dict:
    """Suggestions for an opportunity the page already showed to the user (so it is visible to
    them; checked again here), for the panel template enablement/_suggestions_panel.html."""
    from ..suggest import suggestions_for

    request = context.get("request")
    user = getattr(request, "user", None)
    suggestions = suggestions_for(user, opportunity.pk) if user is not None else None
    return {"items": suggestions or [], "visible": suggestions is not None}


@register.filter
def tag_label(tag) -> str:
    return _tag_label(tag.dimension, tag.value)


@register.filter
def share(value) -> str:
    """0.183 -> '18%'."""
    return "—" if value is None else f"{float(value) * 100:.0f}%"
