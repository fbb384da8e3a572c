from django.urls import path

from . import views

app_name = "enablement"

urlpatterns = [
    path("", views.library, name="library"),
    path("modules/new/", views.module_form, name="module_create"),
    path("modules/<int:pk>/", views.module_detail, name="module_detail"),
    path("modules/<int:pk>/edit/", views.module_form, name="module_edit"),
    path("modules/<int:pk>/download/", views.module_download, name="module_download"),
    path("modules/<int:pk>/events/", views.module_event, name="module_event"),
    path("modules/<int:pk>/rate/", views.module_rate, name="module_rate"),
    path("vp-hints/", views.vp_hints, name="vp_hints"),
    path("analytics/", views.analytics, name="analytics"),
    path("knowledge/", views.knowledge_list, name="knowledge_list"),
    path("knowledge/new/", views.knowledge_form, name="knowledge_create"),
    path("knowledge/<int:pk>/", views.knowledge_detail, name="knowledge_detail"),
    path("knowledge/<int:pk>/edit/", views.knowledge_form, name="knowledge_edit"),
    path("settings/", views.settings_page, name="settings"),
]
