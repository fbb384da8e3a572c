from django.urls import path

from . import views

app_name = "planning"

urlpatterns = [
    path("", views.priorities, name="priorities"),
    path("export/", views.priorities_export, name="priorities_export"),
    path("accounts/<int:pk>/", views.account, name="account"),
    path("accounts/<int:pk>/rate/", views.rate, name="rate"),
    path("accounts/<int:pk>/plan/", views.plan, name="plan"),
    path("accounts/<int:pk>/plan/edit/", views.plan_edit, name="plan_edit"),
    path("accounts/<int:pk>/plan/comment/", views.plan_comment, name="plan_comment"),
    path("accounts/<int:pk>/plan/export.<str:fmt>", views.plan_export, name="plan_export"),
    path("accounts/<int:pk>/people/", views.people, name="people"),
    path("accounts/<int:pk>/people/edit/", views.people_edit, name="people_edit"),
    path("accounts/<int:pk>/white-space/", views.white_space, name="white_space"),
    path("accounts/<int:pk>/white-space/edit/", views.white_space_edit, name="white_space_edit"),
    path("scoring-model/", views.scoring_model, name="scoring_model"),
    path("scoring-model.yaml", views.scoring_model_yaml, name="scoring_model_yaml"),
]
