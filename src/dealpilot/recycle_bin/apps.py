from django.apps import AppConfig


class RecycleBinConfig(AppConfig):
    name = "dealpilot.recycle_bin"
    label = "recycle_bin"
    verbose_name = "Recycle bin"
