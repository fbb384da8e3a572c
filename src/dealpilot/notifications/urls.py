from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("read/", views.read, name="read"),
    path("settings/", views.settings_page, name="settings"),
    path("webhooks/add/", views.add_webhook, name="add_webhook"),
    path("webhooks/<int:webhook_id>/delete/", views.delete_webhook, name="delete_webhook"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("unsubscribe/<str:token>/", views.unsubscribe_page, name="unsubscribe"),
]
