"""The real Maven CRM dataset imports with the right counts, checked against a count by hand."""

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.mapping import MAPPINGS_DIR

pytestmark = pytest.mark.django_db
MAPPING = MAPPINGS_DIR / "maven-crm.yaml"


def read(folder: Path, name: str) -> list[dict]:
    with open(folder / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_maven_dataset_imports_completely_and_says_what_it_corrected(maven_dir):
    pipeline = read(maven_dir, "sales_pipeline.csv")
    teams = read(maven_dir, "sales_teams.csv")
    accounts = read(maven_dir, "accounts.csv")

    result = import_export("csv", maven_dir, mapping_path=MAPPING)

    assert result.committed and not result.rejections
    assert crm.Opportunity.objects.count() == len(pipeline) == 8800
    assert crm.Account.objects.count() == len(accounts) == 85
    assert crm.Product.objects.count() == 7
    assert crm.User.objects.filter(role="rep").count() == len({r["sales_agent"] for r in teams}) == 35
    assert crm.User.objects.filter(role="manager").count() == len({r["manager"] for r in teams}) == 6
    assert crm.Team.objects.filter(parent__isnull=True).count() == len({r["regional_office"] for r in teams}) == 3

    # The same figures computed by hand from the files.
    won = [r for r in pipeline if r["deal_stage"] == "Won"]
    assert crm.Opportunity.objects.filter(is_won=True).count() == len(won)
    assert crm.Opportunity.objects.filter(is_closed=True, is_won=False).count() == sum(r["deal_stage"] == "Lost" for r in pipeline)
    assert crm.Opportunity.objects.filter(is_won=True).aggregate(s=Sum("amount"))["s"] == sum(Decimal(r["close_value"]) for r in won)
    by_agent = Counter(r["sales_agent"] for r in pipeline)
    assert dict(crm.Opportunity.objects.values_list("owner__crm_id").annotate(n=Count("id"))) == dict(by_agent)
    assert crm.Opportunity.objects.filter(account__isnull=True).count() == sum(not r["account"] for r in pipeline)
    assert crm.Opportunity.objects.filter(created_date__isnull=True).count() == sum(not r["engage_date"] for r in pipeline)

    # Its dirt: the "technolgy" sector and the "GTXPro" product, corrected and reported.
    assert not crm.Account.objects.filter(industry="technolgy").exists()
    assert crm.LineItem.objects.filter(product__name="GTX Pro").count() == sum(r["product"] in ("GTX Pro", "GTXPro") for r in pipeline)
    notes = {note for step in result.steps for note in step.notes}
    assert "industry: 'technolgy' read as 'technology'" in notes
    assert "product: 'GTXPro' read as 'GTX Pro'" in notes
    assert "no account" in notes

    # Teams: a manager sees their own agents.
    manager = crm.User.objects.get(crm_id=teams[0]["manager"])
    mine = {r["sales_agent"] for r in teams if r["manager"] == manager.crm_id} | {manager.crm_id}
    assert set(crm.User.objects.visible_to(manager).values_list("crm_id", flat=True)) == mine
    agent = crm.User.objects.get(crm_id=teams[0]["sales_agent"])
    assert crm.Opportunity.objects.visible_to(agent).count() == by_agent[agent.crm_id]
    subsidiary = next(r for r in accounts if r["subsidiary_of"])
    assert crm.Account.objects.get(crm_id=subsidiary["account"]).parent.name == subsidiary["subsidiary_of"]


def test_maven_import_is_idempotent(maven_dir):
    import_export("csv", maven_dir, mapping_path=MAPPING)
    again = import_export("csv", maven_dir, mapping_path=MAPPING)
    assert sum(s.created + s.updated for s in again.steps) == 0
    assert crm.Opportunity.objects.count() == 8800
