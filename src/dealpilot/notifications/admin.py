from django.contrib import admin

from .models import AlertEvent, Delivery, Subscription, TeamWebhook


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("key", "channel", "to", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "channel", "kind")
    search_fields = ("key", "to", "subject")
    readonly_fields = [f.name for f in Delivery._meta.fields]


admin.site.register(Subscription)
admin.site.register(TeamWebhook)
admin.site.register(AlertEvent)
