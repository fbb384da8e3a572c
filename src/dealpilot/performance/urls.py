from django.urls import path

from . import views

app_name = "performance"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("csv/<slug:name>/", views.dashboard_csv, name="csv"),
]
