"""Request guards that apply to the whole JSON API."""

from __future__ import annotations

import json

from django.http import JsonResponse

NUL = "\x00"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class RefuseNulCharacters:
    """An API request carrying a NUL character (`\\u0000` in JSON, `%00` in a query) is refused with a 400.

    PostgreSQL text cannot hold NUL, so such a write failed there with a 500 (and SQLite kept it); the
    web forms already refuse it (Django's ProhibitNullCharactersValidator). One check here covers every
    field of every API operation, on both databases."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and self._carries_nul(request):
            return JsonResponse({"detail": "Text must not contain NUL characters (\\u0000)."}, status=400)
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        if NUL in request.path or any(_has_nul(k) or _has_nul(request.GET.getlist(k)) for k in request.GET):
            return True
        if request.body and request.content_type == "application/json":
            try:
                return _has_nul(json.loads(request.body))
            except ValueError:  # not JSON: ninja answers that itself
                return False
        return False
