"""Salesforce data exports: records, links, custom fields, formats, rejections, idempotency."""

import csv
from decimal import Decimal

import pytest

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.sources import ExportError
from tests.exports import SF, small_salesforce_export, write_csv, zip_folder

pytestmark = pytest.mark.django_db


def counts():
    return {m.__name__: m.objects.count() for m in (crm.Team, crm.User, crm.Account, crm.PlanUnit, crm.Contact, crm.Product,
                                                      crm.Opportunity, crm.LineItem, crm.StageHistory,
                                                      crm.OpportunityContactRole, crm.Activity)}


EXPECTED = {"Team": 2, "User": 3, "Account": 3, "PlanUnit": 2, "Contact": 4, "Product": 2, "Opportunity": 3, "LineItem": 2,
            "StageHistory": 2, "OpportunityContactRole": 2, "Activity": 3}


def test_small_export_imports_every_record_with_its_links(tmp_path):
    result = import_export("salesforce", small_salesforce_export(tmp_path / "sf"))

    assert result.committed and not result.rejections and result.error_path is None
    assert counts() == EXPECTED
    assert result.rows_read == result.rows_imported == 26

    europe = crm.Account.objects.get(crm_id="001000000000002AAA")
    assert europe.parent.name == "Globex Holdings"  # the parent came later in the file
    assert europe.extra == {"Health_Score__c": "72"}  # custom fields are kept, not dropped
    assert europe.region == "EMEA" and europe.size == "enterprise" and europe.annual_revenue == Decimal("50000000")

    rita = crm.User.objects.get(username="rita.rep")
    assert (rita.role, rita.manager.username, rita.team.name, rita.full_name) == ("rep", "mark.mgr", "East Manager", "Rita Ross")
    assert crm.User.objects.get(username="mark.mgr").role == "manager"
    assert crm.User.objects.get(username="vera.vp").role == "leader"
    assert not rita.has_usable_password()

    won = crm.Opportunity.objects.get(crm_id="006000000000001AAA")
    assert (won.is_closed, won.is_won, won.amount, won.source, won.status) == (True, True, Decimal("120000.00"), "inbound", "won")
    assert str(won.created_date) == "2024-02-01" and str(won.close_date) == "2024-05-30"
    assert won.extra == {"Competitor__c": "Acme"}
    assert sorted(won.line_items.values_list("product__name", flat=True)) == ["Platform", "Services"]
    assert list(won.stage_history.order_by("changed_at").values_list("stage", flat=True)) == ["Prospecting", "Closed Won"]
    assert dict(won.contact_roles.values_list("contact__last_name", "role")) == {"Scorpio": "decision_maker", "Ortiz": "user"}

    lost = crm.Opportunity.objects.get(crm_id="006000000000002AAA")
    assert (lost.source, lost.lost_reason, lost.currency, lost.status) == ("blind_rfp", "Price", "EUR", "lost")
    open_deal = crm.Opportunity.objects.get(crm_id="006000000000003AAA")
    assert open_deal.description == "Multi-line\ndescription, with a comma" and open_deal.source == "referral"

    lisa = crm.Contact.objects.get(crm_id="003000000000002AAA")
    assert (lisa.plan_unit.name, lisa.reports_to.last_name) == ("IT", "Scorpio")
    # one plan unit per department of an account; a contact without a department has none
    assert set(crm.PlanUnit.objects.values_list("account__name", "name")) == {("Globex Holdings", "Executive"), ("Globex Holdings", "IT")}
    call = crm.Activity.objects.get(crm_id="00T000000000001AAA")
    assert (call.kind, call.direction, call.opportunity.crm_id, call.contact.last_name) == ("call", "inbound", "006000000000001AAA", "Lin")
    email = crm.Activity.objects.get(crm_id="00T000000000002AAA")
    assert (email.kind, email.account.name, email.contact, email.opportunity) == ("email", "Globex Holdings", None, None)  # a lead is not a contact
    meeting = crm.Activity.objects.get(crm_id="00U000000000001AAA")
    assert (meeting.kind, str(meeting.activity_date)) == ("meeting", "2024-03-10")


def test_importing_twice_changes_nothing(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    import_export("salesforce", export)
    stamps = dict(crm.Opportunity.objects.values_list("crm_id", "updated_at"))

    again = import_export("salesforce", export)

    assert counts() == EXPECTED
    assert all(step.created == step.updated == 0 for step in again.steps)
    assert sum(step.unchanged for step in again.steps) == sum(EXPECTED.values())
    assert dict(crm.Opportunity.objects.values_list("crm_id", "updated_at")) == stamps
    assert set(crm.Opportunity.objects.values_list("version", flat=True)) == {1}  # new records start at 1, unchanged stay


def test_a_changed_row_updates_only_that_record(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    import_export("salesforce", export)
    path = export / "Opportunity.csv"
    path.write_text(path.read_text().replace('"75000"', '"80000"'))

    again = import_export("salesforce", export)

    step = next(s for s in again.steps if s.target == "opportunity")
    assert (step.created, step.updated, step.unchanged) == (0, 1, 2)
    assert crm.Opportunity.objects.get(crm_id="006000000000003AAA").amount == Decimal("80000")
    # the changed record has a new version (a form opened before the import is stale), the others not
    assert dict(crm.Opportunity.objects.values_list("crm_id", "version")) == {
        "006000000000001AAA": 1, "006000000000002AAA": 1, "006000000000003AAA": 2}


def test_zip_export_with_a_folder_inside(tmp_path):
    zipped = zip_folder(small_salesforce_export(tmp_path / "sf"), tmp_path / "export.zip")
    result = import_export("salesforce", zipped)
    assert result.committed and counts() == EXPECTED


@pytest.mark.parametrize(
    "encoding,bom,newline",
    [("utf-8", True, "\r\n"), ("utf-8", False, "\r\n"), ("cp1252", False, "\n"), ("latin-1", False, "\r\n")],
)
def test_encodings_and_line_endings(tmp_path, encoding, bom, newline):
    export = small_salesforce_export(tmp_path / "sf")
    accounts = [["001000000000009AAA", "Müller & Söhne GmbH", "Manufacturing", "", "10", "", "Österreich", "", "", "", "", "Größe"]]
    if encoding == "cp1252":
        accounts[0][1] = "Café € Ltd"
    write_csv(export / "Account.csv", SF["Account.csv"], accounts, encoding=encoding, bom=bom, newline=newline)
    for name in ("Contact.csv", "Opportunity.csv", "OpportunityLineItem.csv", "OpportunityHistory.csv",
                 "OpportunityContactRole.csv", "Task.csv", "Event.csv"):
        (export / name).unlink()
    write_csv(export / "Opportunity.csv", SF["Opportunity.csv"],
              [["006000000000009AAA", "Quoted\r\nnewline", "001000000000009AAA", "005000000000003AAA", "Prospecting", "1,500.50",
                "", "03/15/2024 9:05 AM", "12/31/2024", "false", "false", "", "", "", "", "Line one\r\nLine two", "", ""]],
              encoding=encoding, bom=bom, newline=newline)

    result = import_export("salesforce", export)

    assert not result.rejections, result.rejections
    assert crm.Account.objects.get().name == accounts[0][1]
    assert crm.Account.objects.get().extra == {"Health_Score__c": "Größe"}
    deal = crm.Opportunity.objects.get()
    assert (deal.amount, str(deal.created_date), str(deal.close_date)) == (Decimal("1500.50"), "2024-03-15", "2024-12-31")
    assert deal.description == "Line one\r\nLine two"


def test_bad_rows_are_rejected_with_reasons_and_the_rest_imported(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    good = ["006000000000004AAA", "Good", "001000000000001AAA", "005000000000003AAA", "Prospecting", "10", "USD",
            "2024-09-01T10:00:00.000Z", "2025-01-31", "false", "false", "", "", "", "", "", "", ""]
    bad_date = [*good[:7], "yesterday", *good[8:]]
    bad_date[0] = "006000000000005AAA"
    no_stage = [*good[:4], "", *good[5:]]
    no_stage[0] = "006000000000006AAA"
    unknown_account = [*good[:2], "001999999999999AAA", *good[3:]]
    unknown_account[0] = "006000000000007AAA"
    bad_amount = [*good[:5], "12,3x", *good[6:]]
    bad_amount[0] = "006000000000008AAA"
    duplicate = list(good)
    path = export / "Opportunity.csv"
    with path.open() as f:
        existing = list(csv.reader(f))[1:]
    write_csv(path, SF["Opportunity.csv"], [*existing, good, bad_date, no_stage, unknown_account, bad_amount, duplicate])

    result = import_export("salesforce", export, error_path=tmp_path / "errors.csv")

    assert result.committed
    reasons = {(r.row, r.crm_id): r.reason for r in result.rejections}
    assert reasons == {
        (6, "006000000000005AAA"): "created_date: not a date: 'yesterday'",
        (7, "006000000000006AAA"): "missing stage",
        (8, "006000000000007AAA"): "unknown account 001999999999999AAA",
        (9, "006000000000008AAA"): "amount: not a number: '12,3x'",
        (10, "006000000000004AAA"): "duplicate id 006000000000004AAA (first on row 5)",
    }
    assert result.rows_rejected == 5
    assert crm.Opportunity.objects.count() == 4  # the three good ones and row 5
    with open(result.error_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["row"], r["reason"]) for r in rows][0] == ("Opportunity.csv", "6", "created_date: not a date: 'yesterday'")
    assert rows[0]["original_row"].startswith("006000000000005AAA,Good,001000000000001AAA")
    assert len(rows) == 5


def test_a_rejected_parent_rejects_its_children(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    path = export / "Account.csv"
    path.write_text(path.read_text().replace('"Initech"', '""'))  # the account loses its required name

    result = import_export("salesforce", export)

    reasons = sorted((r.file, r.reason) for r in result.rejections)
    assert reasons == [
        ("Account.csv", "missing name"),
        ("Contact.csv", "unknown account 001000000000003AAA"),
        ("Opportunity.csv", "unknown account 001000000000003AAA"),
    ]
    assert not crm.Opportunity.objects.filter(crm_id="006000000000003AAA").exists()


def test_strict_mode_imports_nothing_when_a_row_is_rejected(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    path = export / "Task.csv"
    path.write_text(path.read_text().replace('"2024-02-03"', '"31/31/2024"'))

    result = import_export("salesforce", export, strict=True)

    assert not result.committed and result.rows_rejected == 1 and result.rows_imported == 0
    assert sum(counts().values()) == 0
    assert result.error_path.exists()


def test_a_missing_object_file_is_fatal_and_names_what_is_expected(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    (export / "Opportunity.csv").unlink()
    with pytest.raises(ExportError, match="missing Opportunity.csv"):
        import_export("salesforce", export)
    assert sum(counts().values()) == 0


def test_a_missing_required_column_is_fatal(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    write_csv(export / "Opportunity.csv", ["Id", "Name"], [["006000000000001AAA", "x"]])
    with pytest.raises(ExportError, match="Opportunity.csv has no column 'StageName'"):
        import_export("salesforce", export)
    assert sum(counts().values()) == 0  # the earlier files were rolled back too


def test_day_first_dates_on_request(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    path = export / "Opportunity.csv"
    path.write_text(path.read_text().replace('"2025-01-31"', '"31/01/2025"'))
    assert import_export("salesforce", export).rejections[0].reason == "close_date: not a date: '31/01/2025' (month must be in 1..12)"
    result = import_export("salesforce", export, date_order="DMY")
    assert not result.rejections
    assert str(crm.Opportunity.objects.get(crm_id="006000000000003AAA").close_date) == "2025-01-31"


def test_file_names_may_be_patterns(tmp_path):
    from dealpilot.imports.sources import ExportSource

    (tmp_path / "hubspot-crm-exports-all-deals-2024-05-01.csv").write_text("Record ID\n1\n")
    (tmp_path / "Account.csv").write_text("Id\n1\n")
    source = ExportSource(tmp_path)
    assert source.find(["deals.csv", "hubspot-crm-exports-*deal*.csv"]) == "hubspot-crm-exports-all-deals-2024-05-01.csv"
    assert source.find(["ACCOUNT.CSV"]) == "account.csv"
    assert source.find(["contacts.csv", "hubspot-crm-exports-*contact*.csv"]) is None
