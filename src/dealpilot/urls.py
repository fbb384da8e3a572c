from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("imports/", include("dealpilot.imports.urls")),
    path("", include("dealpilot.crm.urls")),
    path("", include("dealpilot.web.urls")),
]
