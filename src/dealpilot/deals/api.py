"""The Deal intelligence API: a ninja router mounted at /api/deals/ (see dealpilot/api.py)."""

from ninja import Router

router = Router(tags=["deals"])
