from django.urls import path

from . import views

app_name = "today"

urlpatterns = [
    path("", views.index, name="index"),
    path("set-aside/", views.set_aside, name="set_aside"),
    path("settings/", views.settings_page, name="settings"),
]
