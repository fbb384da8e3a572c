from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "dealpilot.forecasting"
    label = "forecasting"
    verbose_name = "Forecast calls"
