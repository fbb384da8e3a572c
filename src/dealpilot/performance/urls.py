from django.urls import path

from . import views

app_name = "performance"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("csv/<slug:name>/", views.dashboard_csv, name="csv"),
    path("diagnosis/settings/", views.diagnosis_settings, name="diagnosis_settings"),
]
