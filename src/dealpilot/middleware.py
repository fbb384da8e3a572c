"""Request guards that apply to every request: the JSON API and the pages."""

from __future__ import annotations

import json

from django.http import HttpResponseBadRequest, JsonResponse

NUL = "\x00"
MESSAGE = "Text must not contain NUL characters (\\u0000)."


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class RefuseNulCharacters:
    """A request carrying a NUL character (`\\u0000` in JSON, `%00` in a query or a form field) is refused
    with a 400.

    PostgreSQL text cannot hold NUL, so such a write or search failed there with a 500 (and SQLite kept it).
    Django's form fields refuse it (ProhibitNullCharactersValidator), but not the values a view reads by hand
    (a page's `?q=`, the plan page's posts). One check here covers every field of every API operation and
    every page, on both databases. A page's form fields are checked once the view is known: the CSRF check
    before has read them already, except for the views that read their own upload (csrf_exempt, with a
    size-limiting upload handler): their multipart body is left to their form."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._query_or_json_carries_nul(request):
            return self._refusal(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.path.startswith("/api/"):
            return None
        if getattr(view_func, "csrf_exempt", False) and request.content_type != "application/x-www-form-urlencoded":
            return None
        if any(_has_nul(k) or _has_nul(request.POST.getlist(k)) for k in request.POST):
            return self._refusal(request)
        return None

    @staticmethod
    def _refusal(request):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": MESSAGE}, status=400)
        return HttpResponseBadRequest(MESSAGE + "\n", content_type="text/plain; charset=utf-8")

    @staticmethod
    def _query_or_json_carries_nul(request) -> bool:
        if NUL in request.path or any(_has_nul(k) or _has_nul(request.GET.getlist(k)) for k in request.GET):
            return True
        if request.path.startswith("/api/") and request.body and request.content_type == "application/json":
            try:
                return _has_nul(json.loads(request.body))
            except ValueError:  # not JSON: ninja answers that itself
                return False
        return False
