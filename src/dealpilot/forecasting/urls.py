from django.urls import path

from . import views

app_name = "forecasting"

urlpatterns = [
    path("", views.index, name="index"),
    path("accuracy/", views.accuracy_page, name="accuracy"),
    path("users/<int:user_id>/", views.person, name="person"),
    path("users/<int:user_id>/call/", views.submit_call, name="submit_call"),
    path("users/<int:user_id>/changes.csv", views.changes_csv, name="changes_csv"),
    path("opportunities/<int:opportunity_id>/category/", views.set_category, name="set_category"),
]
