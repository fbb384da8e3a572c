"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from ninja import NinjaAPI
from ninja.security import django_auth

from dealpilot.cadence.api import router as cadence_router
from dealpilot.crm.api import router as crm_router
from dealpilot.deals.api import router as deals_router
from dealpilot.enablement.api import router as enablement_router
from dealpilot.performance.api import router as performance_router
from dealpilot.planning.api import router as planning_router

api = NinjaAPI(title="dealpilot API", version="1", auth=django_auth)  # django_auth (session) enforces CSRF on unsafe methods


@api.get("/health", auth=None, tags=["system"])
def health(request):
    return {"status": "ok"}


api.add_router("/crm/", crm_router)
api.add_router("/performance/", performance_router)
api.add_router("/planning/", planning_router)
api.add_router("/deals/", deals_router)
api.add_router("/enablement/", enablement_router)
api.add_router("/cadence/", cadence_router)
