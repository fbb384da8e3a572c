from django.urls import path

from . import record_views, views

app_name = "crm"

urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", record_views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", record_views.account_edit, name="account_edit"),
    path("contacts/new/", record_views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", record_views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", record_views.contact_edit, name="contact_edit"),
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/new/", record_views.opportunity_create, name="opportunity_create"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/close/", record_views.opportunity_close, name="opportunity_close"),
    path("opportunities/<int:pk>/line-items/", record_views.line_item_add, name="line_item_add"),
    path("opportunities/<int:pk>/line-items/<int:line_id>/remove/", record_views.line_item_remove, name="line_item_remove"),
    path("opportunities/<int:pk>/contact-roles/", record_views.contact_role_set, name="contact_role_set"),
    path("opportunities/<int:pk>/contact-roles/<int:role_id>/remove/", record_views.contact_role_remove, name="contact_role_remove"),
    path("activities/log/", record_views.activity_log, name="activity_log"),
    path("activities/<int:pk>/edit/", record_views.activity_edit, name="activity_edit"),
    path("next-steps/", record_views.next_step_list, name="next_steps"),
    path("next-steps/new/", record_views.next_step_create, name="next_step_create"),
    path("next-steps/<int:pk>/", record_views.next_step_change, name="next_step_change"),
]
