"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from ninja import NinjaAPI
from ninja.security import django_auth

from dealpilot.crm.api import router as crm_router

api = NinjaAPI(title="dealpilot API", version="1", auth=django_auth)  # django_auth (session) enforces CSRF on unsafe methods


@api.get("/health", auth=None, tags=["system"])
def health(request):
    return {"status": "ok"}


api.add_router("/crm/", crm_router)
