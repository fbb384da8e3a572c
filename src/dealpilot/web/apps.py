from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "dealpilot.web"
    label = "web"
