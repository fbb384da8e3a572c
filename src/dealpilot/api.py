"""The JSON API: one NinjaAPI, each domain app contributes a router."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer, django_auth

from dealpilot.cadence.api import router as cadence_router
from dealpilot.concurrency import BadVersion, StaleWrite, etag
from dealpilot.crm.api import router as crm_router
from dealpilot.deals.api import router as deals_router
from dealpilot.enablement.api import router as enablement_router
from dealpilot.forecasting.api import router as forecast_router
from dealpilot.imports.api import router as imports_router
from dealpilot.performance.api import router as performance_router
from dealpilot.planning.api import router as planning_router
from dealpilot.recycle_bin.api import router as recycle_bin_router
from dealpilot.today.api import router as today_router
from dealpilot.notifications.api import router as notifications_router



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


def docs_login_required(view):
    """The API documentation (Swagger UI) and the OpenAPI schema, for people who may use the API only: a
    session, or a personal API token (scripts that generate clients read the schema with theirs). Without
    one, the docs page sends the browser to the login page and the schema answers 401."""
    schema = getattr(view, "func", view).__name__ == "openapi_json"  # ninja wraps functools.partial views

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            from dealpilot.crm.services import user_for_api_token

            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            user = user_for_api_token(token.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                if schema:
                    return JsonResponse({"detail": "Log in, or send a personal API token (Authorization: Bearer dp_...)."},
                                        status=401)
                return redirect_to_login(request.get_full_path())
            request.user = user
        return view(request, *args, **kwargs)

    return guarded


_ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_FIELD_ERRORS = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
    "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}, "type": {"type": "string"}}}}}}


def _declare(responses: dict, status: str, description: str, body: dict) -> None:
    if status not in {str(code) for code in responses}:  # ninja's own keys are ints
        responses[status] = {"description": description, "content": {"application/json": {"schema": body}}}


class DealpilotAPI(NinjaAPI):
    """The answers every operation may give, declared once in the OpenAPI schema instead of on each route:
    ninja declares only what a route lists, yet answers 422 to input that does not match the schema and 401
    without a login; a 404 is the answer for an id that does not exist, or a record or route not for the caller."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                # a body that is not JSON, a NUL character (dealpilot.middleware), a value the operation refuses
                _declare(responses, "400", "Bad input, with the reason", _ERROR)
                if operation.get("security"):
                    _declare(responses, "401", "No session and no valid personal API token", _ERROR)
                    # what the caller may not see or use answers exactly like what does not exist (docs/security.md)
                    _declare(responses, "404", "No such record, or not one for the caller or their role", _ERROR)
                if operation.get("parameters") or operation.get("requestBody"):
                    _declare(responses, "422", "Input that does not match the schema: one error per field", _FIELD_ERRORS)
        return schema


# A personal API token (scripts; no cookie, so no CSRF to forge) or a session (the browser; CSRF enforced
# on unsafe methods). The token goes first: ninja's session auth refuses an unsafe request without a CSRF
# token outright (403), so behind it a script's token never got a say on a write.
# The docs: Swagger UI from ninja's own static files ("ninja" is an installed app; without it ninja loads it
# from a public CDN), no online validator badge (it would send the schema's address to a third party and load
# an image from there), behind a login like the schema it shows.
api = DealpilotAPI(title="dealpilot API", version="1", auth=[ApiTokenAuth(), django_auth],
                   docs=Swagger(settings={"validatorUrl": None}), docs_decorator=docs_login_required)


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
api.add_router("/today", today_router)
api.add_router("/notifications", notifications_router)
api.add_router("/forecast/", forecast_router)
api.add_router("/imports/", imports_router)
