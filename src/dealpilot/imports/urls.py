from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/status/", views.run_status, name="run_status"),
    path("<int:pk>/errors.csv", views.run_errors, name="run_errors"),
    path("conflicts/", views.conflicts, name="conflicts"),
    path("conflicts/<int:pk>/resolve/", views.resolve_conflict, name="resolve_conflict"),
    path("conflicts/owners/", views.set_field_owner, name="set_field_owner"),
]
