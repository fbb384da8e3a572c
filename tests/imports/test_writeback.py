"""Write-back (`dealpilot export salesforce|hubspot`): the round trip, selection, and the command.

The round trip is what the CRM would see: a database holds an import from the CRM and a rep's work
on top (recorded through the same services the web forms use); the write-back files are written;
then a fresh database (the CRM tables emptied) gets the CRM's export again and the write-back files,
read by mappings/*-writeback.yaml. Every field the CRM format carries must come back equal, and no
record twice. Runs on the database the suite runs on (SQLite, PostgreSQL).
"""

import csv
import json
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from typer.testing import CliRunner

from dealpilot.crm import activities, records, services
from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.mapping import MAPPINGS_DIR
from dealpilot.imports.writeback import WriteBackError, dealpilot_id, write_back
from tests.exports import small_salesforce_export

pytestmark = pytest.mark.django_db

HUBSPOT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hubspot"
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.IMPORT_ERRORS_DIR = tmp_path / "import-errors"


# ---- comparing two databases ---------------------------------------------------------------------------


def key(record):
    return None if record is None else (record.crm_id or dealpilot_id(record))


CARRIED = {  # what each CRM format carries, per kind (links compared by the linked record's key)
    "salesforce": {
        "account": ["name", "industry", "employees", "size", "annual_revenue", "currency", "country", "region", "parent", "owner"],
        "contact": ["account", "first_name", "last_name", "title", "email", "phone", "reports_to", "owner"],
        "opportunity": ["name", "account", "owner", "stage", "amount", "currency", "created_date", "close_date", "is_closed",
                        "is_won", "source", "probability", "forecast_category", "lost_reason", "competitor", "close_comment",
                        "description"],
        "line_item": ["opportunity", "product", "quantity", "unit_price"],
        "contact_role": ["role", "is_primary"],
        "activity": ["kind", "direction", "activity_date", "subject", "status", "owner", "account", "contact", "opportunity",
                     "outcome", "notes"],
        "next_step": ["subject", "due_date", "status", "owner", "account", "contact", "opportunity"],
    },
    "hubspot": {
        "account": ["name", "industry", "employees", "size", "annual_revenue", "country", "region", "owner"],
        "contact": ["account", "first_name", "last_name", "title", "email", "phone", "owner"],
        "opportunity": ["name", "account", "owner", "stage", "amount", "currency", "created_date", "close_date", "is_closed",
                        "is_won", "probability", "forecast_category", "lost_reason", "competitor", "close_comment", "description"],
        "line_item": ["opportunity", "product", "quantity", "unit_price"],
        "contact_role": [],  # an association: HubSpot carries no role
        "activity": ["kind", "direction", "activity_date", "subject", "status", "owner", "account", "contact", "opportunity",
                     "outcome", "notes"],
        "next_step": ["subject", "due_date", "status", "owner", "account", "contact", "opportunity"],
    },
}
MODELS = {"account": crm.Account.objects, "contact": crm.Contact.objects, "opportunity": crm.Opportunity.objects,
          "line_item": crm.LineItem.objects, "contact_role": crm.OpportunityContactRole.objects,
          "activity": crm.Activity.objects, "next_step": crm.NextStep.objects}


def value(record, name, crm_name):
    got = getattr(record, name)
    if isinstance(got, (crm.Account, crm.Contact, crm.Opportunity, crm.User, crm.Product)):
        return key(got)
    if name == "status" and isinstance(record, crm.Activity):
        if crm_name == "salesforce" and record.kind == crm.ActivityKind.MEETING:
            return None  # an Event has no status
        return got or {"salesforce": "Completed", "hubspot": "COMPLETED"}[crm_name]  # a logged activity has happened
    return got


def snapshot(crm_name: str) -> dict:
    state = {}
    for kind, fields in CARRIED[crm_name].items():
        rows = {}
        for record in MODELS[kind].all():
            k = (key(record.opportunity), key(record.contact)) if kind == "contact_role" else key(record)
            assert k not in rows, f"{kind} {k} twice"
            rows[k] = {name: value(record, name, crm_name) for name in fields}
        state[kind] = rows
    return state


def empty_crm_tables() -> None:
    """A fresh database for the CRM's records (people, teams and products stay: the CRM's, not written back)."""
    for model in (crm.NextStep, crm.Activity, crm.OpportunityContactRole, crm.LineItem, crm.StageHistory, crm.Opportunity,
                  crm.Contact, crm.PlanUnit, crm.Account):
        model._base_manager.all().delete()
    assert not crm.Account._base_manager.exists()


def read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---- Salesforce ----------------------------------------------------------------------------------------


def rep_work(rep: crm.User, product: crm.Product, *, known_account: crm.Account, known_contact: crm.Contact,
             known_opportunity: crm.Opportunity | None) -> dict:
    """A rep's work through the services: a new account, contact and deal with a line and a role, a call
    with its outcome, notes and next step, a deal closed lost, and changes to records from the CRM."""
    account = records.create_account(rep, name="Umbrella Pharma GmbH", industry="Pharma", country="Germany", region="EMEA",
                                     employees="120", annual_revenue="5000000.50", currency="EUR")
    contact = records.create_contact(rep, account_id=account.pk, first_name="Jörg", last_name="Ähler", title="CFO",
                                     email="joerg@umbrella.example", phone="+49 89 1234")
    deal = records.create_opportunity(
        rep, name="Umbrella rollout", account_id=account.pk, close_date=TODAY + timedelta(days=60), source="inbound",
        probability="30", description="=SUM(A1) looks like a formula,\nhas commas and \"quotes\"",
        line_items=[{"product_id": product.pk, "quantity": "3", "unit_price": "1000.50"}])
    records.set_contact_role(rep, deal.pk, contact_id=contact.pk, role="champion", is_primary=True)
    call, step = activities.log_activity(
        rep, kind="call", opportunity_id=deal.pk, contact_ids=[contact.pk], direction="outbound", outcome="Connected",
        notes="Budget confirmed; wants a proposal", next_step={"subject": "Send the proposal", "due_date": TODAY + timedelta(days=2)})
    meeting, _ = activities.log_activity(rep, kind="meeting", account_id=account.pk, subject="Site visit",
                                         outcome="Next step agreed", notes="Met the plant manager")
    note, _ = activities.log_activity(rep, kind="note", contact_ids=[contact.pk], notes="Prefers e-mail")
    lost = records.create_opportunity(rep, name="Add-on (lost)", account_id=known_account.pk, close_date=TODAY)
    services.update_opportunity(rep, lost.pk, expected_version=None, stage="Closed Lost", lost_reason="Lost to a competitor",
                                competitor="Acme Corp", close_comment="They matched our price, and had the integration.")
    records.update_account(rep, known_account.pk, expected_version=None, industry="Industrial machinery")
    records.update_contact(rep, known_contact.pk, expected_version=None, title="Chief Executive")
    if known_opportunity is not None:
        records.set_contact_role(rep, known_opportunity.pk, contact_id=known_contact.pk, role="evaluator")
    binned = records.create_account(rep, name="Deleted in dealpilot")
    crm.Account.objects.filter(pk=binned.pk).update(deleted_at=timezone.now())  # the recycle bin: never written
    return {"account": account, "contact": contact, "deal": deal, "call": call, "step": step, "meeting": meeting,
            "note": note, "lost": lost, "binned": binned}


@pytest.fixture
def salesforce_work(tmp_path):
    export = small_salesforce_export(tmp_path / "sf")
    assert import_export("salesforce", export).committed
    rita = crm.User.objects.get(username="rita.rep")
    globex = crm.Account.objects.get(crm_id="001000000000001AAA")
    hank = crm.Contact.objects.get(crm_id="003000000000001AAA")
    platform = crm.Product.objects.get(crm_id="01t000000000001AAA")
    won = crm.Opportunity.objects.get(crm_id="006000000000001AAA")
    work = rep_work(rita, platform, known_account=globex, known_contact=hank, known_opportunity=won)
    task = crm.Activity.objects.get(crm_id="00T000000000001AAA")
    activities.update_activity(rita, task.pk, expected_version=None, outcome="Connected", notes="Imported call, notes added")
    return export, work


def test_salesforce_round_trip_loses_nothing_and_duplicates_nothing(salesforce_work, tmp_path):
    export, work = salesforce_work
    before = snapshot("salesforce")

    result = write_back("salesforce", tmp_path / "out")

    files = {f.file: f.rows for f in result.files}
    assert files == {
        "01-Account-by-Dealpilot_Id__c.csv": 1, "01-Account-by-Id.csv": 1,  # Umbrella; Globex changed (not the binned one)
        "02-Contact-by-Dealpilot_Id__c.csv": 1, "02-Contact-by-Id.csv": 1,
        "03-Opportunity-by-Dealpilot_Id__c.csv": 2,  # the new deal and the one closed lost
        "04-OpportunityLineItem-by-Dealpilot_Id__c.csv": 1,
        "05-OpportunityContactRole-by-Dealpilot_Id__c.csv": 1,  # on the new deal
        "05-OpportunityContactRole-by-Id.csv": 1,  # Hank's role on the imported deal, changed
        "06-Task-by-Dealpilot_Id__c.csv": 2, "06-Task-by-Id.csv": 1,  # call and note; the imported call changed
        "07-Event-by-Dealpilot_Id__c.csv": 1,
        "08-Task-NextStep-by-Dealpilot_Id__c.csv": 1,
    }
    out = tmp_path / "out"
    account = read(out / "01-Account-by-Dealpilot_Id__c.csv")[0]
    assert account == {"Dealpilot_Id__c": dealpilot_id(work["account"]), "Name": "Umbrella Pharma GmbH", "Industry": "Pharma",
                       "NumberOfEmployees": "120", "AnnualRevenue": "5000000.50", "CurrencyIsoCode": "EUR",
                       "BillingCountry": "Germany", "ParentId": "", "Parent.Dealpilot_Id__c": "", "OwnerId": "005000000000003AAA"}
    assert read(out / "01-Account-by-Id.csv")[0]["Id"] == "001000000000001AAA"
    contact = read(out / "02-Contact-by-Dealpilot_Id__c.csv")[0]
    assert (contact["AccountId"], contact["Account.Dealpilot_Id__c"], contact["Phone"], contact["LastName"]) == (
        "", dealpilot_id(work["account"]), "+49 89 1234", "Ähler")  # written as is: no quote before "+"
    deals = {d["Name"]: d for d in read(out / "03-Opportunity-by-Dealpilot_Id__c.csv")}
    lost = deals["Add-on (lost)"]
    assert (lost["AccountId"], lost["StageName"], lost["Loss_Reason__c"], lost["Competitor__c"], lost["Close_Comment__c"],
            lost["IsClosed"], lost["IsWon"]) == ("001000000000001AAA", "Closed Lost", "Lost to a competitor", "Acme Corp",
                                                 "They matched our price, and had the integration.", "true", "false")
    new = deals["Umbrella rollout"]
    assert (new["Amount"], new["Probability"], new["LeadSource"], new["CloseDate"]) == (
        "3001.50", "30.00", "Web", (TODAY + timedelta(days=60)).isoformat())
    assert new["Description"].startswith("=SUM(A1)")  # Data Loader files keep the text as it is
    line = read(out / "04-OpportunityLineItem-by-Dealpilot_Id__c.csv")[0]
    assert (line["Opportunity.Dealpilot_Id__c"], line["Product2Id"], line["Quantity"], line["UnitPrice"]) == (
        dealpilot_id(work["deal"]), "01t000000000001AAA", "3.00", "1000.50")
    assert "TotalPrice" not in line  # Salesforce computes it, and refuses both prices on one line
    role = read(out / "05-OpportunityContactRole-by-Dealpilot_Id__c.csv")[0]
    changed_role = read(out / "05-OpportunityContactRole-by-Id.csv")[0]
    assert (role["Role"], role["IsPrimary"]) == ("Champion", "true")
    assert (changed_role["Id"], changed_role["Role"], changed_role["OpportunityId"], changed_role["ContactId"]) == (
        "00K000000000001AAA", "Evaluator", "006000000000001AAA", "003000000000001AAA")  # was Decision Maker
    call = next(t for t in read(out / "06-Task-by-Dealpilot_Id__c.csv") if t["Type"] == "Call")
    assert (call["Opportunity:What.Dealpilot_Id__c"], call["Contact:Who.Dealpilot_Id__c"], call["CallDisposition"],
            call["Description"], call["Status"], call["CallType"], call["OwnerId"]) == (
        dealpilot_id(work["deal"]), dealpilot_id(work["contact"]), "Connected", "Budget confirmed; wants a proposal",
        "Completed", "Outbound", "005000000000003AAA")
    step = read(out / "08-Task-NextStep-by-Dealpilot_Id__c.csv")[0]
    assert (step["Subject"], step["Status"], step["ActivityDate"]) == (
        "Send the proposal", "Not Started", (TODAY + timedelta(days=2)).isoformat())
    assert not result.notes

    empty_crm_tables()
    assert import_export("salesforce", export).committed
    back = import_export("csv", out, mapping_path=MAPPINGS_DIR / "salesforce-writeback.yaml")
    assert back.committed and not back.rejections, back.rejections

    after = snapshot("salesforce")
    for kind in before:
        assert after[kind] == before[kind], kind
    assert not crm.Account.all_objects.filter(name="Deleted in dealpilot").exists()

    again = import_export("csv", out, mapping_path=MAPPINGS_DIR / "salesforce-writeback.yaml")  # idempotent
    assert not again.rejections and snapshot("salesforce") == before


def test_changed_since_selects_only_what_changed_then(salesforce_work, tmp_path):
    _, work = salesforce_work
    since = timezone.now()
    rita = crm.User.objects.get(username="rita.rep")
    ole = crm.Contact.objects.get(crm_id="003000000000003AAA")
    records.update_contact(rita, ole.pk, expected_version=None, title="IT Lead")
    new, _ = activities.log_activity(rita, kind="call", account_id=work["account"].pk, subject="Follow-up")

    result = write_back("salesforce", tmp_path / "out", changed_since=since)

    # the changed contact, the new call, and the account it is about (born in dealpilot: Salesforce needs it first)
    assert {f.file: f.rows for f in result.files} == {
        "01-Account-by-Dealpilot_Id__c.csv": 1, "02-Contact-by-Id.csv": 1, "06-Task-by-Dealpilot_Id__c.csv": 1}
    assert read(tmp_path / "out" / "02-Contact-by-Id.csv")[0]["Title"] == "IT Lead"
    assert read(tmp_path / "out" / "06-Task-by-Dealpilot_Id__c.csv")[0]["Dealpilot_Id__c"] == dealpilot_id(new)

    later = write_back("salesforce", tmp_path / "later", changed_since=timezone.now() + timedelta(minutes=1))
    assert later.files == [] and later.rows == 0


def test_output_folder_and_zip(salesforce_work, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("someone's file")
    with pytest.raises(WriteBackError, match="not empty"):
        write_back("salesforce", out)
    assert write_back("salesforce", out, force=True).rows == 14 and (out / "keep.txt").exists()

    archive = write_back("salesforce", tmp_path / "wb.zip")
    with zipfile.ZipFile(tmp_path / "wb.zip") as zf:
        assert sorted(zf.namelist()) == sorted(f.file for f in archive.files)
    with pytest.raises(WriteBackError, match="exists"):
        write_back("salesforce", tmp_path / "wb.zip")


# ---- HubSpot -------------------------------------------------------------------------------------------


def test_hubspot_round_trip_loses_nothing_and_duplicates_nothing(tmp_path):
    assert import_export("hubspot", HUBSPOT_FIXTURE).committed
    rep = crm.User.objects.get(username="dana.whitfield")
    known_account = crm.Account.objects.filter(owner=rep).order_by("pk").first()
    known_contact = crm.Contact.objects.filter(account=known_account).order_by("pk").first()
    known_deal = crm.Opportunity.objects.filter(account=known_account, owner=rep).order_by("pk").first()
    product = crm.Product.objects.create(crm_id="1234567", name="Platform", list_price=Decimal("999.00"))
    work = rep_work(rep, product, known_account=known_account, known_contact=known_contact, known_opportunity=known_deal)
    imported_call = crm.Activity.objects.filter(crm_id__startswith="hubspot-call:", owner=rep).order_by("pk").first()
    activities.update_activity(rep, imported_call.pk, expected_version=None, notes="Added in dealpilot")
    before = snapshot("hubspot")

    result = write_back("hubspot", tmp_path / "out")

    out = tmp_path / "out"
    assert {f.file: f.rows for f in result.files} == {
        "companies.csv": 2, "contacts.csv": 2, "deals.csv": 2 + (known_deal is not None), "line_items.csv": 1,
        "calls.csv": 1, "meetings.csv": 1, "notes.csv": 1, "tasks.csv": 1}
    companies = {c["Company name"]: c for c in read(out / "companies.csv")}
    assert companies["Umbrella Pharma GmbH"]["Record ID"] == "" and companies["Umbrella Pharma GmbH"][
        "Dealpilot ID"] == dealpilot_id(work["account"])
    assert companies[known_account.name]["Record ID"] == known_account.crm_id
    assert companies[known_account.name]["Company owner"] == "Dana Whitfield"
    deals = {d["Deal Name"]: d for d in read(out / "deals.csv")}
    assert deals["Umbrella rollout"]["Associated Contact Dealpilot IDs"] == dealpilot_id(work["contact"])
    assert (deals["Add-on (lost)"]["Closed Lost Reason"], deals["Add-on (lost)"]["Competitor"]) == ("Lost to a competitor", "Acme Corp")
    call = read(out / "calls.csv")[0]
    assert (call["Call outcome"], call["Call notes"], call["Call direction"], call["Associated Deal Dealpilot ID"]) == (
        "Connected", "Budget confirmed; wants a proposal", "OUTBOUND", dealpilot_id(work["deal"]))
    assert "Record ID" not in call  # activities are created, never updated: the imported call is not written ...
    assert result.notes == {"activities from HubSpot changed in dealpilot (HubSpot's import creates activities, "
                            "it does not update them)": 1}  # ... and the summary says so
    blank = crm.Contact.objects.get(pk=known_contact.pk)
    assert read(out / "contacts.csv")[0]["Phone Number"] == blank.phone  # an empty field is an empty cell

    empty_crm_tables()
    assert import_export("hubspot", HUBSPOT_FIXTURE).committed
    back = import_export("csv", out, mapping_path=MAPPINGS_DIR / "hubspot-writeback.yaml")
    assert back.committed and not back.rejections, back.rejections

    after = snapshot("hubspot")
    before["activity"][imported_call.crm_id]["notes"] = after["activity"][imported_call.crm_id]["notes"]  # the one exception
    for kind in before:
        assert after[kind] == before[kind], kind


# ---- the command ---------------------------------------------------------------------------------------


def test_the_command_writes_and_summarises(salesforce_work, tmp_path):
    from dealpilot.cli import app

    runner = CliRunner()
    out = tmp_path / "cli-out"
    done = runner.invoke(app, ["export", "salesforce", str(out), "--format", "json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["rows"] == 14 and summary["changed_since"] is None
    assert {f["file"]: f["rows"] for f in summary["files"]}["03-Opportunity-by-Dealpilot_Id__c.csv"] == 2
    assert sorted(p.name for p in out.iterdir()) == sorted(f["file"] for f in summary["files"])

    table = runner.invoke(app, ["export", "hubspot", str(tmp_path / "hs"), "--changed-since", "2000-01-01"])
    assert table.exit_code == 0, table.output
    assert "companies.csv" in table.stdout and "rows in" in table.stdout

    since = runner.invoke(app, ["export", "salesforce", str(tmp_path / "tz"), "--changed-since", "2999-01-01T00:00:00+02:00",
                                "--format", "json"])
    assert since.exit_code == 0 and json.loads(since.stdout)["changed_since"] == "2998-12-31T22:00:00Z"


@pytest.mark.parametrize("args, message", [
    (["--changed-since", "yesterday"], "is not a date or date-time"),
    (["--changed-since", "2026-02-30"], "is not a date or date-time"),
    (["--format", "xml"], "--format must be table or json"),
])
def test_bad_input_exits_2_with_the_reason(args, message, tmp_path):
    from dealpilot.cli import app

    done = CliRunner().invoke(app, ["export", "salesforce", str(tmp_path / "out"), *args])
    assert done.exit_code == 2 and message in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_non_empty_folder_is_refused(tmp_path):
    from dealpilot.cli import app

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.csv").write_text("x")
    done = CliRunner().invoke(app, ["export", "hubspot", str(tmp_path / "out")])
    assert done.exit_code == 2 and "not empty; use --force" in done.stderr


def add_rows(path: Path, rows: list[dict]) -> None:
    """The CRM's next export: the file again, with the external id column and the records it now holds."""
    existing = read(path)
    header = list(existing[0]) + [c for c in rows[0] if c not in existing[0]]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(existing + rows)


def test_the_crms_next_export_links_the_records_born_in_dealpilot_instead_of_copying_them(salesforce_work, tmp_path):
    """After the write-back is loaded, Salesforce's export holds those records under its own new Ids with
    `Dealpilot_Id__c` beside them: the re-import gives the dealpilot records those Ids, once, no duplicate."""
    export, work = salesforce_work
    account, deal = work["account"], work["deal"]
    rita = crm.User.objects.get(username="rita.rep")
    add_rows(export / "Account.csv", [{"Id": "001NEW0000000001AA", "Name": account.name, "OwnerId": rita.crm_id,
                                       "CurrencyIsoCode": "EUR", "Dealpilot_Id__c": dealpilot_id(account)}])
    add_rows(export / "Opportunity.csv", [{"Id": "006NEW0000000001AA", "Name": deal.name, "AccountId": "001NEW0000000001AA",
                                           "OwnerId": rita.crm_id, "StageName": deal.stage, "Amount": "3001.50",
                                           "CurrencyIsoCode": "EUR", "CloseDate": deal.close_date.isoformat(),
                                           "CreatedDate": f"{TODAY.isoformat()}T09:00:00.000Z", "IsClosed": "false",
                                           "IsWon": "false", "Dealpilot_Id__c": dealpilot_id(deal)}])
    accounts, deals = crm.Account.objects.count(), crm.Opportunity.objects.count()
    result = import_export("salesforce", export)
    assert result.committed, result
    assert (crm.Account.objects.count(), crm.Opportunity.objects.count()) == (accounts, deals)  # linked, not copied
    account.refresh_from_db()
    deal.refresh_from_db()
    assert (account.crm_id, deal.crm_id, deal.account_id) == ("001NEW0000000001AA", "006NEW0000000001AA", account.pk)
    again = import_export("salesforce", export)  # and once linked, a re-import is an ordinary one
    assert again.committed and (crm.Account.objects.count(), crm.Opportunity.objects.count()) == (accounts, deals)
