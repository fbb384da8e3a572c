"""The Salesforce export generator: format, ids, links, determinism, constant memory, realism.

Everything here is read back from the files, as the importer (or a person) would see them.
"""

from __future__ import annotations

import csv
import hashlib
import re
import statistics
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from dealpilot.demo import vocabulary as V
from dealpilot.demo.generator import (
    COLUMNS,
    FILES,
    KEY_PREFIXES,
    TODAY,
    checksum_ok,
    id_number,
    sales_org,
    sf_id,
    write_salesforce_export,
    write_salesforce_zip,
)

SCALE = {"accounts": 200, "opportunities": 2000, "activities": 12000}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("sf")
    return folder, write_salesforce_export(folder, **SCALE)


@pytest.fixture(scope="module")
def data(export) -> dict[str, list[dict[str, str]]]:
    folder, _ = export
    out = {}
    for name in FILES:
        with open(folder / name, newline="", encoding="utf-8") as f:
            out[name[:-4]] = list(csv.DictReader(f))
    return out


def digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


# ---- format ---------------------------------------------------------------------------------------

QUOTED_LINE = re.compile(r'^"[^"\n]*"(,"[^"\n]*")*\n$')
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
DATE_COLUMNS = {"CloseDate", "ActivityDate"}
DATETIME_COLUMNS = {"CreatedDate", "StartDateTime", "EndDateTime"}
BOOL_COLUMNS = {"IsActive", "IsClosed", "IsWon", "IsPrimary"}


def test_files_are_a_salesforce_export(export):
    folder, counts = export
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    for name in FILES:
        raw = (folder / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8")
        lines = text.splitlines(keepends=True)
        assert all(QUOTED_LINE.match(line) for line in lines), name  # every value double-quoted
        with open(folder / name, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == COLUMNS[name]
        assert len(rows) - 1 == counts[name] == len(lines) - 1
        assert all(len(r) == len(rows[0]) for r in rows)
        header = rows[0]
        for row in rows[1:]:
            for column, value in zip(header, row):
                if not value:
                    continue
                if column in DATE_COLUMNS:
                    assert DATE.match(value), (name, column, value)
                    date.fromisoformat(value)
                elif column in DATETIME_COLUMNS:
                    assert DATETIME.match(value), (name, column, value)
                elif column in BOOL_COLUMNS:
                    assert value in ("true", "false"), (name, column, value)


def test_the_vocabulary_needs_no_escaping():
    """The writer joins values itself: it may, because no word holds a quote or a line break."""
    words = []

    def walk(value):
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)

    for name in dir(V):
        if name.isupper():
            walk(getattr(V, name))
    assert words and not [w for w in words if '"' in w or "\n" in w or "\r" in w]


def test_counts(export, data):
    _, counts = export
    assert counts["Account.csv"] == SCALE["accounts"]
    assert counts["Opportunity.csv"] == SCALE["opportunities"]
    assert counts["Task.csv"] + counts["Event.csv"] == SCALE["activities"]
    assert 0.17 < counts["Event.csv"] / SCALE["activities"] < 0.33  # about a quarter are meetings
    assert 9 <= counts["Product2.csv"] <= 15 and 3 <= len({p["Family"] for p in data["Product2"]}) <= 4
    people = data["User"]
    org = sales_org(7, SCALE["opportunities"])
    assert len(org.reps) == round(2000 / 2 / 60) == 17
    assert len(people) == 1 + len(org.managers) + len(org.reps) and len(org.managers) >= 2
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+", p["Username"]) for p in people)
    assert len({p["Username"] for p in people}) == len(people)


def test_few_deals_still_make_six_reps_in_two_teams():
    org = sales_org(3, 50)
    assert len(org.reps) == 6 and len({r.manager_id for r in org.reps}) == 2


# ---- ids and links --------------------------------------------------------------------------------

ID_COLUMNS = {  # file -> column -> object(s) the id belongs to
    "UserRole": {"Id": "UserRole", "ParentRoleId": "UserRole"},
    "User": {"Id": "User", "UserRoleId": "UserRole", "ManagerId": "User"},
    "Account": {"Id": "Account", "ParentId": "Account", "OwnerId": "User"},
    "Contact": {"Id": "Contact", "AccountId": "Account", "ReportsToId": "Contact", "OwnerId": "User"},
    "Product2": {"Id": "Product2"},
    "Opportunity": {"Id": "Opportunity", "AccountId": "Account", "OwnerId": "User"},
    "OpportunityLineItem": {"Id": "OpportunityLineItem", "OpportunityId": "Opportunity", "Product2Id": "Product2"},
    "OpportunityHistory": {"Id": "OpportunityHistory", "OpportunityId": "Opportunity", "CreatedById": "User"},
    "OpportunityContactRole": {"Id": "OpportunityContactRole", "OpportunityId": "Opportunity", "ContactId": "Contact"},
    "Task": {"Id": "Task", "WhoId": "Contact", "WhatId": "Opportunity|Account", "OwnerId": "User"},
    "Event": {"Id": "Event", "WhoId": "Contact", "WhatId": "Opportunity|Account", "OwnerId": "User"},
}


def test_ids_have_the_key_prefixes_and_checksums(data):
    seen: dict[str, set[str]] = {}
    for obj, columns in ID_COLUMNS.items():
        ids = [row["Id"] for row in data[obj]]
        assert len(set(ids)) == len(ids), obj
        seen[obj] = set(ids)
        for column, targets in columns.items():
            prefixes = tuple(KEY_PREFIXES[t] for t in targets.split("|"))
            for row in data[obj]:
                value = row[column]
                if value:
                    assert len(value) == 18 and value.startswith(prefixes) and checksum_ok(value), (obj, column, value)


def test_every_foreign_id_points_to_a_written_row(data):
    ids = {obj: {row["Id"] for row in data[obj]} for obj in ID_COLUMNS}
    for obj, columns in ID_COLUMNS.items():
        for column, targets in columns.items():
            if column == "Id":
                continue
            pool = set().union(*(ids[t] for t in targets.split("|")))
            missing = [row[column] for row in data[obj] if row[column] and row[column] not in pool]
            assert not missing, (obj, column, missing[:3])
    # the links the importer requires are always there
    for obj, column in [("Contact", "AccountId"), ("Opportunity", "AccountId"), ("Opportunity", "OwnerId"),
                        ("Task", "WhatId"), ("Event", "WhatId"), ("Task", "OwnerId")]:
        assert all(row[column] for row in data[obj]), (obj, column)


def test_parents_come_earlier_and_hierarchies_are_consistent(data):
    position = {row["Id"]: i for i, row in enumerate(data["Account"])}
    subsidiaries = [row for row in data["Account"] if row["ParentId"]]
    assert 0.03 < len(subsidiaries) / len(data["Account"]) < 0.2
    assert all(position[row["ParentId"]] < position[row["Id"]] for row in subsidiaries)

    contacts = {row["Id"]: (i, row) for i, row in enumerate(data["Contact"])}
    for i, row in enumerate(data["Contact"]):
        if row["ReportsToId"]:
            j, boss = contacts[row["ReportsToId"]]
            assert j < i and boss["AccountId"] == row["AccountId"] and boss["Department"] == row["Department"]
    heads = [row for row in data["Contact"] if not row["ReportsToId"]]
    assert any(t["Title"].startswith("Chief") for t in heads) and not any("Analyst" in t["Title"] for t in heads)
    units = defaultdict(set)
    for row in data["Contact"]:
        units[row["AccountId"]].add(row["Department"])
    assert min(len(u) for u in units.values()) >= 2 and max(len(u) for u in units.values()) <= 6
    assert len(units) == len(data["Account"])  # every account has people

    roles = {row["Id"]: row for row in data["UserRole"]}
    users = {row["Id"]: row for row in data["User"]}
    assert sum(1 for r in roles.values() if not r["ParentRoleId"]) == 1
    leader = [u for u in users.values() if not u["ManagerId"]]
    assert len(leader) == 1 and not roles[leader[0]["UserRoleId"]]["ParentRoleId"]
    for u in users.values():  # a person's role sits right under their manager's role
        if u["ManagerId"]:
            assert roles[u["UserRoleId"]]["ParentRoleId"] == users[u["ManagerId"]]["UserRoleId"]
    owners = {row["OwnerId"] for row in data["Account"]} | {row["OwnerId"] for row in data["Opportunity"]}
    assert all(users[o]["Title"] == "Account Executive" for o in owners)


def test_contact_roles_are_people_of_the_deals_account(data):
    account_of_contact = {row["Id"]: row["AccountId"] for row in data["Contact"]}
    account_of_deal = {row["Id"]: row["AccountId"] for row in data["Opportunity"]}
    picklist = {"Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker", "Evaluator",
                "Executive Sponsor", "Influencer", "Technical Buyer", "Other"}
    primaries = Counter()
    for row in data["OpportunityContactRole"]:
        assert account_of_contact[row["ContactId"]] == account_of_deal[row["OpportunityId"]]
        assert row["Role"] in picklist
        primaries[row["OpportunityId"]] += row["IsPrimary"] == "true"
    assert set(primaries.values()) == {1}  # one primary contact per deal
    assert set(primaries) == set(account_of_deal)  # every deal has a contact role
    for obj in ("Task", "Event"):  # whom an activity is with: a person of the deal's / the account's company
        for row in data[obj]:
            if row["WhoId"]:
                what = row["WhatId"]
                assert account_of_contact[row["WhoId"]] == (account_of_deal[what] if what.startswith("006") else what)


# ---- deals ---------------------------------------------------------------------------------------


def test_deals_over_two_years_ending_with_open_ones(data):
    deals = data["Opportunity"]
    created = [date.fromisoformat(d["CreatedDate"][:10]) for d in deals]
    assert min(created) >= TODAY - timedelta(days=732) and max(created) <= TODAY
    assert (max(created) - min(created)).days > 700
    open_deals = [d for d in deals if d["IsClosed"] == "false"]
    closed = [d for d in deals if d["IsClosed"] == "true"]
    assert 0.04 < len(open_deals) / len(deals) < 0.3
    assert statistics.median_low(d["CreatedDate"] for d in open_deals) > "2026-08"  # the newest are still open
    assert all(d["CloseDate"] <= TODAY.isoformat() for d in closed)
    stage_names = [s[0] for s in V.STAGES]
    for d in deals:
        assert d["StageName"] in stage_names
        assert (d["StageName"] in ("Closed Won", "Closed Lost")) == (d["IsClosed"] == "true")
        assert (d["StageName"] == "Closed Won") == (d["IsWon"] == "true")
        assert bool(d["Loss_Reason__c"]) == (d["StageName"] == "Closed Lost")
        assert d["Description"] and ":" in d["Description"]
        assert d["LeadSource"] in {s[0] for s in V.LEAD_SOURCES}
    win_rate = sum(d["IsWon"] == "true" for d in closed) / len(closed)
    assert 0.18 < win_rate < 0.38
    rfp = [d for d in closed if d["LeadSource"] == "RFP"]
    assert len(rfp) > 50 and 0.07 < sum(d["IsWon"] == "true" for d in rfp) / len(rfp) < 0.2  # blind RFPs: 10-15%


def test_product_lines_add_up_to_the_amount(data):
    totals = defaultdict(int)
    for line in data["OpportunityLineItem"]:
        quantity, unit, total = int(line["Quantity"]), float(line["UnitPrice"]), float(line["TotalPrice"])
        assert quantity >= 1 and abs(quantity * unit - total) < 0.01
        totals[line["OpportunityId"]] += total
    for d in data["Opportunity"]:
        assert abs(totals[d["Id"]] - float(d["Amount"])) < 0.01


def test_amounts_are_log_normal_and_grow_with_account_size(data):
    employees = {a["Id"]: int(a["NumberOfEmployees"]) for a in data["Account"]}
    by_band = defaultdict(list)
    for d in data["Opportunity"]:
        n = employees[d["AccountId"]]
        by_band["small" if n < 50 else "enterprise" if n >= 1000 else "mid"].append(float(d["Amount"]))
    assert statistics.median(by_band["enterprise"]) > 5 * statistics.median(by_band["small"])
    amounts = sorted(float(d["Amount"]) for d in data["Opportunity"])
    assert statistics.mean(amounts) > 1.3 * statistics.median(amounts)  # a long right tail


def test_stage_history_ends_at_the_deal_and_moves_back_and_slips(data):
    history = defaultdict(list)
    for row in data["OpportunityHistory"]:
        history[row["OpportunityId"]].append(row)
    order = {name: i for i, (name, _, _) in enumerate(V.STAGES)}
    moved_back = slipped = 0
    for d in data["Opportunity"]:
        rows = history[d["Id"]]
        assert rows, d["Id"]
        assert [r["CreatedDate"] for r in rows] == sorted(r["CreatedDate"] for r in rows)
        assert rows[0]["CreatedDate"] == d["CreatedDate"] and rows[0]["StageName"] == "Prospecting"
        last = rows[-1]
        assert (last["StageName"], last["Amount"], last["CloseDate"]) == (d["StageName"], d["Amount"], d["CloseDate"])
        assert all(r["CreatedById"] == d["OwnerId"] for r in rows)
        stages = [order[r["StageName"]] for r in rows if r["StageName"] not in ("Closed Won", "Closed Lost")]
        moved_back += any(b < a for a, b in zip(stages, stages[1:]))
        closes = [r["CloseDate"] for r in rows[:-1]]
        slipped += any(b > a for a, b in zip(closes, closes[1:]))
    assert moved_back > 0.02 * len(data["Opportunity"])
    assert slipped > 0.1 * len(data["Opportunity"])


# ---- realism: accounts, buyers, reps ---------------------------------------------------------------


def test_accounts_vary_in_industry_region_and_size(data):
    accounts = data["Account"]
    assert len({a["Industry"] for a in accounts}) >= 8
    assert len({a["BillingCountry"] for a in accounts}) >= 6
    sizes = Counter(int(a["NumberOfEmployees"]) >= 1000 for a in accounts)
    assert sizes[True] > 5 and sizes[False] > 100
    assert all(a["Customer_Tier__c"] for a in accounts)
    assert {a["Health_Score__c"] == "" for a in accounts} == {True, False}  # prospects have no health score


def deal_contacts(data):
    roles = defaultdict(list)
    for row in data["OpportunityContactRole"]:
        roles[row["OpportunityId"]].append(row)
    return roles


def test_gatekeeper_and_single_threaded_deals(data):
    contacts = {c["Id"]: c for c in data["Contact"]}
    roles = deal_contacts(data)
    follow_ups = Counter((t["WhatId"], t["WhoId"]) for t in data["Task"] if t["Subject"] == "Follow-up call"
                         and t["TaskSubtype"] == "Call")
    decision = {"Decision Maker", "Economic Decision Maker", "Economic Buyer", "Executive Sponsor"}
    gatekept = []
    for deal, rows in roles.items():
        if any(r["Role"] in decision for r in rows):
            continue
        primary = next(r for r in rows if r["IsPrimary"] == "true")
        person = contacts[primary["ContactId"]]
        mid_level = person["ReportsToId"] and contacts[person["ReportsToId"]]["ReportsToId"] == ""
        if mid_level and 4 <= follow_ups[(deal, person["Id"])] <= 6:
            gatekept.append(deal)
    single = [deal for deal, rows in roles.items() if len(rows) == 1]
    n = len(data["Opportunity"])
    assert 0.04 < len(gatekept) / n < 0.25
    assert 0.2 < len(single) / n < 0.7
    won = {d["Id"]: d["IsWon"] == "true" for d in data["Opportunity"] if d["IsClosed"] == "true"}
    multi = [d for d, rows in roles.items() if any(r["Role"] in decision for r in rows) and len(rows) > 2]

    def rate(deals):
        closed = [won[d] for d in deals if d in won]
        return sum(closed) / len(closed)

    assert rate(gatekept) < 0.6 * rate(multi)  # deals stuck with a gatekeeper are won far less


def rep_numbers(data) -> dict[str, dict[str, float]]:
    """Per rep, from the files: new deals, win rate, activities (calls, emails, tasks, meetings)."""
    reps = {u["Id"] for u in data["User"] if u["Title"] == "Account Executive"}
    out = {rep: Counter() for rep in reps}
    for d in data["Opportunity"]:
        c = out[d["OwnerId"]]
        c["deals"] += 1
        if d["IsClosed"] == "true":
            c["closed"] += 1
            c["won"] += d["IsWon"] == "true"
    for obj in ("Task", "Event"):
        for a in data[obj]:
            if a["OwnerId"] in out:
                out[a["OwnerId"]]["activities"] += 1
                out[a["OwnerId"]]["calls"] += a.get("TaskSubtype") == "Call"
    return {rep: {"deals": c["deals"], "win": c["won"] / c["closed"], "activities": c["activities"], "calls": c["calls"]}
            for rep, c in out.items()}


def test_reps_differ_in_activity_and_effectiveness(data):
    numbers = rep_numbers(data)
    activity = statistics.median(n["activities"] for n in numbers.values())
    win = statistics.median(n["win"] for n in numbers.values())
    quiet_winners = [r for r, n in numbers.items() if n["activities"] < 0.6 * activity and n["win"] > win * 1.3]
    busy_losers = [r for r, n in numbers.items() if n["activities"] > 1.5 * activity and n["win"] < win * 0.7]
    stars = [r for r, n in numbers.items() if n["activities"] > 1.2 * activity and n["win"] > win * 1.2]
    assert quiet_winners and busy_losers and stars, numbers
    # and new deals: the quiet winners open fewer deals than the busy ones
    assert max(numbers[r]["deals"] for r in quiet_winners) < min(numbers[r]["deals"] for r in busy_losers)
    calls = sorted(n["calls"] for n in numbers.values())
    assert calls[-1] > 5 * calls[0]

    # the working styles the organisation was given are what the files show
    org = sales_org(7, SCALE["opportunities"])
    style = {r.id: r.archetype.key for r in org.reps}

    def mean(key, kind):
        return statistics.mean(n[key] for r, n in numbers.items() if style[r] == kind)

    assert mean("win", "efficient") > 1.5 * mean("win", "busy")
    assert mean("activities", "busy") > 2.5 * mean("activities", "efficient")
    assert mean("win", "star") > mean("win", "steady") > mean("win", "struggling")


def test_activities_belong_to_the_deal_owners_mostly(data):
    owner = {d["Id"]: d["OwnerId"] for d in data["Opportunity"]}
    created = {d["Id"]: d["CreatedDate"][:10] for d in data["Opportunity"]}
    on_deals = [a for obj in ("Task", "Event") for a in data[obj] if a["WhatId"].startswith("006")]
    assert 0.8 < len(on_deals) / SCALE["activities"] < 0.97
    assert sum(owner[a["WhatId"]] == a["OwnerId"] for a in on_deals) / len(on_deals) > 0.97
    assert all(a["ActivityDate"] >= created[a["WhatId"]] or a["ActivityDate"] >= str(date(2024, 11, 20))
               for a in on_deals)
    planned = [t for t in data["Task"] if t["Status"] == "Not Started"]
    assert planned and all(t["ActivityDate"] > TODAY.isoformat() for t in planned)
    for e in data["Event"]:
        assert e["ActivityDate"] == e["StartDateTime"][:10] and e["StartDateTime"] < e["EndDateTime"]
        assert date.fromisoformat(e["ActivityDate"]).weekday() < 5
    calls = [t for t in data["Task"] if t["TaskSubtype"] == "Call"]
    assert {t["CallType"] for t in calls} == {"Inbound", "Outbound"}
    assert all(t["CallType"] == "" for t in data["Task"] if t["TaskSubtype"] != "Call")


# ---- determinism, memory, zip ------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(export, tmp_path):
    folder, counts = export
    again = write_salesforce_export(tmp_path / "again", **SCALE)
    assert again == counts and digest(tmp_path / "again") == digest(folder)
    write_salesforce_export(tmp_path / "other", seed=8, **SCALE)
    assert digest(tmp_path / "other")["Opportunity.csv"] != digest(folder)["Opportunity.csv"]


def test_zip_holds_the_same_files(export, tmp_path):
    folder, counts = export
    assert write_salesforce_zip(tmp_path / "export.zip", **SCALE) == counts
    with zipfile.ZipFile(tmp_path / "export.zip") as zf:
        assert sorted(zf.namelist()) == sorted(FILES)
        for name in FILES:
            assert zf.read(name) == (folder / name).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]  # the temporary folder is gone


def test_progress_reaches_the_total(tmp_path):
    calls = []
    counts = write_salesforce_export(tmp_path, accounts=50, opportunities=300, activities=2000,
                                     progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (sum(counts.values()),) * 2
    assert all(done <= total for done, total in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)


PEAK_RSS = """
import resource, sys
from pathlib import Path
from dealpilot.demo import generator
from dealpilot.demo.generator import write_salesforce_export
generator.ACCOUNT_CACHE, generator.CONTACT_ID_CACHE = 256, 2048  # bounded; full at both scales here
k = int(sys.argv[2])
write_salesforce_export(Path(sys.argv[1]), accounts=1200 * k, opportunities=2000 * k, activities=10000 * k)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kib(folder: Path, scale: int) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(folder), str(scale)], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip())


def test_memory_does_not_grow_with_the_export(tmp_path):
    """2,000 then 20,000 deals (and ten times the accounts, contacts, activities): the peak memory
    of the writing process stays the same. (Peak RSS of a fresh process: tracemalloc would be
    more exact but makes the bigger run take minutes.)"""
    small = peak_rss_kib(tmp_path / "small", 1)
    big = peak_rss_kib(tmp_path / "big", 10)
    rows = sum(1 for p in (tmp_path / "big").iterdir() for _ in open(p, "rb"))
    assert rows > 300_000
    # keeping even a tenth of the rows would add tens of MiB; the caches (made small here) are
    # full at both scales
    assert big < small + 8 * 1024, (small, big)


def test_ids():
    assert sf_id("001", 1) == "001Dp0000000001IAA"
    assert checksum_ok("0015000000Gv7qJAAR") and checksum_ok("001D000000IqhSLIAZ")  # real Salesforce ids
    assert not checksum_ok("0015000000Gv7qJAAA")
    for n in (0, 61, 62, 3843, 3844, 916_132_831, 916_132_832, 10**15):
        assert id_number(sf_id("00T", n)) == n and checksum_ok(sf_id("00T", n))


def test_counts_must_make_sense(tmp_path):
    with pytest.raises(ValueError):
        write_salesforce_export(tmp_path, accounts=0, opportunities=10, activities=10)
    counts = write_salesforce_export(tmp_path, accounts=3, opportunities=0, activities=5)
    assert counts["Opportunity.csv"] == 0 and counts["Task.csv"] + counts["Event.csv"] == 5
