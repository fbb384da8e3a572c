"""A seeded generator of Salesforce Data Exports, for the demo organisation and the benchmarks.

`write_salesforce_export(folder, accounts=..., opportunities=..., activities=...)` writes the CSV
files a Salesforce Data Export holds (Account.csv, Opportunity.csv, Task.csv, ...), byte for byte
the same for the same arguments and seed, with:

- a sales organisation: a VP, regional managers and their reps in a role hierarchy; each rep has
  a working style (see ARCHETYPES) that shows in the data: how many new deals and activities they
  produce, how many buyers they engage, how often they win;
- accounts of four size bands in the owner's region, some subsidiaries of others, each with 2-6
  business units whose contacts report to the unit's head;
- opportunities over the two years before TODAY, log-normal amounts by account size, a stage
  history that sometimes moves back and whose close dates slip, contact roles that are
  multi-threaded, single-threaded, or stuck with a gatekeeper, product lines adding up to the
  amount, the newest deals still open;
- tasks and events on those deals (and some on accounts), dated inside each deal's life.

Memory stays constant however many rows are asked for: rows are written as they are made, and
whatever one file needs to know about a row of another (an account's owner and contacts, a
deal's account) is recomputed from the seed and the row's index, never remembered.
"""

from __future__ import annotations

import itertools
import math
import random
import shutil
import tempfile
import zipfile
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from . import vocabulary as V

TODAY = date(2026, 11, 22)
WINDOW_DAYS = 730  # opportunities are created over the two years before TODAY

KEY_PREFIXES = {
    "Account": "001", "Contact": "003", "Opportunity": "006", "User": "005", "UserRole": "00E", "Product2": "01t",
    "OpportunityLineItem": "00k", "OpportunityHistory": "008", "OpportunityContactRole": "00K", "Task": "00T",
    "Event": "00U",
}
MAX_CONTACTS_PER_ACCOUNT = 32  # contact ids are account index * 32 + position: derivable, never stored
# Bounded caches of recomputed things (account profiles, under 1 KB each; contact ids): at most
# about 15 MB whatever the scale; up to 16,384 accounts every profile is computed once.
ACCOUNT_CACHE = 16384
CONTACT_ID_CACHE = 65536

COLUMNS = {
    "UserRole.csv": ["Id", "Name", "ParentRoleId"],
    "User.csv": ["Id", "Username", "FirstName", "LastName", "Email", "Title", "UserRoleId", "ManagerId", "IsActive"],
    "Account.csv": ["Id", "Name", "Industry", "Type", "NumberOfEmployees", "AnnualRevenue", "CurrencyIsoCode",
                    "BillingCountry", "BillingState", "ParentId", "OwnerId", "CreatedDate", "Customer_Tier__c",
                    "Health_Score__c"],
    "Contact.csv": ["Id", "AccountId", "FirstName", "LastName", "Title", "Department", "Email", "Phone", "ReportsToId",
                    "OwnerId"],
    "Product2.csv": ["Id", "Name", "ProductCode", "Family", "IsActive"],
    "Opportunity.csv": ["Id", "Name", "AccountId", "OwnerId", "StageName", "Amount", "CurrencyIsoCode", "CreatedDate",
                        "CloseDate", "IsClosed", "IsWon", "LeadSource", "Type", "Probability", "ForecastCategoryName",
                        "Description", "Loss_Reason__c"],
    "OpportunityLineItem.csv": ["Id", "OpportunityId", "Product2Id", "Quantity", "UnitPrice", "TotalPrice"],
    "OpportunityHistory.csv": ["Id", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "CreatedDate",
                               "CreatedById"],
    "OpportunityContactRole.csv": ["Id", "OpportunityId", "ContactId", "Role", "IsPrimary"],
    "Task.csv": ["Id", "WhoId", "WhatId", "OwnerId", "Subject", "ActivityDate", "Status", "TaskSubtype", "CallType",
                 "CreatedDate"],
    "Event.csv": ["Id", "WhoId", "WhatId", "OwnerId", "Subject", "ActivityDate", "StartDateTime", "EndDateTime", "Type"],
}
FILES = tuple(COLUMNS)

ProgressCallback = Callable[[int, int], None]

# ---- Salesforce ids ----------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _B62 for b in _B62]
_CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_UPPER_BITS = str.maketrans({c: "1" if c.isupper() else "0" for c in _B62})
_INSTANCE = "Dp0"  # two characters of "instance" and the reserved character, as in real ids


_UPPER = [1 if c.isupper() else 0 for c in _B62]
_PAIR_BITS = [_UPPER[i // 62] | _UPPER[i % 62] << 1 for i in range(3844)]
_FIRST_CHUNK: dict[str, str] = {}


def sf_id(prefix: str, number: int) -> str:
    """The 18-character id of record `number` of the object with this key prefix: 15 case-sensitive
    characters (prefix, instance, base-62 number) and Salesforce's 3-character case checksum."""
    if number < 916_132_832:  # 62**5: the first four digits are zeros (fast path, every id we write)
        check1 = _FIRST_CHUNK.get(prefix)
        if check1 is None:
            check1 = _FIRST_CHUNK[prefix] = sf_id(prefix, 62**5)[15]
        hi, mid, lo = number // 14_776_336, number // 3844 % 3844, number % 3844
        return (prefix + "Dp00000" + _B62[hi] + _PAIRS[mid] + _PAIRS[lo] + check1 + "A"
                + _CHECK[_UPPER[hi] | _PAIR_BITS[mid] << 1 | _PAIR_BITS[lo] << 3])
    body = (prefix + _INSTANCE + _B62[number // 218_340_105_584_896 % 62] + _PAIRS[number // 56_800_235_584 % 3844]
            + _PAIRS[number // 14_776_336 % 3844] + _PAIRS[number // 3844 % 3844] + _PAIRS[number % 3844])
    bits = body.translate(_UPPER_BITS)
    return body + _CHECK[int(bits[4::-1], 2)] + _CHECK[int(bits[9:4:-1], 2)] + _CHECK[int(bits[14:9:-1], 2)]


def id_factory(prefix: str) -> Callable[[int], str]:
    """sf_id for one key prefix, a little faster (for the hot loops)."""
    check1 = sf_id(prefix, 62**5)[15]
    head = prefix + "Dp00000"
    b62, pairs, upper, pair_bits, check = _B62, _PAIRS, _UPPER, _PAIR_BITS, _CHECK

    def make(number: int) -> str:
        if number >= 916_132_832:
            return sf_id(prefix, number)
        hi, mid, lo = number // 14_776_336, number // 3844 % 3844, number % 3844
        return head + b62[hi] + pairs[mid] + pairs[lo] + check1 + "A" + check[upper[hi] | pair_bits[mid] << 1 | pair_bits[lo] << 3]

    return make


def id_number(record_id: str) -> int:
    """The number sf_id() encoded in an id (for tests and tools)."""
    n = 0
    for ch in record_id[6:15]:
        n = n * 62 + _B62.index(ch)
    return n


def checksum_ok(record_id: str) -> bool:
    if len(record_id) != 18:
        return False
    bits = record_id[:15].translate(_UPPER_BITS)
    if set(bits) - {"0", "1"}:
        return False
    return record_id[15:] == _CHECK[int(bits[4::-1], 2)] + _CHECK[int(bits[9:4:-1], 2)] + _CHECK[int(bits[14:9:-1], 2)]


# ---- the sales organisation -------------------------------------------------------------------


@dataclass(frozen=True)
class Archetype:
    key: str
    description: str
    activity: float  # activities per deal, relative to the average rep
    new_deals: float  # share of new opportunities, relative
    win: float  # win-rate multiplier
    multithread: float  # share of deals with several buyers engaged, decision maker included
    meetings: float  # share of activities that are meetings (events)


ARCHETYPES = {
    a.key: a
    for a in (
        Archetype("star", "lots of activity and a high win rate", 1.3, 1.25, 1.4, 0.75, 0.30),
        Archetype("busy", "lots of calls and new deals, low win rate (single-threaded, gatekeepers)", 1.75, 1.45, 0.55, 0.25, 0.15),
        Archetype("efficient", "few calls and few new deals, high win rate", 0.5, 0.65, 1.55, 0.75, 0.38),
        Archetype("struggling", "little activity and a low win rate", 0.6, 0.7, 0.55, 0.4, 0.22),
        Archetype("steady", "average activity and win rate", 1.0, 1.0, 1.0, 0.55, 0.25),
    )
}
ARCHETYPE_ORDER = ("star", "busy", "efficient", "struggling", "steady", "busy", "efficient", "steady")


@dataclass(frozen=True)
class Person:
    number: int
    id: str
    username: str
    first_name: str
    last_name: str
    title: str
    role_id: str
    manager_id: str
    kind: str  # leader, manager, rep
    team: int  # -1 for the leader
    region: str
    archetype: Archetype | None = None
    activity: float = 1.0  # this rep's own factors: the archetype's with some personal variation
    new_deals: float = 1.0
    win: float = 1.0

    @property
    def email(self) -> str:
        return f"{self.username}@dealpilot-demo.example"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class SalesOrg:
    roles: tuple[tuple[str, str, str], ...]  # (id, name, parent id)
    leader: Person
    managers: tuple[Person, ...]
    reps: tuple[Person, ...]

    @property
    def people(self) -> tuple[Person, ...]:
        return (self.leader, *self.managers, *self.reps)


def rep_count(opportunities: int) -> int:
    """About one rep per 60 opportunities a year, at least 6, at most 40."""
    return min(40, max(6, round(opportunities / 2 / 60)))


def _seeded(seed: int, salt: int, index: int) -> random.Random:
    """The random stream of thing `index` of one kind (`salt`): derivable, never stored."""
    return random.Random(((seed * 1_000_003 + index) << 4) | salt)


# salts: one random stream per kind of thing, so adding draws to one never shifts another
_ORG, _ACCOUNT, _CONTACT, _OPP, _ACT, _DETAILS = range(6)


def sales_org(seed: int, opportunities: int) -> SalesOrg:
    """The people of the generated organisation (depends only on the seed and the deal count)."""
    rng = _seeded(seed, _ORG, 0)
    n_reps = rep_count(opportunities)
    n_teams = max(2, math.ceil(n_reps / 8))
    n_people = 1 + n_teams + n_reps
    firsts = rng.sample(V.FIRST_NAMES, n_people)
    lasts = rng.sample(V.LAST_NAMES, n_people)
    role = lambda n: sf_id(KEY_PREFIXES["UserRole"], n)  # noqa: E731
    user = lambda n: sf_id(KEY_PREFIXES["User"], n)  # noqa: E731
    roles = [(role(1), "VP Sales", "")]
    for t in range(n_teams):
        region = V.REGIONS[t % len(V.REGIONS)][0]
        roles.append((role(2 + 2 * t), f"{region} Sales Manager", role(1)))
        roles.append((role(3 + 2 * t), f"{region} Account Executive", role(2 + 2 * t)))

    def person(n: int, kind: str, title: str, role_id: str, manager: str, team: int, **more) -> Person:
        first, last = firsts[n - 1], lasts[n - 1]
        return Person(n, user(n), f"{first}.{last}".lower(), first, last, title, role_id, manager, kind, team,
                      V.REGIONS[team % len(V.REGIONS)][0] if team >= 0 else "", **more)

    leader = person(1, "leader", "VP Sales", role(1), "", -1)
    managers = tuple(
        person(2 + t, "manager", f"Regional Sales Manager, {V.REGIONS[t % len(V.REGIONS)][0]}", role(2 + 2 * t),
               leader.id, t)
        for t in range(n_teams)
    )
    reps = []
    for r in range(n_reps):
        team = r * n_teams // n_reps
        kind = ARCHETYPES[ARCHETYPE_ORDER[r % len(ARCHETYPE_ORDER)]]
        jitter = lambda: 0.9 + 0.2 * rng.random()  # noqa: E731
        reps.append(person(2 + n_teams + r, "rep", "Account Executive", role(3 + 2 * team), managers[team].id, team,
                           archetype=kind, activity=kind.activity * jitter(), new_deals=kind.new_deals * jitter(),
                           win=kind.win * jitter()))
    return SalesOrg(tuple(roles), leader, managers, tuple(reps))


# ---- accounts -----------------------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


_SIZE_TABLE = tuple(i for i, s in enumerate(V.SIZES) for _ in range(s[1]))  # 100 entries
_INDUSTRY_CUM = [sum(x[1] for x in V.INDUSTRIES[: i + 1]) for i in range(len(V.INDUSTRIES))]
_TYPE_CUM = [sum(x[1] for x in V.ACCOUNT_TYPES[: i + 1]) for i in range(len(V.ACCOUNT_TYPES))]
_SOURCE_CUM = [sum(x[1] for x in V.LEAD_SOURCES[: i + 1]) for i in range(len(V.LEAD_SOURCES))]
_LOST_AT_CUM = [sum(V.LOST_AT_WEIGHTS[: i + 1]) for i in range(len(V.LOST_AT_WEIGHTS))]
_RFP = next(i for i, s in enumerate(V.LEAD_SOURCES) if s[0] == "RFP")


class AccountProfile:
    """What the other files need to know about one account; recomputed from (seed, index)."""

    __slots__ = ("index", "id", "name", "base_name", "industry", "size", "employees", "country", "state", "dial",
                 "type", "customer", "owner", "parent", "units", "contacts", "members", "first_contact", "has_mid")


# ---- the writer ---------------------------------------------------------------------------------
# Days are handled as indexes into precomputed tables (day 0 = ex.lo), so that the hot loops
# look strings up instead of formatting dates.


class _Export:
    def __init__(self, accounts: int, opportunities: int, activities: int, seed: int, today: date):
        if accounts < 1 or opportunities < 0 or activities < 0:
            raise ValueError("need at least one account, and no negative counts")
        self.n_accounts, self.n_opps, self.n_acts, self.seed = accounts, opportunities, activities, seed
        self.org = sales_org(seed, opportunities)
        self.reps = self.org.reps
        self.n_reps = len(self.reps)
        self.manager_of = {m.id: m for m in self.org.managers}
        first = today - timedelta(days=WINDOW_DAYS + 1700)
        days = [first + timedelta(days=k) for k in range(WINDOW_DAYS + 1700 + 800)]
        self.today = WINDOW_DAYS + 1700
        self.window_start = self.today - WINDOW_DAYS
        self.daystr = [d.isoformat() for d in days]
        # weekends move to the Friday before (or the Monday after, when that is not after today)
        self.workday = []
        for k, d in enumerate(days):
            wd = d.weekday()
            if wd == 5 or (wd == 6 and k + 1 > self.today):
                k -= wd - 4
            elif wd == 6:
                k += 1
            self.workday.append(k)
        self.quarter_end = [(_quarter_end(d) - first).days for d in days]
        # times of day a minute apart from 07:00, with seconds; meetings start on whole minutes
        self.times = [f"T{m // 60:02d}:{m % 60:02d}:{(m * 37) % 60:02d}.000Z" for m in range(7 * 60, 19 * 60)]
        self.slots = [f"T{m // 60:02d}:{m % 60:02d}:00.000Z" for m in range(7 * 60, 19 * 60)]
        self.rep_new_cum = _cumulative([p.new_deals for p in self.reps])
        self.rep_act_cum = _cumulative([p.activity * p.new_deals for p in self.reps])
        self.account = lru_cache(maxsize=ACCOUNT_CACHE)(self._account)
        self.cid = lru_cache(maxsize=CONTACT_ID_CACHE)(id_factory(KEY_PREFIXES["Contact"]))

    # -- accounts -------------------------------------------------------------------------------

    def size_of(self, a: int) -> int:
        return _SIZE_TABLE[_mix(self.seed * 7_919 + a) % 100]

    def accounts_of(self, rep: int) -> int:
        """How many accounts rep number `rep` owns: accounts are dealt out to the reps in turn."""
        return (self.n_accounts - rep + self.n_reps - 1) // self.n_reps

    def is_subsidiary(self, a: int) -> bool:
        """About one account in eleven is a subsidiary of an earlier one (decided by a hash, so
        that a parent candidate is checked without computing its profile)."""
        return a >= 10 and _mix(self.seed * 104_729 + a) % 100 < 9

    def _account(self, a: int) -> AccountProfile:
        rng = _seeded(self.seed, _ACCOUNT, a)
        r = rng.random
        p = AccountProfile()
        p.index, p.id = a, sf_id(KEY_PREFIXES["Account"], a + 1)
        p.first_contact = a * MAX_CONTACTS_PER_ACCOUNT + 1
        p.size = size = self.size_of(a)
        band = V.SIZES[size]
        p.owner = owner = self.reps[a % self.n_reps]
        parent = None
        if self.is_subsidiary(a):  # of an earlier, bigger account that is no subsidiary itself
            for _ in range(4):
                candidate = int(r() * a)
                if self.size_of(candidate) >= 2 and not self.is_subsidiary(candidate):
                    parent = self.account(candidate)
                    break
        p.parent = parent
        countries = V.REGIONS[owner.team % len(V.REGIONS)][1]
        country, dial, suffix, states = countries[int(r() ** 1.6 * len(countries))]
        p.country, p.dial = country, dial
        p.state = states[int(r() * len(states))] if states else ""
        if parent is not None:
            p.industry = parent.industry
            p.base_name = f"{parent.base_name} {country}"
        else:
            p.industry = bisect(_INDUSTRY_CUM, r() * _INDUSTRY_CUM[-1])
            nouns = V.INDUSTRIES[p.industry][3]
            p.base_name = f"{V.NAME_WORDS[int(r() * len(V.NAME_WORDS))]} {nouns[int(r() * len(nouns))]}"
        p.name = f"{p.base_name} {suffix}"
        if parent is not None and r() < 0.7:
            p.type = "Customer - Direct"
        else:
            p.type = V.ACCOUNT_TYPES[bisect(_TYPE_CUM, r() * _TYPE_CUM[-1])][0]
        p.customer = p.type.startswith("Customer")
        # business units and their people: a head, mid-level managers reporting to the head,
        # staff reporting to a manager; contacts are numbered within the account
        preferred = V.INDUSTRY_UNITS[V.INDUSTRIES[p.industry][0]]
        combos = _UNIT_COMBOS[band[6] + int(r() * (band[7] - band[6] + 1))]
        picks = combos[int(r() * len(combos))]
        p.units = tuple(preferred[i] for i in picks)
        contacts, members = (), []
        low, spread = band[8], band[9] - band[8] + 1
        for u in range(len(picks)):
            block, member = _unit_block(u, len(contacts), low + int(r() * spread))
            contacts += block
            members.append(member)
        p.contacts, p.members = contacts, tuple(members)
        p.has_mid = any(m[1] for m in members)
        return p

    def account_details(self, p: AccountProfile) -> tuple[int, int, str, str, int]:
        """What only Account.csv shows (employees, revenue, tier, health score, created day),
        from a stream of its own so that deals need not compute it."""
        r = _seeded(self.seed, _DETAILS, p.index).random
        band = V.SIZES[p.size]
        employees = int(band[2] * (band[3] / band[2]) ** r())
        revenue = int(round(employees * V.INDUSTRIES[p.industry][2] * math.exp(0.35 * (r() * 2 - 1)), -3))
        if p.customer:
            tier, health = ("Standard", "Growth", "Key", "Strategic")[p.size], str(int(35 + 63 * r() ** 0.7))
        else:
            tier, health = "Prospect", ""
        return employees, revenue, tier, health, self.window_start - 1 - int(r() * 1500)


_UNIT_COMBOS = {k: list(itertools.combinations(range(6), k)) for k in range(1, 7)}


@lru_cache(maxsize=None)
def _unit_block(unit: int, head: int, n: int) -> tuple[tuple, tuple]:
    """The n contacts of a unit whose head is contact `head`: ((unit, level, reports-to), ...) and
    (head, mid-level managers, staff). Few distinct blocks exist (unit < 6, head < 32, n <= 5)."""
    mids = tuple(range(head + 1, head + 1 + n // 2))
    staff = tuple(range(head + 1 + len(mids), head + n))
    block = ((unit, 0, -1),) + tuple((unit, 1, head) for _ in mids) + tuple(
        (unit, 2, mids[s % len(mids)] if mids else head) for s in range(len(staff)))
    return block, (head, mids, staff)


def _quarter_end(d: date) -> date:
    q_month = (d.month - 1) // 3 * 3 + 3
    return date(d.year + (q_month == 12), q_month % 12 + 1, 1) - timedelta(days=1)


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class _Writers:
    """One writer per file: every value double-quoted, one row a line, as Salesforce writes them.

    Rows are joined by hand rather than by csv.writer, which is ten times slower with every
    value quoted: this is safe because no generated value holds a double quote or a line break
    (the vocabulary holds none; tests/demo checks that every file reads back with csv.reader).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = {}

    def open(self, name: str):
        f = open(self.folder / name, "w", newline="", encoding="utf-8", buffering=1 << 20)
        self.files[name] = f
        write, join = f.write, '","'.join

        def writerow(row) -> None:
            write('"' + join(row) + '"\n')

        writerow(COLUMNS[name])
        return writerow

    def close(self):
        for f in self.files.values():
            f.close()


class _Progress:
    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done, self.next = callback, total, 0, 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.callback and self.done >= self.next:
            self.next = self.done + 20_000
            self.callback(self.done, max(self.total, self.done))

    def finish(self) -> None:
        if self.callback:
            self.callback(self.done, self.done)


def write_salesforce_export(out_dir: Path, *, accounts: int, opportunities: int, activities: int, seed: int = 7,
                            progress: ProgressCallback | None = None, today: date = TODAY) -> dict[str, int]:
    """Write a Salesforce Data Export (one CSV per object) into `out_dir`; return rows per file.

    `progress(rows_done, rows_total)` is called every 20,000 rows or so; rows_total is an
    estimate until the last call, where it equals rows_done.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ex = _Export(accounts, opportunities, activities, seed, today)
    estimate = accounts * 9 + opportunities * 9 + activities + 60
    tracker = _Progress(progress, estimate)
    writers = _Writers(out_dir)
    counts: dict[str, int] = {}
    try:
        counts.update(_write_org(ex, writers, tracker))
        counts.update(_write_products(ex, writers, tracker))
        counts.update(_write_accounts(ex, writers, tracker))
        counts.update(_write_deals(ex, writers, tracker))
    finally:
        writers.close()
    tracker.finish()
    return {name: counts[name] for name in FILES}


def write_salesforce_zip(zip_path: Path, *, accounts: int, opportunities: int, activities: int, seed: int = 7,
                         progress: ProgressCallback | None = None, today: date = TODAY) -> dict[str, int]:
    """The same export as write_salesforce_export, as one .zip (the files are written to a
    temporary folder beside the zip, then streamed into it)."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=zip_path.parent, prefix=".sf-export-") as tmp:
        counts = write_salesforce_export(Path(tmp), accounts=accounts, opportunities=opportunities,
                                         activities=activities, seed=seed, progress=progress, today=today)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in FILES:
                info = zipfile.ZipInfo(name, date_time=(today.year, today.month, today.day, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(Path(tmp) / name, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    return counts


# ---- the files ----------------------------------------------------------------------------------


def _write_org(ex: _Export, writers: _Writers, tracker: _Progress) -> dict[str, int]:
    w = writers.open("UserRole.csv")
    for role in ex.org.roles:
        w(role)
    w = writers.open("User.csv")
    for p in ex.org.people:
        w((p.id, p.username, p.first_name, p.last_name, p.email, p.title, p.role_id, p.manager_id, "true"))
    tracker.add(len(ex.org.roles) + len(ex.org.people))
    return {"UserRole.csv": len(ex.org.roles), "User.csv": len(ex.org.people)}


def _write_products(ex: _Export, writers: _Writers, tracker: _Progress) -> dict[str, int]:
    w = writers.open("Product2.csv")
    for i, (name, code, family, _price) in enumerate(V.PRODUCTS):
        w((sf_id(KEY_PREFIXES["Product2"], i + 1), name, code, family, "true"))
    tracker.add(len(V.PRODUCTS))
    return {"Product2.csv": len(V.PRODUCTS)}


def _write_accounts(ex: _Export, writers: _Writers, tracker: _Progress) -> dict[str, int]:
    wa, wc = writers.open("Account.csv"), writers.open("Contact.csv")
    n_contacts = 0
    firsts, lasts = V.FIRST_NAMES, V.LAST_NAMES
    nf, nl = len(firsts), len(lasts)
    times, daystr, cid = ex.times, ex.daystr, ex.cid
    for a in range(ex.n_accounts):
        p = ex.account(a)
        employees, revenue, tier, health, created = ex.account_details(p)
        wa((p.id, p.name, V.INDUSTRIES[p.industry][0], p.type, str(employees), str(revenue), "USD", p.country,
            p.state, p.parent.id if p.parent is not None else "", p.owner.id, daystr[created] + times[a % 720],
            tier, health))
        domain = p.base_name.lower().replace(" ", "-").replace("&", "and") + ".example"
        r = _seeded(ex.seed, _CONTACT, a).random
        owner, size, base = p.owner.id, p.size, p.first_contact
        for j, (u, level, boss) in enumerate(p.contacts):
            unit = p.units[u]
            first, last = firsts[int(r() * nf)], lasts[int(r() * nl)]
            if level == 0:
                title = V.HEAD_TITLES[unit][size]
            elif level == 1:
                title = V.MID_TITLES[unit][int(r() * 3)]
            else:
                title = V.STAFF_TITLES[unit][int(r() * 3)]
            wc((cid(base + j), p.id, first, last, title, unit, f"{first}.{last}@{domain}".lower(),
                f"+{p.dial} 555 {int(r() * 9000) + 1000} {int(r() * 900) + 100}",
                cid(base + boss) if boss >= 0 else "", owner))
        n_contacts += len(p.contacts)
        tracker.add(1 + len(p.contacts))
    return {"Account.csv": ex.n_accounts, "Contact.csv": n_contacts}


def _write_deals(ex: _Export, writers: _Writers, tracker: _Progress) -> dict[str, int]:
    """Opportunities with their product lines, stage history, contact roles and activities, in one
    pass (a deal's rows are made together, from one random stream per deal), then the activities
    on accounts that make up the requested activity count."""
    wo = writers.open("Opportunity.csv")
    wl = writers.open("OpportunityLineItem.csv")
    wh = writers.open("OpportunityHistory.csv")
    wr = writers.open("OpportunityContactRole.csv")
    wt = writers.open("Task.csv")
    we = writers.open("Event.csv")
    n = ex.n_opps
    # How many activities a deal gets for its weight: calibrated on a sample of deals so that
    # deals take about 90% of the requested activities; the rest are activities on accounts.
    # (A deal stuck with a gatekeeper also has its 4-6 follow-up calls, on top.)
    sampled = weights = follow_ups = 0
    for i in range(0, n, max(1, n // 1000)):
        d = _plan(ex, i)
        sampled, weights, follow_ups = sampled + 1, weights + d.weight, follow_ups + len(d.gatekeeper_calls)
    per_weight = max(0.0, 0.9 * ex.n_acts - n * follow_ups / sampled) / (n * weights / sampled) if n else 0.0
    budget = ex.n_acts
    line_id, hist_id, role_id = (id_factory(KEY_PREFIXES[k]) for k in ("OpportunityLineItem", "OpportunityHistory",
                                                                        "OpportunityContactRole"))
    task_id, event_id = id_factory(KEY_PREFIXES["Task"]), id_factory(KEY_PREFIXES["Event"])
    n_line = n_hist = n_role = n_task = n_event = 0
    daystr, workday, times, slots, cid = ex.daystr, ex.workday, ex.times, ex.slots, ex.cid
    stages, sources = V.STAGES, V.LEAD_SOURCES
    product_ids = [sf_id(KEY_PREFIXES["Product2"], i + 1) for i in range(len(V.PRODUCTS))]
    today = ex.today
    todo, calls, emails, meetings = V.TODO_SUBJECTS, V.CALL_SUBJECTS, V.EMAIL_SUBJECTS, V.MEETING_SUBJECTS
    for i in range(n):
        d = _plan(ex, i)
        r = d.rng.random
        acc, owner = d.account, d.owner
        oid, owner_id, base = d.id, owner.id, acc.first_contact
        stage, _, close = d.steps[-1]
        stage_name, probability, forecast = stages[stage]
        closed = stage >= V.WON
        amount = f"{d.amount}.00"
        wo((oid, d.name, acc.id, owner_id, stage_name, amount, "USD", daystr[d.created] + times[d.minutes[0]],
            daystr[close], "true" if closed else "false", "true" if stage == V.WON else "false",
            sources[d.source][0], d.type, probability, forecast, d.description, d.loss_reason))
        for product, quantity, unit_price in d.lines:
            n_line += 1
            wl((line_id(n_line), oid, product_ids[product], str(quantity), f"{unit_price}.00",
                f"{quantity * unit_price}.00"))
        # before the proposal the amount is the rep's early estimate; from the proposal on (and
        # on the current row) the quoted amount
        last_step = len(d.steps) - 1
        estimate = f"{d.estimate}.00"
        for j, (stage, when, close) in enumerate(d.steps):
            n_hist += 1
            wh((hist_id(n_hist), oid, stages[stage][0], amount if (j == last_step or stage >= V.PROPOSAL) else estimate,
                daystr[close], stages[stage][1], daystr[when] + times[d.minutes[j]], owner_id))
        for j, role, primary in d.roles:
            n_role += 1
            wr((role_id(n_role), oid, cid(base + j), role, "true" if primary else "false"))

        # activities on the deal, while it was alive
        want = min(budget, int(d.weight * per_weight + r()) + len(d.gatekeeper_calls))
        budget -= want
        if want:
            start = d.created
            span = min(d.end, today) - start + 1
            contacts = d.contact_js
            n_roles = len(contacts) / 0.8
            n_contacts = len(acc.contacts) * 10
            meet = owner.archetype.meetings
            manager = ex.manager_of[owner.manager_id].id if acc.size >= 2 else ""
            customer = 0.3 if acc.customer else 0.12
            gk = d.gatekeeper_calls
            for k in range(want):
                if k < len(gk):  # the follow-ups with the gatekeeper
                    o = gk[k]
                    n_task += 1
                    wt((task_id(n_task), cid(base + d.gatekeeper), oid, owner_id, "Follow-up call", daystr[o],
                        "Completed", "Call", "Outbound", daystr[o] + times[int(r() * 720)]))
                    continue
                x = r()
                who = cid(base + contacts[int(x * n_roles)]) if x < 0.8 else (
                    cid(base + int((x - 0.8) * n_contacts)) if x < 0.9 else "")
                if k == len(gk) and not closed and r() < 0.6:  # the next step, planned
                    o = workday[today + 1 + int(r() * 14)]
                    if o <= today:
                        o += 3
                    n_task += 1
                    wt((task_id(n_task), who, oid, owner_id, todo[int(r() * 5)], daystr[o], "Not Started", "Task", "",
                        daystr[today - 1] + times[int(r() * 720)]))
                    continue
                frac = r()
                o = workday[start + int(frac * span)]
                if r() < meet:
                    n_event += 1
                    minute = int(r() * 18) * 30 + 60  # 08:00 .. 16:30
                    length = (30, 60, 60, 90)[int(r() * 4)]
                    # on bigger deals the manager now and then joins (and logs) a meeting
                    event_owner = manager if manager and r() < 0.08 else owner_id
                    we((event_id(n_event), who, oid, event_owner, meetings[int(frac * 7)], daystr[o],
                        daystr[o] + slots[minute], daystr[o] + slots[minute + length], "Meeting"))
                    continue
                n_task += 1
                y = r()
                if y < 0.6:
                    wt((task_id(n_task), who, oid, owner_id, calls[int(r() * 5)], daystr[o], "Completed", "Call",
                        "Inbound" if r() < customer else "Outbound", daystr[o] + times[int(r() * 720)]))
                elif y < 0.9:
                    wt((task_id(n_task), who, oid, owner_id, emails[int(r() * 5)], daystr[o], "Completed", "Email", "",
                        daystr[o] + times[int(r() * 720)]))
                else:
                    wt((task_id(n_task), who, oid, owner_id, todo[int(r() * 5)], daystr[o], "Completed", "Task", "",
                        daystr[o] + times[int(r() * 720)]))
        tracker.add(1 + len(d.lines) + len(d.steps) + len(d.roles) + want)

    # activities on accounts, not on a deal: check-ins, business reviews; a random stream per
    # 1,000 rows
    start = ex.window_start
    for k in range(budget):
        if k % 1000 == 0:
            r = _seeded(ex.seed, _ACT, k // 1000).random
            if k:
                tracker.add(1000)
        rep = bisect(ex.rep_act_cum, r() * ex.rep_act_cum[-1])
        owned = ex.accounts_of(rep)
        acc = ex.account(int(r() * owned) * ex.n_reps + rep if owned else int(r() * ex.n_accounts))
        who = cid(acc.first_contact + int(r() * len(acc.contacts))) if r() < 0.9 else ""
        o = workday[start + int(r() * WINDOW_DAYS)]
        owner = acc.owner
        if r() < owner.archetype.meetings:
            n_event += 1
            minute = int(r() * 18) * 30 + 60
            we((event_id(n_event), who, acc.id, owner.id, V.ACCOUNT_MEETING_SUBJECTS[int(r() * 4)], daystr[o],
                daystr[o] + slots[minute], daystr[o] + slots[minute + 60], "Meeting"))
        else:
            n_task += 1
            if r() < 0.7:
                wt((task_id(n_task), who, acc.id, owner.id, V.ACCOUNT_CALL_SUBJECTS[int(r() * 4)], daystr[o],
                    "Completed", "Call", "Inbound" if r() < (0.35 if acc.customer else 0.1) else "Outbound",
                    daystr[o] + times[int(r() * 720)]))
            else:
                wt((task_id(n_task), who, acc.id, owner.id, emails[int(r() * 5)], daystr[o], "Completed", "Email", "",
                    daystr[o] + times[int(r() * 720)]))
    tracker.add(budget % 1000 or (1000 if budget else 0))
    return {"Opportunity.csv": n, "OpportunityLineItem.csv": n_line, "OpportunityHistory.csv": n_hist,
            "OpportunityContactRole.csv": n_role, "Task.csv": n_task, "Event.csv": n_event}


# How the buying group is engaged changes the odds: several buyers with the decision maker, one
# contact only, or a mid-level gatekeeper who never brought the decision maker in.
_SHAPE_WIN = {"multi": 1.2, "single": 0.7, "gatekeeper": 0.3}
_SHAPE_SLIPS = {"multi": 0.25, "single": 0.4, "gatekeeper": 0.65}


class _Deal:
    __slots__ = ("rng", "id", "owner", "account", "created", "source", "type", "name", "description", "amount",
                 "estimate", "lines", "steps", "minutes", "end", "roles", "contact_js", "gatekeeper",
                 "gatekeeper_calls", "loss_reason", "weight", "shape", "won")


def _plan(ex: _Export, i: int) -> _Deal:
    """Everything about deal `i` but its activities, from its own random stream (which the
    activities then continue)."""
    d = _Deal()
    d.rng = rng = _seeded(ex.seed, _OPP, i)
    r = rng.random
    d.id = sf_id("006", i + 1)
    rep = bisect(ex.rep_new_cum, r() * ex.rep_new_cum[-1])
    d.owner = owner = ex.reps[rep]
    arche = owner.archetype
    owned = ex.accounts_of(rep)
    for _ in range(3):  # bigger accounts have more deals
        a = int(r() * owned) * ex.n_reps + rep if owned else int(r() * ex.n_accounts)
        if r() < V.SIZES[ex.size_of(a)][11]:
            break
    d.account = acc = ex.account(a)
    size = acc.size
    band = V.SIZES[size]
    today = ex.today
    created = ex.window_start + int((i + r()) * WINDOW_DAYS / ex.n_opps) + 1
    d.created = created = ex.workday[min(created, today)]
    d.source = source = bisect(_SOURCE_CUM, r() * _SOURCE_CUM[-1])
    rfp = source == _RFP
    existing = acc.customer and r() < 0.75
    d.type = V.EXISTING_TYPES[int(r() * 4)] if existing else V.NEW_TYPES[0]
    amount = band[4] * math.exp(0.6 * rng.gauss(0, 1)) * (0.6 if existing else 1.0) * (1.3 if rfp else 1.0)

    # product lines: a lead product and add-ons; the deal's amount is their sum
    leads = V.LEAD_PRODUCTS[size]
    lead = leads[int(r() * len(leads))]
    adds = []
    for _ in range(int(r() * (1 + size * 0.8))):
        product = V.ADD_ON_PRODUCTS[int(r() * len(V.ADD_ON_PRODUCTS))]
        if product != lead and product not in adds:
            adds.append(product)
    if adds:
        first = 0.55 + 0.3 * r()
        shares = [first] + [(1.0 - first) / len(adds)] * len(adds)
    else:
        shares = [1.0]
    lines = []
    total = 0
    for product, share in zip([lead, *adds], shares):
        price = V.PRODUCTS[product][3]
        value = amount * share
        quantity = max(1, round(value / price))
        unit = max(10, int(round(value / quantity / 10)) * 10)
        lines.append((product, quantity, unit))
        total += quantity * unit
    d.lines, d.amount = lines, total
    d.estimate = max(1000, int(round(total * math.exp(0.25 * rng.gauss(0, 1)), -3)))

    # whom we talk to: a business unit of the account, and how many of its people
    unit = int(r() * len(acc.units))
    head, mids, staff = acc.members[unit]
    x = r()
    if x < arche.multithread:
        shape = "multi"
    elif x < 1 - 0.35 * (1 - arche.multithread) or not acc.has_mid:
        shape = "single"
    else:
        shape = "gatekeeper"
    d.shape = shape
    roles = []
    d.gatekeeper, d.gatekeeper_calls = -1, ()
    if shape == "multi":
        roles.append((head, V.DM_ROLES[int(r() * 3)], not mids))
        for m in mids[: 1 + int(r() * 2)]:
            roles.append((m, V.MID_ROLES[int(r() * 3)], m == mids[0]))
        if staff and r() < 0.6:
            roles.append((staff[int(r() * len(staff))], V.STAFF_ROLES[int(r() * 3)], False))
        if size >= 2 and len(acc.units) > 1 and r() < 0.35:
            roles.append((acc.members[(unit + 1) % len(acc.units)][0], "Executive Sponsor", False))
    elif shape == "single":
        people = (head, *mids, *staff)
        j = people[int(r() * len(people))]
        level = acc.contacts[j][1]
        role = "Decision Maker" if level == 0 else (V.SINGLE_ROLES[int(r() * 2)] if level == 1 else "Business User")
        roles.append((j, role, True))
    else:
        if not mids:  # a mid-level contact of another unit
            unit = next(u for u, m in enumerate(acc.members) if m[1])
            head, mids, staff = acc.members[unit]
        d.gatekeeper = gk = mids[int(r() * len(mids))]
        roles.append((gk, V.GATEKEEPER_ROLES[int(r() * 3)], True))
        if staff and r() < 0.3:
            roles.append((staff[0], "Business User", False))
    d.roles = roles
    d.contact_js = tuple(j for j, _, _ in roles)

    # will it be won? (the source, the rep, how the buying group is engaged, existing customer)
    if rfp:
        p_win = 0.125 * (1 + 0.25 * (owner.win - 1))
    else:
        p_win = V.LEAD_SOURCES[source][2] * owner.win * _SHAPE_WIN[shape] * (1.25 if existing else 1.0)
        p_win = min(0.85, max(0.02, p_win))
    d.won = won = r() < p_win
    reach = 7 if won else bisect(_LOST_AT_CUM, r() * _LOST_AT_CUM[-1])

    # the stage path, now and then moving back a stage when new stakeholders arrive
    path = [0]
    stage = 0
    while stage < reach:
        stage += 2 if (stage + 2 <= reach and r() < 0.35) else 1
        path.append(stage)
        if 3 <= stage < reach and r() < 0.08:
            path.append(stage - 1)
    path.append(V.WON if won else V.LOST)

    # timing: the planned cycle, slips of the close date, the actual close
    planned = max(7, min(365, int(band[5] * math.exp(0.35 * rng.gauss(0, 1)) * (0.8 if rfp else 1.0))))
    slip_chance = _SHAPE_SLIPS[shape]
    slips = []
    while len(slips) < 2 and r() < slip_chance:
        slips.append(10 + int(r() * 35))
    if won:
        actual = planned + sum(slips) + int(r() * 11) - 5
    else:
        actual = int((planned + sum(slips)) * (0.25 + 0.75 * (reach + 1) / 8))
    end = created + max(3, actual)
    if won and r() < 0.35:  # the end-of-quarter push
        q_end = ex.quarter_end[end]
        if q_end - end <= 20:
            end = max(created, ex.workday[q_end])
    d.end = end
    n_path = len(path)
    fractions = sorted([r() for _ in range(n_path - 2)])
    slip_at = [1 + int(r() * max(1, n_path - 2)) for _ in slips]
    steps = []
    close = created + planned
    for j, stage in enumerate(path):
        if j == 0:
            when = created
        elif j == n_path - 1:
            when = end
        else:
            when = created + int(fractions[j - 1] * (end - created))
        if when > today:
            break  # still open: the history stops today
        for s, at in zip(slips, slip_at):
            if at == j:
                close += s
        steps.append((stage, when, end if j == n_path - 1 else close))
    d.steps = steps
    # times of day: rows on the same day follow each other
    minutes, previous_day, minute = [], -1, 0
    for _, when, _ in steps:
        minute = min(719, minute + 1 + int(r() * 30)) if when == previous_day else int(r() * 700)
        minutes.append(minute)
        previous_day = when
    d.minutes = minutes

    if steps[-1][0] == V.LOST:
        if reach <= 1:
            d.loss_reason = V.EARLY_LOSS_REASONS[int(r() * 4)]
        elif shape == "gatekeeper" and r() < 0.65:
            d.loss_reason = "No Decision / Non-Responsive"
        elif shape == "single" and r() < 0.35:
            d.loss_reason = "Champion Left"
        elif rfp and r() < 0.7:
            d.loss_reason = ("Price", "Lost to Competitor")[int(r() * 2)]
        else:
            d.loss_reason = V.LOSS_REASONS[int(r() * 7)]
    else:
        d.loss_reason = ""

    last = min(end, today)
    if shape == "gatekeeper":  # 4-6 follow-up calls, in the second half of the deal's life so far
        half = created + (last - created) // 2
        d.gatekeeper_calls = tuple(sorted([ex.workday[half + int(r() * (last - half + 1))]
                                           for _ in range(4 + int(r() * 3))]))

    unit_name = acc.units[unit]
    product_name = V.PRODUCTS[lead][0]
    kinds = V.NAME_KINDS_EXISTING if existing else V.NAME_KINDS_NEW
    d.name = f"{acc.name} - {product_name} {kinds[int(r() * len(kinds))]}"
    d.description = f"{unit_name}: {V.CHALLENGES[unit_name][int(r() * 3)]}. Evaluating {product_name} to address it."
    d.weight = owner.activity * band[10] * math.sqrt((last - created + 1) / 60)
    return d
