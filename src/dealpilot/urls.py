from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("imports/", include("dealpilot.imports.urls")),
    path("team/", include("dealpilot.performance.urls")),
    path("planning/", include("dealpilot.planning.urls")),
    path("deals/", include("dealpilot.deals.urls")),
    path("enablement/", include("dealpilot.enablement.urls")),
    path("cadence/", include("dealpilot.cadence.urls")),
    path("forecast/", include("dealpilot.forecasting.urls")),
    path("recycle-bin/", include("dealpilot.recycle_bin.urls")),
    path("today/", include("dealpilot.today.urls")),
    path("notifications/", include("dealpilot.notifications.urls")),
    path("", include("dealpilot.crm.urls")),
    path("", include("dealpilot.web.urls")),
]
