"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, django_auth

from dealpilot.cadence.api import router as cadence_router
from dealpilot.crm.api import router as crm_router
from dealpilot.deals.api import router as deals_router
from dealpilot.enablement.api import router as enablement_router
from dealpilot.performance.api import router as performance_router
from dealpilot.planning.api import router as planning_router



class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer dp_...`: a personal API token (web: user menu > API tokens)."""

    def authenticate(self, request, token):
        from dealpilot.crm.services import user_for_api_token

        user = user_for_api_token(token)
        if user is None:
            # A request that presents a token is judged by it: a clear 401, not the session's CSRF refusal.
            raise AuthenticationError()
        request.user = user  # handlers read request.user, as with a session
        return user


# A personal API token (scripts; no cookie, so no CSRF to forge) or a session (the browser; CSRF enforced
# on unsafe methods). The token goes first: ninja's session auth refuses an unsafe request without a CSRF
# token outright (403), so behind it a script's token never got a say on a write.
api = NinjaAPI(title="dealpilot API", version="1", auth=[ApiTokenAuth(), django_auth])


@api.get("/health", auth=None, tags=["system"])
def health(request):
    return {"status": "ok"}


api.add_router("/crm/", crm_router)
api.add_router("/performance/", performance_router)
api.add_router("/planning/", planning_router)
api.add_router("/deals/", deals_router)
api.add_router("/enablement/", enablement_router)
api.add_router("/cadence/", cadence_router)
