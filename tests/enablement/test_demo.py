"""The demo library on a generated organisation (the demo's own generator and importer, at a
small scale): every open deal gets suggestions with reasons, and seeding twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import authenticate

from dealpilot.crm.models import Opportunity
from dealpilot.demo.generator import write_salesforce_export
from dealpilot.demo.loader import DEMO_PASSWORD
from dealpilot.enablement.demo import seed_demo
from dealpilot.enablement.models import ContentEvent, ContentKind, ContentModule, ContentRating, KnowledgeEntry
from dealpilot.enablement.suggest import suggest
from dealpilot.imports.engine import import_export

pytestmark = pytest.mark.django_db


def test_demo_library_gives_every_open_deal_suggestions_and_is_idempotent(tmp_path: Path):
    write_salesforce_export(tmp_path, accounts=60, opportunities=400, activities=400)
    assert import_export("salesforce", tmp_path).committed
    seed_demo()
    counts = [m.objects.count() for m in (ContentModule, ContentEvent, ContentRating, KnowledgeEntry)]
    assert 20 <= counts[0] <= 40 and counts[1] and counts[2] and counts[3] >= 4
    assert set(ContentModule.objects.values_list("kind", flat=True)) == set(ContentKind.values)
    assert authenticate(username="nina.author", password=DEMO_PASSWORD).role == "enablement"

    # a user's change survives the next start; nothing is added twice
    module = ContentModule.objects.get(title="Mutual action plan")
    module.summary = "Edited by a user"
    module.save()
    seed_demo()
    assert [m.objects.count() for m in (ContentModule, ContentEvent, ContentRating, KnowledgeEntry)] == counts
    assert ContentModule.objects.get(title="Mutual action plan").summary == "Edited by a user"

    open_deals = list(Opportunity.objects.filter(is_closed=False).select_related("account", "owner"))
    assert open_deals
    for deal in open_deals:
        found = suggest(deal)
        assert found and all(s.reasons for s in found), deal
    # value messages are filled with the deal's fields
    messages = [s.message for d in open_deals[:20] for s in suggest(d) if s.message]
    assert messages and not any("{" in m for m in messages)
