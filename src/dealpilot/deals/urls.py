from django.urls import path

from . import views

app_name = "deals"

urlpatterns = [
    path("opportunities/<int:pk>/qualification/", views.qualification, name="qualification"),
    path("opportunities/<int:pk>/call-plans/", views.call_plans, name="call_plans"),
    path("call-plans/<int:plan_id>/", views.call_plan, name="call_plan"),
    path("call-plans/report/", views.call_plan_report, name="call_plan_report"),
    path("opportunities/<int:pk>/business-case/", views.business_case, name="business_case"),
    path("opportunities/<int:pk>/business-case/export.csv", views.business_case_export, name="business_case_export"),
    path("opportunities/<int:pk>/business-case/print/", views.business_case_print, name="business_case_print"),
    path("opportunities/<int:pk>/exit-criteria/", views.exit_criteria, name="exit_criteria"),
    path("opportunities/<int:pk>/mutual-plan/", views.mutual_plan, name="mutual_plan"),
    path("opportunities/<int:pk>/mutual-plan/export.<str:fmt>", views.mutual_plan_export, name="mutual_plan_export"),
    path("stages/", views.stages, name="stages"),
    path("rules/", views.rules, name="rules"),
    path("rules/export/", views.rules_export, name="rules_export"),
    path("model/", views.model, name="model"),
    path("win-loss/", views.win_loss, name="win_loss"),
]
