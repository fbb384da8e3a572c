"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from ninja import NinjaAPI
from ninja.security import HttpBearer, django_auth

from dealpilot.cadence.api import router as cadence_router
from dealpilot.concurrency import BadVersion, StaleWrite, etag
from dealpilot.crm.api import router as crm_router
from dealpilot.deals.api import router as deals_router
from dealpilot.enablement.api import router as enablement_router
from dealpilot.performance.api import router as performance_router
from dealpilot.planning.api import router as planning_router
from dealpilot.recycle_bin.api import router as recycle_bin_router



class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer dp_...`: a personal API token (web: user menu > API tokens)."""

    def authenticate(self, request, token):
        from dealpilot.crm.services import user_for_api_token

        user = user_for_api_token(token)
        if user is not None:
            request.user = user  # handlers read request.user, as with a session
        return user


# A session (the browser; CSRF enforced on unsafe methods) or a personal API token (scripts; no cookie,
# so no CSRF to forge).
api = NinjaAPI(title="dealpilot API", version="1", auth=[django_auth, ApiTokenAuth()])


@api.get("/health", auth=None, tags=["system"])
def health(request):
    return {"status": "ok"}


@api.exception_handler(StaleWrite)
def stale_write(request, exc: StaleWrite):
    """A write that named an older version (If-Match): nothing was changed; the ETag is the current one."""
    response = api.create_response(request, {"detail": exc.message, "current_version": exc.current_version}, status=409)
    response["ETag"] = etag(exc.current_version)
    return response


@api.exception_handler(BadVersion)
def bad_version(request, exc: BadVersion):
    return api.create_response(request, {"detail": str(exc)}, status=400)


api.add_router("/crm/", crm_router)
api.add_router("/performance/", performance_router)
api.add_router("/planning/", planning_router)
api.add_router("/deals/", deals_router)
api.add_router("/enablement/", enablement_router)
api.add_router("/cadence/", cadence_router)
api.add_router("/recycle-bin", recycle_bin_router)
