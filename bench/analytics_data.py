"""A fast, seeded generator of a large sales organisation's records, for the analytics benchmark only.

The CSV importer (about 12k rows/s here) would need more than 15 minutes for 11M rows, so the
benchmark writes the app's real tables (the migrated schema) directly: columns are drawn with
numpy, in the spirit of dealpilot.demo.generator (reps of different working styles, two years of
deals, 3-6 stage changes per deal that sometimes go back and whose close dates slip, activities
inside each deal's life, quarterly targets), then written with PostgreSQL COPY or one SQLite
executemany transaction. Everything goes through a Django connection, so the same code loads the
benchmark's databases and the test database of the smoke test.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

TODAY = date(2026, 11, 22)
WINDOW_DAYS = 730  # deals are created over the two years before TODAY
FULL = {"opportunities": 1_000_000, "activities": 10_000_000, "accounts": 100_000}

OPEN_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review")
OPEN_PROBABILITY = (10, 10, 20, 50, 60, 70, 75, 90)
WON_STAGE, LOST_STAGE = "Closed Won", "Closed Lost"
STAGES = OPEN_STAGES + (WON_STAGE, LOST_STAGE)
PROBABILITY = OPEN_PROBABILITY + (100, 0)
# (source, weight, base win rate): blind RFPs are won 10-15% of the time
SOURCES = (("inbound", 27, 0.28), ("outbound", 20, 0.18), ("referral", 13, 0.38), ("partner", 11, 0.40),
           ("blind_rfp", 6, 0.125), ("existing", 13, 0.45), ("other", 6, 0.22), ("", 4, 0.25))
REGIONS = ("North America East", "EMEA North", "North America West", "APAC", "EMEA South", "LATAM")
KINDS = ("call", "email", "meeting", "task")
# (name, activity per deal, new deals, win-rate multiplier, share of meetings), as the demo's ARCHETYPES
STYLES = (("star", 1.3, 1.25, 1.4, 0.30), ("busy", 1.75, 1.45, 0.55, 0.15), ("efficient", 0.5, 0.65, 1.55, 0.38),
          ("struggling", 0.6, 0.7, 0.55, 0.22), ("steady", 1.0, 1.0, 1.0, 0.25), ("busy", 1.75, 1.45, 0.55, 0.15),
          ("efficient", 0.5, 0.65, 1.55, 0.38), ("steady", 1.0, 1.0, 1.0, 0.25))
EPOCH = date(1970, 1, 1)


def counts(scale: float) -> dict[str, int]:
    return {k: max(1, round(v * scale)) for k, v in FULL.items()}


def rep_count(opportunities: int) -> int:
    """About one rep per 60 deals a year, at least 6, at most 40 (as the demo generator)."""
    return min(40, max(6, round(opportunities / 2 / 60)))


@dataclass
class Table:
    """Columns of one app table by Django field name (numpy arrays, lists or Arrow arrays of equal length)."""

    model: type
    columns: dict

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


def _day(d: date) -> int:
    return (d - EPOCH).days


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), type=pa.date32())


def generate(scale: float, seed: int = 7) -> list[Table]:
    """The records of one organisation at this scale (1.0: 1M deals, 10M activities), in load order."""
    from dealpilot.crm import models as crm

    rng = np.random.default_rng(seed)
    n = counts(scale)
    n_opps, n_acts, n_accounts = n["opportunities"], n["activities"], max(n["accounts"], 50)
    n_reps = rep_count(n_opps)
    n_teams = max(2, math.ceil(n_reps / 8))
    today = _day(TODAY)

    # -- people: a leader, a manager per team, the reps; one team per region under "Sales"
    teams = Table(crm.Team, {"id": list(range(1, n_teams + 2)), "name": ["Sales"] + [f"{REGIONS[t % 6]}" for t in range(n_teams)],
                             "parent_id": [None] + [1] * n_teams})
    style = [STYLES[r % len(STYLES)] for r in range(n_reps)]
    jitter = lambda: 0.9 + 0.2 * rng.random(n_reps)  # noqa: E731
    activity = np.array([s[1] for s in style]) * jitter()
    new_deals = np.array([s[2] for s in style]) * jitter()
    win = np.array([s[3] for s in style]) * jitter()
    meetings = np.array([s[4] for s in style])
    rep_team = np.arange(n_reps) * n_teams // n_reps  # 0-based team index
    ids = list(range(1, 2 + n_teams + n_reps))
    rep_ids = np.arange(2 + n_teams, 2 + n_teams + n_reps)
    roles = ["leader"] + ["manager"] * n_teams + ["rep"] * n_reps
    team_of = [1] + [2 + t for t in range(n_teams)] + [2 + int(t) for t in rep_team]
    manager_of = [None] + [1] * n_teams + [2 + int(t) for t in rep_team]
    users = Table(crm.User, {
        "id": ids, "username": [f"user{i}" for i in ids], "password": ["!"] * len(ids),
        "first_name": [f"First{i}" for i in ids], "last_name": [f"Last{i}" for i in ids],
        "full_name": [f"First{i} Last{i}" for i in ids], "email": [f"user{i}@bench.example" for i in ids],
        "role": roles, "team_id": team_of, "manager_id": manager_of, "is_active": [True] * len(ids),
    })

    # -- accounts: dealt out to the reps in turn, in the region of the rep's team
    acc_owner = np.arange(n_accounts) % n_reps
    accounts = Table(crm.Account, {
        "id": np.arange(1, n_accounts + 1), "name": [f"Account {i}" for i in range(1, n_accounts + 1)],
        "owner_id": rep_ids[acc_owner], "region": np.array(REGIONS)[rep_team[acc_owner] % 6].tolist(),
    })
    products = Table(crm.Product, {"id": list(range(1, 13)), "name": [f"Product {i}" for i in range(1, 13)]})

    # -- opportunities
    rep = rng.choice(n_reps, size=n_opps, p=new_deals / new_deals.sum())
    per_rep_accounts = (n_accounts - np.arange(n_reps) + n_reps - 1) // n_reps
    account = rep + n_reps * (rng.random(n_opps) * per_rep_accounts[rep]).astype(np.int64)
    created = today - WINDOW_DAYS + (rng.random(n_opps) * WINDOW_DAYS).astype(np.int64)
    src_w = np.array([s[1] for s in SOURCES], dtype=float)
    source = rng.choice(len(SOURCES), size=n_opps, p=src_w / src_w.sum())
    p_win = np.minimum(0.95, np.array([s[2] for s in SOURCES])[source] * win[rep])
    will_win = rng.random(n_opps) < p_win
    cycle = np.maximum(1, np.round(np.exp(rng.normal(np.where(will_win, math.log(60), math.log(45)), 0.55)))).astype(np.int64)
    close = created + cycle
    closed = close < today
    # a few open deals keep a close date that has passed (overdue)
    overdue = ~closed & (rng.random(n_opps) < 0.05)
    close = np.where(overdue, today - 1 - (rng.random(n_opps) * 20).astype(np.int64), close)
    closed &= ~overdue
    won = closed & will_win
    amount_cents = np.round(np.exp(rng.normal(math.log(30_000), 0.9, n_opps)) * 100).astype(np.int64)
    # stage history: 3-6 changes; open stages climb (sometimes one step back), closed deals end closed
    k = rng.integers(3, 7, n_opps)
    n_open = np.where(closed, k - 1, k)  # open stages in the history
    keys = rng.random((n_opps, 8))
    picks = np.argsort(keys, axis=1)
    picks = np.where(np.arange(8)[None, :] < n_open[:, None], picks, 99)
    picks.sort(axis=1)  # the chosen open stages in increasing order, padded with 99
    back = (n_open >= 3) & (rng.random(n_opps) < 0.08)  # the last two swapped: a step back
    rows = np.arange(n_opps)
    last, before = picks[rows, n_open - 1].copy(), picks[rows, n_open - 2].copy()
    picks[rows[back], n_open[back] - 1], picks[rows[back], n_open[back] - 2] = before[back], last[back]
    final = np.where(won, 8, np.where(closed, 9, picks[rows, n_open - 1]))
    stage_names = np.array(STAGES, dtype=object)
    probability = np.array(PROBABILITY)[final]
    opp_ids = np.arange(1, n_opps + 1)
    opportunities = Table(crm.Opportunity, {
        "id": opp_ids, "name": [f"Deal {i}" for i in range(1, n_opps + 1)], "account_id": account + 1,
        "owner_id": rep_ids[rep], "stage": stage_names[final].tolist(),
        "amount": amount_cents, "created_date": created, "close_date": close, "is_closed": closed, "is_won": won,
        "source": np.array([s[0] for s in SOURCES], dtype=object)[source].tolist(), "probability": probability * 100,
    })
    n_items = rng.integers(1, 3, n_opps)
    item_opp = np.repeat(opp_ids, n_items)
    line_items = Table(crm.LineItem, {"id": np.arange(1, len(item_opp) + 1), "opportunity_id": item_opp,
                                      "product_id": rng.integers(1, 13, len(item_opp))})

    # history rows: deal i has k[i] rows; row j of the deal is at fraction j/(k-1) of its life
    deal = np.repeat(rows, k)
    first_row = np.cumsum(k) - k
    j = np.arange(len(deal)) - first_row[deal]
    is_last = j == k[deal] - 1
    stage_idx = np.where(j < n_open[deal], picks[deal, np.minimum(j, 7)], final[deal])
    end = np.where(closed, close, today - 1)
    life = np.maximum(end - created, 0)[deal]
    frac = np.where(j == 0, 0.0, np.where(is_last & closed[deal], 1.0, (j + rng.random(len(deal)) * 0.9) / k[deal]))
    day = created[deal] + np.floor(frac * life).astype(np.int64)
    seconds = (day * 86400 + 8 * 3600 + (rng.random(len(deal)) * 10 * 3600).astype(np.int64) + j)
    slip = np.where(rng.random(n_opps) < 0.25, rng.integers(7, 60, n_opps), 0)
    slip_at = 1 + (rng.random(n_opps) * (k - 1)).astype(np.int64)
    hist_close = close[deal] - np.where(j < slip_at[deal], slip[deal], 0)
    stage_history = Table(crm.StageHistory, {
        "id": np.arange(1, len(deal) + 1), "opportunity_id": deal + 1, "stage": stage_names[stage_idx].tolist(),
        "amount": amount_cents[deal], "close_date": hist_close, "probability": np.array(PROBABILITY)[stage_idx] * 100,
        "changed_at": seconds, "changed_by_id": rep_ids[rep[deal]],
    })

    # -- activities: by rep (more for the busy ones), 90% on one of the rep's deals, dated in its life
    act_rep = rng.choice(n_reps, size=n_acts, p=activity * new_deals / (activity * new_deals).sum())
    order = np.argsort(rep, kind="stable")
    deals_of = np.bincount(rep, minlength=n_reps)
    first_deal = np.cumsum(deals_of) - deals_of
    on_deal = (rng.random(n_acts) < 0.9) & (deals_of[act_rep] > 0)
    pick = order[np.minimum(first_deal[act_rep] + (rng.random(n_acts) * deals_of[act_rep]).astype(np.int64), n_opps - 1)]
    act_end = np.where(closed, close, today)[pick]
    act_day = np.where(on_deal, created[pick] + (rng.random(n_acts) * np.maximum(act_end - created[pick], 1)).astype(np.int64),
                       today - WINDOW_DAYS + (rng.random(n_acts) * WINDOW_DAYS).astype(np.int64))
    u = rng.random(n_acts)
    m = meetings[act_rep]
    kind = np.where(u < m, 2, np.where(u < m + (1 - m) * 0.45, 0, np.where(u < m + (1 - m) * 0.8, 1, 3)))
    act_account = np.where(on_deal, account[pick], act_rep + n_reps * (rng.random(n_acts) * per_rep_accounts[act_rep]).astype(np.int64))
    activities = Table(crm.Activity, {
        "id": np.arange(1, n_acts + 1), "kind": np.array(KINDS, dtype=object)[kind].tolist(), "activity_date": act_day,
        "owner_id": rep_ids[act_rep], "account_id": act_account + 1,
        "opportunity_id": pa.array(np.where(on_deal, pick + 1, 0), mask=~on_deal, type=pa.int64()),
    })

    # -- quarterly targets per rep: 9 quarters before TODAY's and 2 after
    quarters = []
    y, q = TODAY.year, (TODAY.month - 1) // 3
    for i in range(-9, 3):
        qq = q + i
        yy, qq = y + qq // 4, qq % 4
        start = date(yy, 3 * qq + 1, 1)
        nxt = date(yy + (qq == 3), (3 * qq + 3) % 12 + 1, 1)
        quarters.append((_day(start), _day(nxt) - 1))
    expected = np.bincount(rep[won], weights=amount_cents[won], minlength=n_reps) / 8  # a quarter's won, in cents
    t_rep = np.repeat(np.arange(n_reps), len(quarters))
    t_q = np.tile(np.arange(len(quarters)), n_reps)
    targets = Table(crm.SalesTarget, {
        "id": np.arange(1, len(t_rep) + 1), "owner_id": rep_ids[t_rep],
        "period_start": np.array([s for s, _ in quarters])[t_q], "period_end": np.array([e for _, e in quarters])[t_q],
        "amount": (np.round(expected[t_rep] * 1.1 / 100_000) * 100_000).astype(np.int64),
    })
    return [teams, users, accounts, products, opportunities, line_items, stage_history, activities, targets]


# ---- writing ---------------------------------------------------------------------------------------


def _arrow_columns(table: Table) -> tuple[list, pa.Table]:
    """Every concrete column of the model: given values (converted to Arrow with the field's type)
    or the field's default; returns the db column names and the Arrow table."""
    from django.db import models

    now = datetime.now(timezone.utc).replace(microsecond=0)
    length = len(table)
    names, arrays = [], []
    for field in table.model._meta.concrete_fields:
        key = field.attname if field.attname in table.columns else field.name
        value = table.columns.get(key)
        if value is None:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                arr = pa.array(np.full(length, int(now.timestamp()), dtype="int64"), type=pa.timestamp("s", tz="UTC"))
            elif field.has_default():
                default = field.get_default()
                if isinstance(field, models.JSONField):
                    arr = pa.array(["{}"] * length if default == {} else [None] * length, type=pa.string())
                elif isinstance(field, models.BooleanField):
                    arr = pa.array([bool(default)] * length, type=pa.bool_())
                else:
                    arr = pa.array([default] * length)
            elif field.null:
                arr = pa.nulls(length, type=pa.string())
            elif isinstance(field, models.DateTimeField):
                arr = pa.array(np.full(length, int(now.timestamp()), dtype="int64"), type=pa.timestamp("s", tz="UTC"))
            else:
                arr = pa.array([""] * length, type=pa.string())
        elif isinstance(field, models.DecimalField):
            # given in hundredths (cents, or percent x 100), which are decimal(18, 2)'s unscaled integers
            hundredths = np.asarray(value, dtype="int64")
            words = np.empty((length, 2), dtype="int64")
            words[:, 0], words[:, 1] = hundredths, hundredths >> 63  # little-endian 128-bit, sign-extended
            arr = pa.Array.from_buffers(pa.decimal128(18, 2), length, [None, pa.py_buffer(words)])
        elif isinstance(field, models.DateTimeField):
            arr = pa.array(np.asarray(value, dtype="int64"), type=pa.timestamp("s", tz="UTC"))
        elif isinstance(field, models.DateField):
            arr = _dates(np.asarray(value))
        elif isinstance(value, pa.Array):
            arr = value
        else:
            arr = pa.array(value.tolist() if isinstance(value, np.ndarray) and value.dtype == object else value)
        names.append(field.column)
        arrays.append(arr)
    return names, pa.table(arrays, names=names)


def _copy_postgres(cursor, db_table: str, names: list, data: pa.Table, chunk: int) -> None:
    quoted = ", ".join(f'"{c}"' for c in names)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with cursor.copy(f'COPY "{db_table}" ({quoted}) FROM STDIN (FORMAT csv)') as copy:
        for start in range(0, data.num_rows, chunk):
            buf = io.BytesIO()
            pacsv.write_csv(data.slice(start, chunk), buf, write_options=options)
            copy.write(buf.getbuffer())


def _sqlite_values(arr: pa.Array) -> list:
    """Values as Django's SQLite backend stores them: dates and times as ISO text (UTC, no zone),
    decimals as text (SQLite's NUMERIC affinity makes numbers of them), booleans as 0/1."""
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        # few distinct values: format each once (Arrow's strftime is slow per value)
        unique = arr.unique()
        fmt = "%Y-%m-%d %H:%M:%S" if pa.types.is_timestamp(t) else "%Y-%m-%d"
        if len(unique) * 4 < len(arr):
            text = np.array([None if v is None else v.strftime(fmt) for v in unique.to_pylist()], dtype=object)
            return text[pc.index_in(arr, unique).to_numpy(zero_copy_only=False)].tolist()
        seconds = arr.cast(pa.timestamp("s", tz=t.tz) if pa.types.is_timestamp(t) else pa.date32())
        values = np.datetime_as_string(seconds.to_numpy(zero_copy_only=False), unit="s" if pa.types.is_timestamp(t) else "D")
        return [v.replace("T", " ") for v in values.tolist()]
    if pa.types.is_decimal(t):  # as text, as Django hands SQLite a Decimal (Arrow's cast to float is inexact)
        return arr.cast(pa.string()).to_pylist()
    if pa.types.is_boolean(t):
        return arr.cast(pa.int8()).to_pylist()
    return arr.to_pylist()


def _secondary_indexes(cursor, vendor: str, db_table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    if vendor == "postgresql":
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                       "AND indexname NOT IN (SELECT conname FROM pg_constraint)", [db_table])
    else:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                       [db_table])
    return list(cursor.fetchall())


def load(tables: list[Table], using: str = "default", *, fast: bool = False, chunk: int = 500_000,
         progress=None) -> dict[str, int]:
    """Write the generated tables into the (migrated, empty) app tables of connection `using`.

    fast: the benchmark's own databases only: no foreign-key checks while loading (PostgreSQL:
    session_replication_role=replica; SQLite: foreign_keys=OFF, no journal, no syncs), and the
    secondary indexes dropped before and built again after (much faster than row by row)."""
    from django.core.management.color import no_style
    from django.db import connections, transaction

    conn = connections[using]
    written = {}
    with transaction.atomic(using=using):
        with conn.cursor() as cursor:
            raw = cursor.cursor
            if fast and conn.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                names, data = _arrow_columns(table)
                db_table = table.model._meta.db_table
                indexes = _secondary_indexes(cursor, conn.vendor, db_table) if fast else []
                for name, _ in indexes:
                    cursor.execute(f'DROP INDEX "{name}"')
                if progress:
                    progress(f"{db_table}: {data.num_rows:,} rows")
                if conn.vendor == "postgresql":
                    _copy_postgres(raw, db_table, names, data, chunk)
                else:
                    sql = (f'INSERT INTO "{db_table}" ({", ".join(chr(34) + c + chr(34) for c in names)}) '
                           f'VALUES ({", ".join("?" * len(names))})')
                    for start in range(0, data.num_rows, chunk):
                        part = data.slice(start, chunk)
                        raw.executemany(sql, zip(*[_sqlite_values(part.column(i).combine_chunks()) for i in range(len(names))]))
                for _, create in indexes:
                    cursor.execute(create)
                written[db_table] = data.num_rows
            for sql in conn.ops.sequence_reset_sql(no_style(), [t.model for t in tables]):
                cursor.execute(sql)
    return written


def sqlite_fast_pragmas(using: str = "default") -> None:
    """For loading the benchmark's SQLite file once: no journal, no syncs, a big cache."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY",
                       "foreign_keys=OFF"):
            cursor.execute(f"PRAGMA {pragma}")

