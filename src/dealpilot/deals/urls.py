from django.urls import path

from . import views

app_name = "deals"

urlpatterns = [
    path("opportunities/<int:pk>/qualification/", views.qualification, name="qualification"),
    path("rules/", views.rules, name="rules"),
    path("rules/export/", views.rules_export, name="rules_export"),
    path("model/", views.model, name="model"),
]
