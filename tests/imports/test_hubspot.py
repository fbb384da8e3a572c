"""HubSpot CRM exports: owners from names, associations, stages, sources, activities, rejections, idempotency.

The fixture (tests/fixtures/hubspot/) is a small export as HubSpot writes it: default column labels,
every cell quoted, owners as names, several associated ids in one cell ("1;2"); contacts.csv has a
byte-order mark, deals.csv CRLF line endings and a newline inside a quoted description, tasks.csv
US dates (05/14/2024), the others "2024-05-01 14:03". notes.csv is there as in a real export but is
not imported (dealpilot has no note activity).
"""

import csv
import io
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.sources import ExportError
from tests.exports import write_csv, zip_folder

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hubspot"

EXPECTED = {"User": 4, "Account": 8, "Contact": 20, "Opportunity": 15, "OpportunityContactRole": 21, "Activity": 18}
MODELS = {"User": crm.User, "Account": crm.Account, "Contact": crm.Contact, "Opportunity": crm.Opportunity,
          "OpportunityContactRole": crm.OpportunityContactRole, "Activity": crm.Activity}


def counts() -> dict[str, int]:
    return {name: model.objects.count() for name, model in MODELS.items()}


@pytest.fixture
def export(tmp_path) -> Path:
    """A copy of the fixture that a test may change."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "hubspot"))


def append_rows(path: Path, rows: list[list[str]], newline: str = "\r\n") -> None:
    """Add rows to an export file the way HubSpot writes them (every cell quoted)."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=newline).writerows(rows)
    with path.open("ab") as f:
        f.write(buffer.getvalue().encode("utf-8"))


def test_the_fixture_is_written_as_hubspot_and_excel_write_exports():
    contacts, deals, tasks = (FIXTURE / n for n in ("contacts.csv", "deals.csv", "tasks.csv"))
    assert contacts.read_bytes().startswith(b'\xef\xbb\xbf"Record ID","First Name","Last Name"')
    assert deals.read_bytes().count(b"\r\n") == 16  # header + 15 deals ...
    assert b'"Phase 1: two plants.\nPhase 2: remaining sites, pending budget."' in deals.read_bytes()  # ... one cell spans 2 lines
    assert b"\r\n" not in contacts.read_bytes() and b'"05/14/2024 09:00 AM"' in tasks.read_bytes()
    with deals.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[:8] == ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Close Date", "Create Date", "Deal owner"]


def test_export_imports_every_record_with_owners_and_associations():
    result = import_export("hubspot", FIXTURE)

    assert result.committed and not result.rejections and result.error_path is None
    assert counts() == EXPECTED
    assert result.rows_read == result.rows_imported == 8 + 20 + 15 + 6 + 4 + 4 + 4  # notes.csv is not read

    # Owners are names: one user each, whichever files name them.
    users = {u.username: u for u in crm.User.objects.all()}
    assert set(users) == {"dana.whitfield", "marco.alves", "priya.raman", "tomas.ibanez"}
    tomas = users["tomas.ibanez"]
    assert (tomas.full_name, tomas.crm_id, tomas.role) == ("Tomás Ibáñez", "hubspot-owner:Tomás Ibáñez", "rep")
    assert not tomas.has_usable_password()

    helvetia = crm.Account.objects.get(crm_id="21450001002")
    assert (helvetia.name, helvetia.industry, helvetia.employees, helvetia.size, helvetia.annual_revenue) == (
        "Helvetia Präzision AG", "Machinery", 1800, "enterprise", Decimal("310000000"))
    assert (helvetia.country, helvetia.region, helvetia.owner.username) == ("Switzerland", "EMEA", "marco.alves")
    northwind = crm.Account.objects.get(crm_id="21450001001")
    assert northwind.extra == {  # every non-empty column of the row, custom properties ("Customer Tier") included
        "Record ID": "21450001001", "Company name": "Northwind Traders", "Company Domain Name": "northwind.example",
        "Company owner": "Dana Whitfield", "Create Date": "2024-01-08 09:14", "Industry": "Wholesale",
        "Number of Employees": "240", "Annual Revenue": "48000000", "Country/Region": "United States", "City": "Seattle",
        "Type": "Customer", "Lifecycle Stage": "Customer", "Customer Tier": "Gold",
    }
    assert dict(crm.Account.objects.values_list("name", "region")) == {
        "Northwind Traders": "Americas", "Helvetia Präzision AG": "EMEA", "Kowloon Logistics": "APAC",
        "Bluefin Analytics": "Americas", "Osaka Robotics K.K.": "APAC", "Vega Health, Inc.": "Americas",
        "Brightside Media": "EMEA", "Atlas Freight GmbH": "EMEA"}
    brightside = crm.Account.objects.get(crm_id="21450001007")
    assert (brightside.owner, brightside.size, brightside.annual_revenue) == (None, "small", None)
    atlas = crm.Account.objects.get(crm_id="21450001008")
    assert (atlas.employees, atlas.size) == (None, "")

    lena = crm.Contact.objects.get(crm_id="7501004")  # contacts.csv has a BOM before "Record ID"
    assert (lena.first_name, lena.last_name, lena.title, lena.email, lena.phone) == (
        "Lena", "Fischer", "CFO", "lena.fischer@helvetia-praezision.example", "+41 44 555 01 04")
    assert (lena.account.name, lena.owner.username) == ("Helvetia Präzision AG", "marco.alves")
    email_only = crm.Contact.objects.get(crm_id="7501017")  # a form fill: an email, no name, no owner
    assert (email_only.first_name, email_only.last_name, email_only.owner, email_only.account.name) == (
        "", "info@brightside.example", None, "Brightside Media")
    assert crm.Contact.objects.get(crm_id="7501018").account.name == "Atlas Freight GmbH"  # first of "…008;…002"
    assert crm.Contact.objects.get(crm_id="7501019").account is None
    liam = crm.Contact.objects.get(crm_id="7501020")
    assert (liam.last_name, liam.title) == ("O'Connor", "Procurement, EMEA")

    deals = {d.crm_id: d for d in crm.Opportunity.objects.select_related("account", "owner")}
    status = {d.name: (d.stage, d.status) for d in deals.values()}
    assert status == {
        "Northwind platform expansion": ("Closed Won", "won"), "Northwind data migration": ("Closed Lost", "lost"),
        "Helvetia production analytics": ("Contract Sent", "open"), "Kowloon route optimisation": ("Qualified To Buy", "open"),
        "Bluefin renewal 2024": ("Closed Won", "won"), "Osaka robotics fleet": ("Decision Maker Bought-In", "open"),
        "Vega secure messaging": ("Presentation Scheduled", "open"), "Brightside starter": ("Appointment Scheduled", "open"),
        "Atlas freight visibility": ("Closed Lost", "lost"), "Independent consulting engagement": ("Qualified To Buy", "open"),
        "Helvetia and Atlas joint pilot": ("Appointment Scheduled", "open"), "Osaka spare parts": ("Closed Won", "won"),
        "Vega analytics add-on": ("Contract Sent", "open"), "Kowloon warehouse sensors": ("Presentation Scheduled", "open"),
        "Bluefin enterprise tier": ("Decision Maker Bought-In", "open"),
    }
    sources = {d.name: (d.source, d.source_detail) for d in deals.values()}
    assert sources["Northwind platform expansion"] == ("inbound", "Direct Traffic")
    assert sources["Kowloon route optimisation"] == ("inbound", "Referrals")  # web referrals, not a person's referral
    assert sources["Bluefin renewal 2024"] == ("other", "Offline Sources")
    assert sources["Independent consulting engagement"] == ("", "")
    assert sorted(s for s, _ in sources.values()) == [""] + ["inbound"] * 12 + ["other"] * 2

    helvetia_deal = deals["1584000003"]
    assert (helvetia_deal.amount, helvetia_deal.created_date, helvetia_deal.close_date) == (
        Decimal("250000.50"), date(2024, 2, 10), date(2024, 7, 31))
    assert helvetia_deal.description == "Phase 1: two plants.\nPhase 2: remaining sites, pending budget."
    assert (helvetia_deal.account.name, helvetia_deal.owner.username, helvetia_deal.currency) == (
        "Helvetia Präzision AG", "marco.alves", "USD")
    assert deals["1584000002"].lost_reason == "Went with a competitor"
    assert (deals["1584000008"].owner, deals["1584000008"].amount) == (None, None)
    assert deals["1584000010"].account is None  # a deal with no company
    pilot = deals["1584000011"]
    assert pilot.account.name == "Helvetia Präzision AG"  # the first of two companies; all of them in extra
    assert pilot.extra["Associated Company IDs"] == "21450001002;21450001008"
    assert {k: deals["1584000001"].extra[k] for k in ("Pipeline", "Deal Type", "Renewal Risk")} == {
        "Pipeline": "Sales Pipeline", "Deal Type": "Existing Business", "Renewal Risk": "Low"}

    # Deal-contact associations: one contact role per associated contact, role unknown to HubSpot exports.
    vega = deals["1584000007"]
    assert sorted(vega.contact_roles.values_list("contact__last_name", flat=True)) == ["Kim", "Lopez", "O'Connor"]
    assert set(crm.OpportunityContactRole.objects.values_list("role", flat=True)) == {"other"}
    assert not deals["1584000012"].contact_roles.exists()
    assert crm.OpportunityContactRole.objects.get(crm_id="1584000001/7501002").contact.last_name == "Carter"

    activities = {a.crm_id: a for a in crm.Activity.objects.select_related("owner", "account", "contact", "opportunity")}
    assert sorted(a.kind for a in activities.values()) == ["call"] * 6 + ["email"] * 4 + ["meeting"] * 4 + ["task"] * 4
    call = activities["hubspot-call:48110000001"]
    assert (call.direction, call.activity_date, call.subject, call.status, call.owner.username) == (
        "outbound", date(2024, 1, 16), "Discovery call", "Connected", "dana.whitfield")
    assert (call.account.name, call.contact.last_name, call.opportunity.name) == (
        "Northwind Traders", "Nguyen", "Northwind platform expansion")
    inbound = activities["hubspot-call:48110000002"]
    assert inbound.direction == "inbound"
    assert inbound.extra["Call notes"] == "Lena asked for plant-level pricing.\nSend the tiered sheet."
    assert activities["hubspot-call:48110000003"].contact.first_name == "Grace"  # first of two contacts
    cold = activities["hubspot-call:48110000005"]  # its contact is not in the export: kept, link left empty
    assert (cold.direction, cold.contact, cold.account.name, cold.opportunity) == ("", None, "Vega Health, Inc.", None)
    calls_step = next(s for s in result.steps if s.label == "activities (calls)")
    assert calls_step.notes["contact not found, left empty"] == 1

    meeting = activities["hubspot-meeting:48120000002"]
    assert (meeting.kind, meeting.activity_date, meeting.subject, meeting.status, meeting.direction) == (
        "meeting", date(2024, 3, 12), "Helvetia plant visit", "Completed", "")
    assert [activities[f"hubspot-email:4813000000{i}"].direction for i in (1, 2, 3, 4)] == ["outbound", "inbound", "outbound", ""]
    tasks = {a.subject: (a.activity_date, a.status, a.owner.username) for a in activities.values() if a.kind == "task"}
    assert tasks == {  # US dates, month first
        "Send security questionnaire": (date(2024, 5, 14), "Not started", "dana.whitfield"),
        "Call Lena about budget": (date(2024, 3, 1), "Completed", "marco.alves"),
        "Prepare renewal quote": (date(2024, 12, 2), "Not started", "tomas.ibanez"),
        "Update forecast": (date(2024, 6, 28), "Completed", "priya.raman"),
    }
    assert activities["hubspot-task:48140000002"].extra["Task type"] == "Call"  # a to-do to call is still a task
    assert not any("4815" in crm_id for crm_id in activities)  # notes are not imported


def test_importing_twice_changes_nothing():
    first = import_export("hubspot", FIXTURE)
    stamps = {m: dict(MODELS[m].objects.values_list("crm_id", "updated_at")) for m in ("User", "Account", "Opportunity")}

    again = import_export("hubspot", FIXTURE)

    assert counts() == EXPECTED and not again.rejections
    assert all(step.created == step.updated == 0 for step in again.steps)
    assert [s.unchanged for s in again.steps] == [s.imported for s in first.steps]
    assert sum(s.unchanged for s in again.steps) == 4 + 4 + 4 + 4 + 3 + 3 + 4 + 8 + 20 + 15 + 21 + 6 + 4 + 4 + 4
    assert {m: dict(MODELS[m].objects.values_list("crm_id", "updated_at")) for m in stamps} == stamps


def test_zip_of_the_export_imports_the_same(tmp_path):
    zipped = zip_folder(FIXTURE, tmp_path / "hubspot-crm-exports.zip")
    result = import_export("hubspot", zipped)
    assert result.committed and not result.rejections and counts() == EXPECTED


def test_bad_rows_are_rejected_with_reasons_and_the_rest_imported(export, tmp_path):
    def deal(record_id, name, close="2024-10-31", company="21450001003", contacts=""):
        return [record_id, name, "Sales Pipeline", "Qualified To Buy", "1000", close, "2024-05-20 09:00", "Priya Raman",
                "New Business", "", "Organic Search", "", "", "", company, "", contacts]

    append_rows(export / "deals.csv", [
        deal("1584000016", "Kowloon pilot extension"),                       # row 17: fine
        deal("1584000017", "Kowloon dashboards", close="next quarter"),      # row 18: bad date
        deal("1584000018", "Unknown company deal", company="21459999999", contacts="7501006"),  # row 19
        deal("1584000001", "Northwind platform expansion (copy)", contacts="7501001"),          # row 20: duplicate id
        deal("1584000019", ""),                                              # row 21: no deal name
    ])

    result = import_export("hubspot", export, error_path=tmp_path / "errors.csv")

    assert result.committed
    assert sorted((r.file, r.row, r.crm_id, r.reason) for r in result.rejections) == [
        ("deals.csv", 18, "1584000017", "close_date: not a date: 'next quarter'"),
        ("deals.csv", 19, "1584000018", "unknown account 21459999999"),
        # the deal-contact associations of a rejected deal go with it
        ("deals.csv", 19, "1584000018/7501006", "unknown opportunity 1584000018"),
        ("deals.csv", 20, "1584000001", "duplicate id 1584000001 (first on row 2)"),
        ("deals.csv", 20, "1584000001/7501001", "duplicate id 1584000001/7501001 (first on row 2)"),
        ("deals.csv", 21, "1584000019", "missing name"),
    ]
    assert result.rows_rejected == 4 and result.rows_read == 61 + 5 and result.rows_imported == 61 + 1
    assert counts() == {**EXPECTED, "Opportunity": 16}
    assert crm.Opportunity.objects.get(crm_id="1584000016").account.name == "Kowloon Logistics"
    assert crm.Opportunity.objects.get(crm_id="1584000001").name == "Northwind platform expansion"  # the first row wins

    with open(result.error_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["row"], r["id"], r["reason"]) for r in rows] == [
        ("deals.csv", "18", "1584000017", "close_date: not a date: 'next quarter'"),
        ("deals.csv", "19", "1584000018", "unknown account 21459999999"),
        ("deals.csv", "19", "1584000018/7501006", "unknown opportunity 1584000018"),
        ("deals.csv", "20", "1584000001", "duplicate id 1584000001 (first on row 2)"),
        ("deals.csv", "20", "1584000001/7501001", "duplicate id 1584000001/7501001 (first on row 2)"),
        ("deals.csv", "21", "1584000019", "missing name"),
    ]
    assert rows[0]["original_row"] == (
        "1584000017,Kowloon dashboards,Sales Pipeline,Qualified To Buy,1000,next quarter,2024-05-20 09:00,Priya Raman,"
        "New Business,,Organic Search,,,,21450001003,,")


def test_a_missing_deals_file_is_fatal(export):
    (export / "deals.csv").unlink()
    with pytest.raises(ExportError, match="missing deals.csv"):
        import_export("hubspot", export)
    assert sum(counts().values()) == 0


def test_activity_files_and_owner_columns_are_optional(tmp_path):
    export = tmp_path / "minimal"
    export.mkdir()
    write_csv(export / "companies.csv", ["Record ID", "Company name"], [["101", "Solo Ltd"], ["102", "Solo Holdings"]])
    # newer exports name the primary company apart from the others
    write_csv(export / "contacts.csv", ["Record ID", "First Name", "Last Name", "Email", "Associated Company IDs (Primary)",
                                        "Associated Company IDs"],
              [["201", "Ann", "Solo", "ann@solo.example", "101", "102;101"]])
    write_csv(export / "deals.csv", ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Associated Company IDs",
                                     "Associated Contact IDs"],
              [["301", "Solo deal", "Closed Lost", "500", "05/01/2024", "101", "201"]])

    result = import_export("hubspot", export)

    assert not result.rejections
    assert crm.Contact.objects.get().account.name == "Solo Ltd"
    assert counts() == {"User": 0, "Account": 2, "Contact": 1, "Opportunity": 1, "OpportunityContactRole": 1, "Activity": 0}
    deal = crm.Opportunity.objects.get()
    assert (deal.status, deal.close_date, deal.owner, deal.account.name) == ("lost", date(2024, 5, 1), None, "Solo Ltd")
    assert [s.file for s in result.steps if s.target == "activity"] == [None] * 4


def test_internal_values_and_custom_pipelines(export):
    """An export "with internal values" shows stage ids and source codes; a custom pipeline's closed stages
    are only known from the "Is Deal Closed?" / "Is Closed Won" columns, when the export has them."""
    header = ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Is Deal Closed?", "Is Closed Won", "Original Traffic Source",
              "Associated Company IDs"]
    write_csv(export / "deals.csv", header, [
        ["901", "Default pipeline, won", "default", "closedwon", "", "", "ORGANIC_SEARCH", "21450001001"],
        ["902", "Renewals pipeline, signed", "Renewals", "Signed", "true", "true", "REFERRALS", "21450001001"],
        ["903", "Renewals pipeline, churned", "Renewals", "Churned", "true", "false", "OFFLINE", "21450001001"],
        ["904", "Renewals pipeline, open", "Renewals", "Up for renewal", "false", "false", "PAID_SOCIAL", "21450001001"],
    ], newline="\r\n")

    result = import_export("hubspot", export)

    assert not result.rejections
    deals = {d.crm_id: (d.stage, d.status, d.source) for d in crm.Opportunity.objects.all()}
    assert deals == {"901": ("Closed Won", "won", "inbound"), "902": ("Signed", "won", "inbound"),
                     "903": ("Churned", "lost", "other"), "904": ("Up for renewal", "open", "inbound")}
    step = next(s for s in result.steps if s.target == "opportunity")
    assert step.notes["stage: 'closedwon' read as 'Closed Won'"] == 1


def test_associations_to_records_outside_the_export(export):
    """A deal's contact or a contact's company that was not exported is reported; the deal itself stays."""
    deals = export / "deals.csv"
    deals.write_bytes(deals.read_bytes().replace(b'"7501008;7501009"', b'"7501008;7509998"'))  # Bluefin renewal 2024
    contacts = export / "contacts.csv"
    contacts.write_bytes(contacts.read_bytes().replace(b'"Independent Consultant","Opportunity","Open Deal","2024-04-22 15:50","","",""',
                                                       b'"Independent Consultant","Opportunity","Open Deal","2024-04-22 15:50","","","21459999998"'))

    result = import_export("hubspot", export)

    assert sorted((r.file, r.row, r.crm_id, r.reason) for r in result.rejections) == [
        ("contacts.csv", 20, "7501019", "unknown account 21459999998"),
        ("deals.csv", 6, "1584000005/7509998", "unknown contact 7509998"),
        # Emma Wilson was rejected, so her deal's association with her is too (the deal stays)
        ("deals.csv", 11, "1584000010/7501019", "unknown contact 7501019"),
    ]
    bluefin = crm.Opportunity.objects.get(crm_id="1584000005")
    assert list(bluefin.contact_roles.values_list("contact__last_name", flat=True)) == ["Brown"]
    assert crm.Opportunity.objects.filter(crm_id="1584000010").exists()
