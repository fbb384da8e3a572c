from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/status/", views.run_status, name="run_status"),
    path("<int:pk>/errors.csv", views.run_errors, name="run_errors"),
]
