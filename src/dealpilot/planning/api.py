"""The Account planning API: a ninja router mounted at /api/planning/ (see dealpilot/api.py)."""

from ninja import Router

router = Router(tags=["planning"])
