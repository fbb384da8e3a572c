"""Write-back: the records dealpilot created or changed, in the CRM's own import format.

The CRM stays the system of record. `write_back("salesforce" | "hubspot", out, changed_since=...)`
writes every record a person created or changed in dealpilot (since a moment, or ever) as files the
CRM's own loader reads: Salesforce Data Loader upsert CSVs (one per object and key: `Id` for records
the CRM already has, the external id field `Dealpilot_Id__c` for records born in dealpilot), HubSpot
import files (one per object, `Record ID` for known records, the unique property `Dealpilot ID` for
new ones). The column names are the API names / labels the import mappings read
(mappings/salesforce.yaml, hubspot.yaml), so `mappings/*-writeback.yaml` import the files again:
that round trip is the test that nothing is lost or duplicated (tests/imports/test_writeback.py).

What is selected (see docs/crm-sync.md):
- a record born in dealpilot (no CRM id), or one a person changed in dealpilot (a field-history
  change; the line items and contact roles, which keep no history, when changed after the last
  import); with `changed_since`, only those changed since then;
- the parents born in dealpilot that a selected record refers to (the CRM needs them first);
- never a record in the recycle bin, nor one whose parent is there: deletions are not pushed.

Cells are written as they are (no spreadsheet-formula defusing: a quote before "+49 89 ..." would
become part of the phone number in the CRM); files are UTF-8 with a header row, dates ISO 8601,
decimals plain. Queries stream (`.iterator()`), so memory stays flat.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

from django.db.models import F, Max, Q, QuerySet

from dealpilot.crm import models as crm

EXTERNAL_ID = "Dealpilot_Id__c"  # the Salesforce external id field the admin creates once per object
HUBSPOT_ID = "Dealpilot ID"  # the HubSpot unique-value property the admin creates once per object
HUBSPOT_OWNER = "hubspot-owner:"  # how the HubSpot import names its owners' CRM ids
CHUNK = 2000
CRMS = ("salesforce", "hubspot")


class WriteBackError(Exception):
    """The output cannot be written (nothing is written then)."""


def dealpilot_id(record) -> str:
    """The id a record born in dealpilot carries in the CRM (stable within this database)."""
    return f"dealpilot-{type(record).__name__.lower()}-{record.pk}"


# ---- what is selected ----------------------------------------------------------------------------------

# kind -> (model, parents: field -> kind). Parents come before children in the files.
KINDS: dict[str, tuple[type, dict[str, str]]] = {
    "account": (crm.Account, {"parent": "account"}),
    "contact": (crm.Contact, {"account": "account", "reports_to": "contact"}),
    "opportunity": (crm.Opportunity, {"account": "account"}),
    "line_item": (crm.LineItem, {"opportunity": "opportunity"}),
    "contact_role": (crm.OpportunityContactRole, {"opportunity": "opportunity", "contact": "contact"}),
    "activity": (crm.Activity, {"account": "account", "contact": "contact", "opportunity": "opportunity"}),
    "next_step": (crm.NextStep, {"account": "account", "contact": "contact", "opportunity": "opportunity",
                                 "activity": "activity"}),
}
BINNED = ("account", "contact", "opportunity", "activity")  # kinds with a recycle bin


def _alive(kind: str) -> QuerySet:
    """The records of a kind outside the recycle bin, whose parents are outside it too."""
    model, parents = KINDS[kind]
    queryset = model._base_manager.all()
    if kind in BINNED:
        queryset = queryset.filter(deleted_at__isnull=True)
    for name, parent in parents.items():
        if parent in BINNED:
            queryset = queryset.filter(Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__deleted_at__isnull": True}))
    return queryset


def last_import_finished() -> datetime | None:
    from .models import ImportRun

    return ImportRun.objects.filter(finished_at__isnull=False).aggregate(t=Max("finished_at"))["t"]


def _worked_on(kind: str, since: datetime | None) -> Q:
    """Records of `kind` a person created or changed in dealpilot (since `since`)."""
    model, _ = KINDS[kind]
    born = Q(crm_id__isnull=True) | Q(crm_id="")
    if since is not None:
        born &= Q(updated_at__gte=since)
    if hasattr(model, "history"):
        changes = model.history.filter(history_type="~")
        if since is not None:
            changes = changes.filter(history_date__gte=since)
        return born | Q(pk__in=changes.values("id"))
    # No field history (line items, contact roles): saved after it was created, and after the last
    # import run (which may have changed it itself) and `since`.
    changed = Q(updated_at__gt=F("created_at"))
    after = max([t for t in (since, last_import_finished()) if t is not None], default=None)
    if after is not None:
        changed &= Q(updated_at__gt=after)
    return born | changed


def _born(prefix: str = "") -> Q:
    return Q(**{f"{prefix}crm_id__isnull": True}) | Q(**{f"{prefix}crm_id": ""})


def select(since: datetime | None) -> dict[str, QuerySet]:
    """kind -> the queryset of records to write, parents born in dealpilot included."""
    chosen = {kind: _alive(kind).filter(_worked_on(kind, since)) for kind in KINDS}
    if since is None:  # every record born in dealpilot is chosen already: parents included
        return {kind: chosen[kind].order_by("pk") for kind in KINDS}
    # A selected child needs its parents in the CRM: add those born in dealpilot and unchanged since
    # (so not chosen), children first (a next step pulls in its activity, which pulls in its deal,
    # which pulls in its account). Only those extra ids are held in memory: few, whatever the data.
    extra: dict[str, set[int]] = {kind: set() for kind in KINDS}

    def selected(kind: str) -> Q:
        return Q(pk__in=chosen[kind].values("pk")) | Q(pk__in=extra[kind]) if extra[kind] else Q(pk__in=chosen[kind].values("pk"))

    for kind in reversed(list(KINDS)):
        model, parents = KINDS[kind]
        for name, parent in sorted(parents.items(), key=lambda item: item[1] != kind):  # a chain of its own kind first
            while True:
                wanted = set(model._base_manager.filter(selected(kind)).filter(_born(f"{name}__"))
                             .filter(**{f"{name}__isnull": False, f"{name}__updated_at__lt": since})
                             .values_list(name, flat=True)) - extra[parent]
                extra[parent] |= wanted
                if parent != kind or not wanted:  # an account's parent's parent ...: until none is new
                    break
    return {kind: _alive(kind).filter(selected(kind)).order_by("pk") for kind in KINDS}


# ---- values as the loaders read them -------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def known(record) -> bool:
    return bool(record is not None and record.crm_id)


def crm_id_of(record) -> str:
    return record.crm_id if known(record) else ""


def new_id_of(record) -> str:
    return dealpilot_id(record) if record is not None and not known(record) else ""


@dataclass
class FileSpec:
    name: str
    label: str  # the CRM's object, for the summary
    kind: str
    columns: list[tuple[str, Callable[[Any], Any]]]
    rows: Callable[[QuerySet], QuerySet] = lambda qs: qs  # narrows the kind's records (known / new, a kind)
    related: tuple[str, ...] = ()


@dataclass
class FileResult:
    object: str
    file: str
    rows: int


@dataclass
class WriteBackResult:
    crm: str
    out: Path
    since: datetime | None
    files: list[FileResult] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def as_dict(self) -> dict:
        return {"crm": self.crm, "out": str(self.out), "changed_since": cell(self.since) or None, "rows": self.rows,
                "files": [f.__dict__ for f in self.files], "not_written": self.notes}


# ---- Salesforce ----------------------------------------------------------------------------------------


SF_SOURCE = {"inbound": "Web", "outbound": "Outbound", "referral": "External Referral", "partner": "Partner",
             "blind_rfp": "RFP", "existing": "Existing Customer", "other": "Other", "": ""}
SF_ROLE = {role.value: role.label.title() for role in crm.ContactRole}
SF_ROLE.update({"user": "Business User"})


def _as_read(text: str, mapping: dict[str, str], value: str) -> bool:
    return mapping.get(text.strip().lower(), mapping.get("*")) == value


def _sf_source(o: crm.Opportunity, mapping: dict) -> str:
    detail = o.source_detail.strip()
    return detail if detail and _as_read(detail, mapping, o.source) else SF_SOURCE.get(o.source, "Other")


def _sf_role(r: crm.OpportunityContactRole, mapping: dict) -> str:
    detail = r.role_detail.strip()
    return detail if detail and _as_read(detail, mapping, r.role) else SF_ROLE.get(r.role, "Other")


def _owner_sf(record) -> str:
    owner = record.owner
    return owner.crm_id if owner is not None and owner.crm_id and not owner.crm_id.startswith(HUBSPOT_OWNER) else ""


def _ref(name: str, relationship: str) -> list[tuple[str, Callable]]:
    """A lookup as two columns: the CRM's Id when it knows the parent, else the external id relationship."""
    return [(f"{relationship}Id" if relationship not in ("ReportsTo",) else "ReportsToId",
             lambda r, n=name: crm_id_of(getattr(r, n))),
            (f"{relationship}.{EXTERNAL_ID}", lambda r, n=name: new_id_of(getattr(r, n)))]


def _what(r) -> Any:
    return r.opportunity or r.account


def _polymorphic() -> list[tuple[str, Callable]]:
    """Task/Event WhatId (the deal, else the account) and WhoId (the contact)."""
    def what_new(kind):
        return lambda r: new_id_of(_what(r)) if isinstance(_what(r), kind) else ""
    return [
        ("WhatId", lambda r: crm_id_of(_what(r))),
        (f"Opportunity:What.{EXTERNAL_ID}", what_new(crm.Opportunity)),
        (f"Account:What.{EXTERNAL_ID}", what_new(crm.Account)),
        ("WhoId", lambda r: crm_id_of(r.contact)),
        (f"Contact:Who.{EXTERNAL_ID}", lambda r: new_id_of(r.contact)),
        # Read-only in Salesforce (it follows WhatId); written so that a deal's activity keeps its account.
        ("AccountId", lambda r: crm_id_of(r.account)),
        (f"Account.{EXTERNAL_ID}", lambda r: new_id_of(r.account)),
    ]


SF_TASK_SUBTYPE = {"call": "Call", "email": "Email", "note": "Task", "task": "Task"}
SF_TASK_TYPE = {"call": "Call", "email": "Email", "note": "Note", "task": "Other"}
SF_NEXT_STEP_STATUS = {"open": "Not Started", "done": "Completed", "cancelled": "Deferred"}


def salesforce_files() -> list[FileSpec]:
    source_map = _sf_mapping("opportunity", "source")
    role_map = _sf_mapping("contact_role", "role")
    specs = [
        ("Account", "account", [
            ("Name", lambda a: a.name), ("Industry", lambda a: a.industry), ("NumberOfEmployees", lambda a: a.employees),
            ("AnnualRevenue", lambda a: a.annual_revenue), ("CurrencyIsoCode", lambda a: a.currency),
            ("BillingCountry", lambda a: a.country), *_ref("parent", "Parent"), ("OwnerId", _owner_sf)],
         ("parent", "owner")),
        ("Contact", "contact", [
            *_ref("account", "Account"), ("FirstName", lambda c: c.first_name), ("LastName", lambda c: c.last_name),
            ("Title", lambda c: c.title), ("Email", lambda c: c.email), ("Phone", lambda c: c.phone),
            *_ref("reports_to", "ReportsTo"), ("OwnerId", _owner_sf)],
         ("account", "reports_to", "owner")),
        ("Opportunity", "opportunity", [
            ("Name", lambda o: o.name), *_ref("account", "Account"), ("OwnerId", _owner_sf),
            ("StageName", lambda o: o.stage), ("Amount", lambda o: o.amount), ("CurrencyIsoCode", lambda o: o.currency),
            ("CloseDate", lambda o: o.close_date), ("Probability", lambda o: o.probability),
            ("ForecastCategoryName", lambda o: o.forecast_category), ("LeadSource", lambda o: _sf_source(o, source_map)),
            ("Description", lambda o: o.description), ("Loss_Reason__c", lambda o: o.lost_reason),
            ("Competitor__c", lambda o: o.competitor), ("Close_Comment__c", lambda o: o.close_comment),
            # read-only in Salesforce (it derives them from the stage; CreatedDate is the system's): for the round trip
            ("IsClosed", lambda o: o.is_closed), ("IsWon", lambda o: o.is_won), ("CreatedDate", lambda o: o.created_date)],
         ("account", "owner")),
        ("OpportunityLineItem", "line_item", [
            *_ref("opportunity", "Opportunity"), ("Product2Id", lambda li: li.product.crm_id),
            ("Quantity", lambda li: li.quantity), ("UnitPrice", lambda li: li.unit_price)],
         ("opportunity", "product")),
        ("OpportunityContactRole", "contact_role", [
            *_ref("opportunity", "Opportunity"), *_ref("contact", "Contact"), ("Role", lambda r: _sf_role(r, role_map)),
            ("IsPrimary", lambda r: r.is_primary)],
         ("opportunity", "contact")),
    ]
    files = []
    for n, (obj, kind, columns, related) in enumerate(specs, start=1):
        files += _sf_pair(n, obj, obj, kind, columns, related)
    activity_related = ("owner", "account", "contact", "opportunity")
    task_columns = [
        ("Subject", lambda a: a.subject), ("ActivityDate", lambda a: a.activity_date),
        ("Status", lambda a: a.status or "Completed"), ("TaskSubtype", lambda a: SF_TASK_SUBTYPE.get(a.kind, "Task")),
        ("Type", lambda a: SF_TASK_TYPE.get(a.kind, "Other")),
        ("CallType", lambda a: {"inbound": "Inbound", "outbound": "Outbound"}.get(a.direction, "")),
        ("CallDisposition", lambda a: a.outcome), ("Description", lambda a: a.notes), ("OwnerId", _owner_sf),
        *_polymorphic()]
    files += _sf_pair(6, "Task", "Task", "activity", task_columns, activity_related,
                      rows=lambda qs: qs.exclude(kind=crm.ActivityKind.MEETING))
    event_columns = [
        ("Subject", lambda a: a.subject), ("ActivityDate", lambda a: a.activity_date), ("IsAllDayEvent", lambda a: True),
        ("Description", lambda a: a.notes), ("Outcome__c", lambda a: a.outcome), ("OwnerId", _owner_sf), *_polymorphic()]
    files += _sf_pair(7, "Event", "Event", "activity", event_columns, activity_related,
                      rows=lambda qs: qs.filter(kind=crm.ActivityKind.MEETING))
    step_columns = [
        ("Subject", lambda s: s.subject), ("ActivityDate", lambda s: s.due_date),
        ("Status", lambda s: SF_NEXT_STEP_STATUS.get(s.status, "Not Started")), ("TaskSubtype", lambda s: "Task"),
        ("OwnerId", _owner_sf), *_polymorphic()]
    files += _sf_pair(8, "Task", "Task-NextStep", "next_step", step_columns, activity_related)
    return files


def _sf_mapping(target: str, rule_name: str) -> dict:
    from .mapping import load_mapping

    for step in load_mapping("salesforce").steps:
        if step.target == target:
            rule = next(r for r in step.rules if r.name == rule_name)
            return {**rule.mapping, "*": rule.fallback}
    raise AssertionError(target)


def _sf_pair(n: int, obj: str, stem: str, kind: str, columns, related, rows=lambda qs: qs) -> list[FileSpec]:
    """Two upsert files of an object: records born in dealpilot (key Dealpilot_Id__c; load it first),
    and records the CRM knows (key Id)."""
    known_rows = lambda qs: rows(qs).exclude(crm_id__isnull=True).exclude(crm_id="")  # noqa: E731
    new_rows = lambda qs: rows(qs).filter(Q(crm_id__isnull=True) | Q(crm_id=""))  # noqa: E731
    return [
        FileSpec(f"{n:02d}-{stem}-by-{EXTERNAL_ID}.csv", obj, kind, [(EXTERNAL_ID, dealpilot_id), *columns], new_rows, related),
        FileSpec(f"{n:02d}-{stem}-by-Id.csv", obj, kind, [("Id", lambda r: r.crm_id), *columns], known_rows, related),
    ]


# ---- HubSpot -------------------------------------------------------------------------------------------


def _owner_hs(record) -> str:
    owner = record.owner
    if owner is None:
        return ""
    if owner.crm_id and owner.crm_id.startswith(HUBSPOT_OWNER):
        return owner.crm_id[len(HUBSPOT_OWNER):]
    return ""


def _assoc(name: str, label: str) -> list[tuple[str, Callable]]:
    return [(f"Associated {label} IDs", lambda r, n=name: crm_id_of(getattr(r, n))),
            (f"Associated {label} {HUBSPOT_ID}", lambda r, n=name: new_id_of(getattr(r, n)))]


def _deal_contacts(o: crm.Opportunity, known_ones: bool) -> str:
    roles = [r.contact for r in o.contact_roles.all()]  # prefetched
    return ";".join(c.crm_id if known_ones else dealpilot_id(c) for c in roles if known(c) == known_ones)


HS_DIRECTION = {"inbound": "INBOUND", "outbound": "OUTBOUND"}
HS_EMAIL_DIRECTION = {"inbound": "INCOMING_EMAIL", "outbound": "EMAIL"}
HS_TASK_STATUS = {"open": "NOT_STARTED", "done": "COMPLETED", "cancelled": "DEFERRED"}


def hubspot_files() -> list[FileSpec]:
    key = [("Record ID", crm_id_of), (HUBSPOT_ID, new_id_of)]
    links = [*_assoc("account", "Company"), *_assoc("contact", "Contact"), *_assoc("opportunity", "Deal")]
    activity_related = ("owner", "account", "contact", "opportunity")
    # HubSpot's import creates activities; it does not update them: only those born in dealpilot are written.
    new_only = lambda kind: lambda qs: qs.filter(kind=kind).filter(Q(crm_id__isnull=True) | Q(crm_id=""))  # noqa: E731
    return [
        FileSpec("companies.csv", "Companies", "account", [
            *key, ("Company name", lambda a: a.name), ("Industry", lambda a: a.industry),
            ("Number of Employees", lambda a: a.employees), ("Annual Revenue", lambda a: a.annual_revenue),
            ("Country/Region", lambda a: a.country), ("Company owner", _owner_hs)], related=("owner",)),
        FileSpec("contacts.csv", "Contacts", "contact", [
            *key, ("First Name", lambda c: c.first_name), ("Last Name", lambda c: c.last_name),
            ("Job Title", lambda c: c.title), ("Email", lambda c: c.email), ("Phone Number", lambda c: c.phone),
            ("Contact owner", _owner_hs), *_assoc("account", "Company")], related=("owner", "account")),
        FileSpec("deals.csv", "Deals", "opportunity", [
            *key, ("Deal Name", lambda o: o.name), ("Deal Stage", lambda o: o.stage), ("Amount", lambda o: o.amount),
            ("Currency", lambda o: o.currency), ("Close Date", lambda o: o.close_date),
            ("Create Date", lambda o: o.created_date), ("Deal owner", _owner_hs),
            ("Deal Description", lambda o: o.description), ("Closed Lost Reason", lambda o: o.lost_reason),
            ("Competitor", lambda o: o.competitor), ("Close Comment", lambda o: o.close_comment),
            ("Forecast category", lambda o: o.forecast_category), ("Deal probability", lambda o: o.probability),
            # HubSpot derives these from the stage (read-only): written for the round trip
            ("Is Deal Closed?", lambda o: o.is_closed), ("Is Closed Won", lambda o: o.is_won),
            *_assoc("account", "Company"),
            ("Associated Contact IDs", lambda o: _deal_contacts(o, True)),
            (f"Associated Contact {HUBSPOT_ID}s", lambda o: _deal_contacts(o, False))],
            related=("owner", "account")),
        FileSpec("line_items.csv", "Line items", "line_item", [
            *key, ("Name", lambda li: li.product.name), ("Product ID", lambda li: li.product.crm_id),
            ("Quantity", lambda li: li.quantity), ("Unit price", lambda li: li.unit_price), *_assoc("opportunity", "Deal")],
            related=("opportunity", "product")),
        FileSpec("calls.csv", "Calls", "activity", [
            (HUBSPOT_ID, dealpilot_id), ("Call Title", lambda a: a.subject), ("Activity date", lambda a: a.activity_date),
            ("Call direction", lambda a: HS_DIRECTION.get(a.direction, "")), ("Call status", lambda a: a.status or "COMPLETED"),
            ("Call outcome", lambda a: a.outcome), ("Call notes", lambda a: a.notes),
            ("Activity assigned to", _owner_hs), *links], new_only(crm.ActivityKind.CALL), activity_related),
        FileSpec("meetings.csv", "Meetings", "activity", [
            (HUBSPOT_ID, dealpilot_id), ("Meeting name", lambda a: a.subject), ("Meeting start time", lambda a: a.activity_date),
            ("Meeting outcome", lambda a: a.outcome), ("Meeting description", lambda a: a.notes),
            ("Activity assigned to", _owner_hs), *links], new_only(crm.ActivityKind.MEETING), activity_related),
        FileSpec("emails.csv", "Emails", "activity", [
            (HUBSPOT_ID, dealpilot_id), ("Email subject", lambda a: a.subject), ("Activity date", lambda a: a.activity_date),
            ("Email direction", lambda a: HS_EMAIL_DIRECTION.get(a.direction, "")),
            ("Email send status", lambda a: a.status), ("Email body", lambda a: a.notes), ("Email outcome", lambda a: a.outcome),
            ("Activity assigned to", _owner_hs), *links], new_only(crm.ActivityKind.EMAIL), activity_related),
        FileSpec("notes.csv", "Notes", "activity", [
            (HUBSPOT_ID, dealpilot_id), ("Note title", lambda a: a.subject), ("Activity date", lambda a: a.activity_date),
            ("Note body", lambda a: a.notes), ("Note outcome", lambda a: a.outcome),
            ("Activity assigned to", _owner_hs), *links], new_only(crm.ActivityKind.NOTE), activity_related),
        FileSpec("tasks-logged.csv", "Tasks (logged, done)", "activity", [
            (HUBSPOT_ID, dealpilot_id), ("Task Title", lambda a: a.subject), ("Due date", lambda a: a.activity_date),
            ("Task status", lambda a: a.status or "COMPLETED"), ("Task notes", lambda a: a.notes),
            ("Task outcome", lambda a: a.outcome), ("Assigned to", _owner_hs), *links],
            new_only(crm.ActivityKind.TASK), activity_related),
        FileSpec("tasks.csv", "Tasks (next steps)", "next_step", [
            (HUBSPOT_ID, dealpilot_id), ("Task Title", lambda s: s.subject), ("Due date", lambda s: s.due_date),
            ("Task status", lambda s: HS_TASK_STATUS.get(s.status, "NOT_STARTED")), ("Assigned to", _owner_hs), *links],
            lambda qs: qs.filter(Q(crm_id__isnull=True) | Q(crm_id="")), activity_related),
    ]


# ---- writing -------------------------------------------------------------------------------------------


class _Output:
    """A folder (created; refused when it holds files, unless `force`) or a .zip (refused when it exists)."""

    def __init__(self, out: Path, force: bool):
        self.out = Path(out)
        self.zip = self.out.suffix.lower() == ".zip"
        if self.zip:
            if self.out.exists() and not force:
                raise WriteBackError(f"{self.out} exists; use --force to replace it")
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._zip = zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED)
        else:
            if self.out.exists() and not self.out.is_dir():
                raise WriteBackError(f"{self.out} is a file, not a folder (name a folder, or a .zip)")
            if self.out.is_dir() and any(self.out.iterdir()) and not force:
                raise WriteBackError(f"{self.out} is not empty; use --force to write into it (files of the same name are replaced)")
            self.out.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, lines: Iterator[str]) -> None:
        if self.zip:
            with self._zip.open(name, "w") as f:
                for line in lines:
                    f.write(line.encode("utf-8"))
        else:
            with open(self.out / name, "w", encoding="utf-8", newline="") as f:
                f.writelines(lines)

    def close(self) -> None:
        if self.zip:
            self._zip.close()


def _csv_lines(header: list[str], rows: Iterator[list[str]], counter: list[int]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        counter[0] += 1
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _record_rows(spec: FileSpec, queryset: QuerySet) -> Iterator[list[str]]:
    queryset = spec.rows(queryset)
    related = [name for name in spec.related]
    if related:
        queryset = queryset.select_related(*related)
    if spec.kind == "opportunity":
        # HubSpot's deal-contact associations; SQLite takes at most 999 ids in the prefetch's IN list
        queryset = queryset.prefetch_related("contact_roles__contact")
        yield from ([cell(get(r)) for _, get in spec.columns] for r in queryset.iterator(chunk_size=500))
        return
    for record in queryset.iterator(chunk_size=CHUNK):
        yield [cell(get(record)) for _, get in spec.columns]


def _notes(crm_name: str, selected: dict[str, QuerySet]) -> dict[str, int]:
    """What the selection holds but the files cannot carry, counted (the summary says so)."""
    notes = {}
    if crm_name == "hubspot":
        n = selected["activity"].exclude(Q(crm_id__isnull=True) | Q(crm_id="")).count()
        if n:
            notes["activities from HubSpot changed in dealpilot (HubSpot's import creates activities, it does not update them)"] = n
        owner_q = Q(owner__isnull=False) & ~Q(owner__crm_id__startswith=HUBSPOT_OWNER)
    else:
        owner_q = Q(owner__isnull=False) & (Q(owner__crm_id__isnull=True) | Q(owner__crm_id="")
                                            | Q(owner__crm_id__startswith=HUBSPOT_OWNER))
    for kind, plural in (("account", "accounts"), ("contact", "contacts"), ("opportunity", "opportunities"),
                         ("activity", "activities"), ("next_step", "next steps")):
        n = selected[kind].filter(owner_q).count()
        if n:
            notes[f"{plural} whose owner has no {crm_name} user id (owner left empty)"] = n
    n = selected["line_item"].filter(Q(product__crm_id__isnull=True) | Q(product__crm_id="")).count()
    if n:
        notes["line items whose product has no CRM id (the CRM rejects them)"] = n
    return notes


def write_back(crm_name: str, out: Path, *, changed_since: datetime | None = None, force: bool = False) -> WriteBackResult:
    """Write the records dealpilot created or changed (since `changed_since`) as `crm_name`'s import
    files into `out` (a folder or a .zip). Raises WriteBackError before writing anything."""
    if crm_name not in CRMS:
        raise WriteBackError(f"unknown CRM {crm_name!r}: {' or '.join(CRMS)}")
    selected = select(changed_since)
    if crm_name == "hubspot":  # a deal's contacts are a column of the deal: a changed role writes its deal
        selected["opportunity"] = _alive("opportunity").filter(
            Q(pk__in=selected["opportunity"].values("pk")) | Q(pk__in=selected["contact_role"].values("opportunity"))
        ).order_by("pk")
    specs = salesforce_files() if crm_name == "salesforce" else hubspot_files()
    output = _Output(out, force)
    result = WriteBackResult(crm_name, Path(out), changed_since)
    try:
        for spec in specs:
            queryset = spec.rows(selected[spec.kind])
            if not queryset.exists():
                continue
            counter = [0]
            output.write(spec.name, _csv_lines([h for h, _ in spec.columns], _record_rows(spec, selected[spec.kind]), counter))
            result.files.append(FileResult(spec.label, spec.name, counter[0]))
    finally:
        output.close()
    result.notes = _notes(crm_name, selected)
    return result
