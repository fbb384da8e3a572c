from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "dealpilot.notifications"
    label = "notifications"
    verbose_name = "Digests and alerts"
