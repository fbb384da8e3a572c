"""Value-message templates: the author writes text with named placeholders such as
`{account}` or `{amount}`; the rep sees it filled with the deal's fields.

Only the placeholders in PLACEHOLDERS are allowed, with no attribute or index access, format
specs or conversions: a template is data, never code. Rendering uses str.format_map over a dict
of plain strings, after the template was checked field by field."""

from __future__ import annotations

import string

from django.core.exceptions import ValidationError
from django.utils import formats

PLACEHOLDERS = {
    "account": "The account's name",
    "industry": "The account's industry",
    "opportunity": "The opportunity's name",
    "amount": "The deal amount with its currency",
    "stage": "The deal stage",
    "close_date": "The expected close date",
    "challenge": "The challenge in the deal's description",
    "owner": "The deal owner (the rep)",
    "decision_maker": "The decision maker in the buying group, if known",
}
_formatter = string.Formatter()


def template_errors(template: str) -> list[str]:
    """What is wrong with a template (empty when it is fine)."""
    errors = []
    try:
        parts = list(_formatter.parse(template))
    except ValueError as exc:  # e.g. a single "{" or "}"
        return [f"The template has a brace that is not a placeholder ({exc}); write {{{{ or }}}} for a literal brace."]
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            errors.append(f"Unknown placeholder {{{field}}}; use one of: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        elif spec or conversion:
            errors.append(f"Placeholder {{{field}}} cannot have a format or conversion.")
    return errors


def validate_template(template: str) -> None:
    if errors := template_errors(template):
        raise ValidationError(errors)


def deal_values(opportunity, *, decision_maker: str | None = None) -> dict[str, str]:
    """The placeholder values for one opportunity (already visible to the caller); pass the
    decision maker's name when it is known already (saves a query)."""
    from dealpilot.crm.models import ContactRole

    if decision_maker is None:
        dm = (opportunity.contact_roles.filter(role__in=[ContactRole.DECISION_MAKER, ContactRole.ECONOMIC_BUYER])
              .select_related("contact").order_by("-is_primary", "pk").first())
        decision_maker = str(dm.contact) if dm else ""
    account = opportunity.account
    amount = ""
    if opportunity.amount is not None:
        amount = f"{opportunity.currency} {formats.number_format(opportunity.amount, 0, use_l10n=True, force_grouping=True)}"
    return {
        "account": account.name if account else "your organisation",
        "industry": (account.industry if account and account.industry else "your industry"),
        "opportunity": opportunity.name or str(opportunity),
        "amount": amount or "this investment",
        "stage": opportunity.stage,
        "close_date": formats.date_format(opportunity.close_date, "j F Y") if opportunity.close_date else "the planned date",
        "challenge": challenge_of(opportunity.description) or "the challenge you described",
        "owner": str(opportunity.owner) if opportunity.owner else "your account team",
        "decision_maker": decision_maker or "your decision maker",
    }


def challenge_of(description: str) -> str:
    """The challenge a deal description names: its first sentence without a leading 'Unit:'."""
    text = " ".join((description or "").split())
    if not text:
        return ""
    first = text.split(". ")[0].rstrip(".")
    if ": " in first[:40]:
        first = first.split(": ", 1)[1]
    return first


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill a checked template; an invalid one is returned as written (never evaluated)."""
    if template_errors(template):
        return template
    safe = {k: str(values.get(k, "")) for k in PLACEHOLDERS}
    return template.format_map(safe)
