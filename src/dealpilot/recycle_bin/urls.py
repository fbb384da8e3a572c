from django.urls import path

from . import views

app_name = "recycle_bin"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:kind>/<int:pk>/delete/", views.delete, name="delete"),
    path("<str:kind>/<int:pk>/restore/", views.restore, name="restore"),
]
