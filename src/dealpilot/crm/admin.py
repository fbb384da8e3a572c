from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from dealpilot.concurrency import save_if_current

from . import models


@admin.register(models.User)
class DealpilotUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Roles, teams and rights are changed here, by admins only; each change is in the person's history."""

    list_display = ("username", "full_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = UserAdmin.fieldsets + (("Sales", {"fields": ("role", "team", "manager", "full_name", "crm_id")}),)


@admin.register(models.Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ("name", "parent")


@admin.register(models.Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "industry", "region", "owner")
    search_fields = ("name", "crm_id")
    raw_id_fields = ("parent", "owner")


@admin.register(models.Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "owner", "stage", "amount", "close_date", "is_closed", "is_won")
    list_filter = ("is_closed", "is_won", "source")
    search_fields = ("name", "crm_id")
    raw_id_fields = ("account", "owner")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:  # a new version: pages and API callers holding the old one must reload first
            save_if_current(models.Opportunity.objects.filter(pk=obj.pk), None)
            obj.refresh_from_db(fields=["version"])


admin.site.register(models.Contact, search_fields=("last_name", "email"), raw_id_fields=("account", "reports_to", "owner", "plan_unit"))
admin.site.register(models.Product)
admin.site.register(models.SalesTarget, raw_id_fields=("owner",))


@admin.register(models.LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    """The list a deal is closed lost with: the sales leader's (defaults from the domain brief)."""

    list_display = ("label", "needs_competitor", "is_active", "position")
    list_editable = ("needs_competitor", "is_active", "position")
