"""The Team performance API: a ninja router mounted at /api/performance/ (see dealpilot/api.py)."""

from ninja import Router

router = Router(tags=["performance"])
