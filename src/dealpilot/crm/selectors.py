"""Read paths over the CRM records."""

from . import models


def record_counts() -> dict[str, int]:
    """How many records of each kind the database holds (for `dealpilot status`)."""
    return {
        "users": models.User.objects.count(),
        "teams": models.Team.objects.count(),
        "accounts": models.Account.objects.count(),
        "plan_units": models.PlanUnit.objects.count(),
        "contacts": models.Contact.objects.count(),
        "products": models.Product.objects.count(),
        "opportunities": models.Opportunity.objects.count(),
        "line_items": models.LineItem.objects.count(),
        "stage_history": models.StageHistory.objects.count(),
        "contact_roles": models.OpportunityContactRole.objects.count(),
        "activities": models.Activity.objects.count(),
        "targets": models.SalesTarget.objects.count(),
    }
