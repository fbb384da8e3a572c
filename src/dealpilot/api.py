"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from django.conf import settings
from ninja import NinjaAPI
from ninja.security import HttpBearer, SessionAuth

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
        if user is not None:
            request.user = user  # handlers read request.user, as with a session
        return user


class BrowserSessionAuth(SessionAuth):
    """The browser's session, CSRF enforced on unsafe methods. Not tried when the request carries no
    session cookie: ninja's session auth checks CSRF before it looks at the cookie, so a script's
    token write (no cookie, so no CSRF token and nothing to forge) was refused with a 403 before its
    token was read. Found by the load test (bench/load.py); Django's test client skips CSRF checks."""

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().__call__(request)


# A session (the browser; CSRF enforced on unsafe methods) or a personal API token (scripts; no cookie,
# so no CSRF to forge).
api = NinjaAPI(title="dealpilot API", version="1", auth=[BrowserSessionAuth(), ApiTokenAuth()])


@api.get("/health", auth=None, tags=["system"])
def health(request):
    return {"status": "ok"}


api.add_router("/crm/", crm_router)
api.add_router("/performance/", performance_router)
api.add_router("/planning/", planning_router)
api.add_router("/deals/", deals_router)
api.add_router("/enablement/", enablement_router)
api.add_router("/cadence/", cadence_router)
