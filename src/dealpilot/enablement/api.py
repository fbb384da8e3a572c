"""The Enablement API: a ninja router mounted at /api/enablement/ (see dealpilot/api.py)."""

from ninja import Router

router = Router(tags=["enablement"])
