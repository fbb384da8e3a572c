"""Re-imports respect the work done in dealpilot (field owners, conflicts) and skip unchanged rows."""

import csv
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from dealpilot.crm import models as crm
from dealpilot.crm.services import update_opportunity
from dealpilot.deals import models as deals
from dealpilot.imports.engine import import_export
from dealpilot.imports.models import FieldOwner, ImportedRecord, SyncConflict
from dealpilot.imports.services import resolve_conflict, set_field_owner

pytestmark = pytest.mark.django_db

MAPPING = """
name: test crm
steps:
  - target: account
    file: accounts.csv
    fields:
      crm_id: Id
      name: Name
      industry: Industry
  - target: opportunity
    file: opportunities.csv
    fields:
      crm_id: Id
      name: Name
      account: AccountId
      stage: Stage
      amount: Amount
      close_date: CloseDate
      description: Description
"""
OPP_HEADER = ["Id", "Name", "AccountId", "Stage", "Amount", "CloseDate", "Description"]


def opp_rows(n: int = 3) -> list[list[str]]:
    return [[f"O{i}", f"Deal {i}", f"A{i % 2}", "Prospecting", f"{1000 * (i + 1)}.00", f"2030-01-{i + 1:02d}", f"about {i}"]
            for i in range(n)]


class Export:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.mapping = folder.parent / "mapping.yaml"
        self.mapping.write_text(MAPPING, encoding="utf-8")
        self.accounts = [["A0", "Acme", "Software"], ["A1", "Globex", "Energy"]]
        self.opps = opp_rows()
        self.write()

    def write(self, shuffle: bool = False) -> None:
        for name, header, rows in (("accounts.csv", ["Id", "Name", "Industry"], self.accounts),
                                   ("opportunities.csv", OPP_HEADER, self.opps)):
            rows = list(rows)
            if shuffle:
                random.Random(4).shuffle(rows)
            with open(self.folder / name, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f, quoting=csv.QUOTE_ALL if shuffle else csv.QUOTE_MINIMAL)
                w.writerow(header)
                w.writerows(rows)

    def set(self, crm_id: str, column: str, value: str) -> None:
        row = next(r for r in self.opps if r[0] == crm_id)
        row[OPP_HEADER.index(column)] = value
        self.write()

    def run(self, run_id=None):
        result = import_export("csv", self.folder, mapping_path=self.mapping, run_id=run_id)
        assert result.committed and not result.rejections, result.rejections
        return result


@pytest.fixture
def export(tmp_path):
    ex = Export(tmp_path / "export")
    ex.run()
    return ex


@pytest.fixture
def admin(db):
    return crm.User.objects.create(username="ada.admin", role=crm.Role.ADMIN, is_staff=True)


@pytest.fixture
def leader(db):
    return crm.User.objects.create(username="lee.leader", role=crm.Role.LEADER)


def opp(crm_id="O1") -> crm.Opportunity:
    return crm.Opportunity.all_objects.get(crm_id=crm_id)


def step(result, target="opportunity"):
    return next(s for s in result.steps if s.target == target)


def edit(user, crm_id="O1", **changes):
    return update_opportunity(user, opp(crm_id).pk, expected_version=None, **changes)


def test_first_import_stores_a_baseline_and_an_unchanged_reimport_skips_every_row(export):
    assert ImportedRecord.objects.filter(target="opportunity").count() == 3
    baseline = ImportedRecord.objects.get(target="opportunity", crm_id="O1").values
    assert baseline["stage"] == "Prospecting" and Decimal(baseline["amount"]) == Decimal("2000")
    version = opp().version

    result = export.run()

    s = step(result)
    assert (s.read, s.unchanged_skipped, s.unchanged, s.created, s.updated) == (3, 3, 3, 0, 0)
    assert step(result, "account").unchanged_skipped == 2
    assert "5 unchanged since the last import (skipped)" in result.summary()
    assert opp().version == version


def test_a_rewritten_export_with_the_same_rows_in_another_order_is_skipped_too(export):
    export.write(shuffle=True)  # new bytes (every cell quoted), new row order
    result = export.run()
    assert step(result).unchanged_skipped == 3 and step(result).updated == 0


def test_an_edit_in_dealpilot_survives_a_reimport_of_an_unchanged_export(export, admin):
    edit(admin, amount="2500")
    export.run()
    assert opp().amount == Decimal("2500.00")
    # also when the CRM changed another field of the same row (the row is read again)
    export.set("O1", "Description", "new words from the CRM")
    result = export.run()
    assert step(result).updated == 1 and step(result).kept == 1 and step(result).conflicts == 0
    assert opp().amount == Decimal("2500.00") and opp().description == "new words from the CRM"
    assert not SyncConflict.objects.exists()


def test_a_field_only_the_crm_changed_lands(export, admin):
    edit(admin, description="our notes")
    export.set("O1", "Stage", "Negotiation")
    export.set("O1", "Amount", "9999")
    result = export.run()
    o = opp()
    assert (o.stage, o.amount, o.description) == ("Negotiation", Decimal("9999.00"), "our notes")
    assert step(result).updated == 1 and step(result).unchanged == 2


def test_both_changed_the_crm_wins_by_default_and_a_conflict_keeps_both_values(export, admin):
    edit(admin, amount="2500")
    version = opp().version
    export.set("O1", "Amount", "3000")
    result = export.run()
    assert opp().amount == Decimal("3000.00") and opp().version == version + 1
    assert step(result).conflicts == 1 and "1 conflict(s) for an admin" in result.summary()
    c = SyncConflict.objects.get()
    assert (c.target, c.crm_id, c.record_id, c.field, c.kept) == ("opportunity", "O1", opp().pk, "amount", "crm")
    assert (c.imported_before, c.crm_value, c.dealpilot_value) == ("2000", "3000", "2500")
    assert c.record_label == "Deal 1" and c.resolved_at is None
    # the next import of the same export leaves it be: no second conflict
    export.run()
    assert SyncConflict.objects.count() == 1 and opp().amount == Decimal("3000.00")


def test_a_field_an_admin_hands_to_dealpilot_keeps_the_dealpilot_value(export, admin):
    set_field_owner(admin, "opportunity", "amount", "dealpilot")
    edit(admin, amount="2500")
    export.set("O1", "Amount", "3000")
    export.run()
    assert opp().amount == Decimal("2500.00")
    c = SyncConflict.objects.get()
    assert c.kept == "dealpilot" and (c.crm_value, c.dealpilot_value) == ("3000", "2500")
    set_field_owner(admin, "opportunity", "amount", "crm")
    assert not FieldOwner.objects.exists()


def test_resolving_a_conflict_both_ways_writes_through_the_record(export, admin):
    edit(admin, amount="2500")
    edit(admin, "O2", stage="Proposal", close_date="2031-05-05")
    export.set("O1", "Amount", "3000")
    export.set("O2", "Stage", "Closed Lost")
    export.run()
    amount = SyncConflict.objects.get(field="amount")
    stage = SyncConflict.objects.get(field="stage")
    assert opp("O2").stage == "Closed Lost"

    v = opp().version
    resolve_conflict(admin, amount.pk, "dealpilot")
    o = opp()
    assert o.amount == Decimal("2500.00") and o.version == v + 1
    assert o.history.first().history_change_reason is None and o.history.first().amount == Decimal("2500.00")
    amount.refresh_from_db()
    assert (amount.resolution, amount.resolved_by, amount.resolved_at is not None) == ("dealpilot", admin, True)
    # the CRM did not change it again: the next import keeps what the admin chose
    export.run()
    assert opp().amount == Decimal("2500.00")

    v2 = opp("O2").version
    resolve_conflict(admin, stage.pk, "crm")  # the import wrote the CRM's value already: nothing to write
    assert opp("O2").stage == "Closed Lost" and opp("O2").version == v2
    with pytest.raises(ValueError):
        resolve_conflict(admin, stage.pk, "crm")  # already resolved
    with pytest.raises(ValueError):
        resolve_conflict(admin, amount.pk, "both")


def test_records_without_a_baseline_are_the_crms_and_get_one(export, admin):
    ImportedRecord.objects.all().delete()  # as imported before re-imports kept baselines
    edit(admin, amount="2500")
    result = export.run()
    assert opp().amount == Decimal("2000.00") and step(result).unchanged_skipped == 0
    assert ImportedRecord.objects.filter(target="opportunity").count() == 3 and not SyncConflict.objects.exists()


def test_a_mapping_change_reads_every_row_again(export):
    export.mapping.write_text(MAPPING.replace("description: Description", "description: {column: Description, transform: upper}"))
    result = export.run()
    assert step(result).unchanged_skipped == 0 and step(result).updated == 3
    assert opp().description == "ABOUT 1"
    assert step(result, "account").unchanged_skipped == 2  # its step did not change
    assert step(export.run()).unchanged_skipped == 3


def test_a_duplicate_of_a_skipped_row_is_rejected_as_before(export):
    export.opps.append(list(export.opps[0][:4]) + ["1.00", "2030-01-01", "dup"])
    export.write()
    result = import_export("csv", export.folder, mapping_path=export.mapping)
    assert [r.reason for r in result.rejections] == ["duplicate id O0 (first on row 2)"]
    assert opp("O0").amount == Decimal("1000.00")


def test_dealpilot_only_data_is_never_touched_by_an_import(export, admin):
    o = opp()
    step_ = crm.NextStep.objects.create(subject="send the proposal", owner=admin, due_date=date.today() + timedelta(days=3),
                                        opportunity=o)
    question = deals.QualificationQuestion.objects.create(key="budget", text="Budget?")
    answer = deals.QualificationAnswer.objects.create(opportunity=o, question=question, value="yes", answered_by=admin,
                                                      answered_at=timezone.now())
    plan = deals.MutualPlan.objects.create(opportunity=o)
    deals.MutualPlanStep.objects.create(plan=plan, title="legal review", due_date=date(2030, 2, 1), first_due=date(2030, 2, 1))
    snapshot = lambda: (list(crm.NextStep.objects.values()), list(deals.QualificationAnswer.objects.values()),
                        list(deals.MutualPlan.objects.values()), list(deals.MutualPlanStep.objects.values()),
                        list(deals.CriterionCheck.objects.values()))
    before = snapshot()
    for column, value in (("Stage", "Closed Won"), ("Amount", "1"), ("Description", "changed")):
        export.set("O1", column, value)
    export.run()
    assert opp().stage == "Closed Won"
    assert snapshot() == before
    step_.refresh_from_db(), answer.refresh_from_db()
    assert step_.subject == "send the proposal" and answer.value == "yes"


# ---- the page and the API: administrators only -------------------------------------------------------------


@pytest.fixture
def conflict(export, admin):
    edit(admin, amount="2500")
    export.set("O1", "Amount", "3000")
    export.run()
    return SyncConflict.objects.get()


def test_the_conflicts_page_is_for_admins(client, conflict, admin, leader):
    url = "/imports/conflicts/"
    assert client.get(url).status_code == 302 and "/login" in client.get(url)["Location"]
    client.force_login(leader)
    assert client.get(url).status_code == 403
    assert client.post(f"/imports/conflicts/{conflict.pk}/resolve/", {"keep": "dealpilot"}).status_code == 403
    assert client.post("/imports/conflicts/owners/", {"field": "opportunity.amount", "owner": "dealpilot"}).status_code == 403
    client.force_login(admin)
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Deal 1" in text and "amount" in text and "2500" in text and "3000" in text and "2000" in text
    response = client.post(f"/imports/conflicts/{conflict.pk}/resolve/", {"keep": "dealpilot"})
    assert response.status_code == 302 and opp().amount == Decimal("2500.00")
    assert client.post("/imports/conflicts/999999/resolve/", {"keep": "crm"}).status_code == 404
    client.post("/imports/conflicts/owners/", {"field": "opportunity.stage", "owner": "dealpilot"})
    assert FieldOwner.objects.get().owner == "dealpilot"
    assert "No open conflicts" in client.get(url).content.decode()


def test_the_conflicts_api_is_for_admins_and_refuses_bad_input(client, conflict, admin, leader):
    assert client.get("/api/imports/conflicts").status_code == 401
    client.force_login(leader)
    assert client.get("/api/imports/conflicts").status_code == 403
    assert client.post(f"/api/imports/conflicts/{conflict.pk}/resolve", {"keep": "crm"},
                       content_type="application/json").status_code == 403
    client.force_login(admin)
    listed = client.get("/api/imports/conflicts").json()
    assert listed["count"] == 1
    item = listed["conflicts"][0]
    assert (item["field"], item["imported_before"], item["crm_value"], item["dealpilot_value"], item["kept"]) == (
        "amount", "2000", "3000", "2500", "crm")
    post = lambda pk, body: client.post(f"/api/imports/conflicts/{pk}/resolve", body, content_type="application/json")
    assert post(999999, {"keep": "crm"}).status_code == 404
    assert post(0, {"keep": "crm"}).status_code == 422
    assert client.post("/api/imports/conflicts/abc/resolve", {"keep": "crm"}, content_type="application/json").status_code == 422
    assert post(conflict.pk, {"keep": "both"}).status_code == 422
    assert post(conflict.pk, {}).status_code == 422
    done = post(conflict.pk, {"keep": "dealpilot"})
    assert done.status_code == 200 and done.json()["resolution"] == "dealpilot"
    assert post(conflict.pk, {"keep": "crm"}).status_code == 409
    assert client.get("/api/imports/conflicts?state=resolved").json()["count"] == 1
    assert client.get("/api/imports/conflicts?state=nope").status_code == 422
    owners = client.get("/api/imports/field-owners").json()
    assert {"target": "opportunity", "field": "amount", "owner": "crm"} in owners
    put = lambda body: client.put("/api/imports/field-owners", body, content_type="application/json")
    assert put({"target": "opportunity", "field": "amount", "owner": "dealpilot"}).status_code == 200
    assert put({"target": "opportunity", "field": "version", "owner": "dealpilot"}).status_code == 400
    assert put({"target": "stage_history", "field": "stage", "owner": "dealpilot"}).status_code == 400
    assert put({"target": "opportunity", "field": "amount", "owner": "nobody"}).status_code == 422
