"""Account-planning benchmark: score and classify every account after a change of weights, against
a pandas implementation of the same scoring in the same run; and the account-plan page's p95.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dp_plan \\
        nice -n 10 .venv/bin/python bench/planning_bench.py --scale 1 --write-docs docs/benchmarks.md

--scale 1 is 100k accounts, 1M opportunities (each with a contact role) and 10M activities,
300k contacts and 250k ratings; --scale 0.01 a hundredth of that (for development).

1. Data: generated with numpy (seeded) and written straight into the CRM tables with PostgreSQL
   COPY, foreign-key triggers off (the rows are consistent by construction). The data set is kept
   in the database and reused by the next run of the same scale (a marker row in the bench's own
   table says which); generating 10M activities took about an hour on the shared machine.
2. dealpilot: `planning.selectors.account_scores(spec)` as the app runs it: (a) cold, each measure
   one aggregate query on the database plus the vectorised scoring; (b) after a change of weights,
   the measures cached per data version, so only the scoring runs again (median of --repeat runs).
3. pandas: the same scoring written with pandas over the raw rows: (a) cold, the rows read from
   PostgreSQL (COPY ... TO STDOUT into read_csv) then grouped; (b) after a change of weights, the
   frames already in memory, every measure regrouped. Both must give dealpilot's scores exactly.
4. The account-plan page: an account with 200 contacts and 50 plan units, a plan covering all 50
   (goals, objectives, strategies, actions), rendered server-side by Django's test client
   (--page-requests times, after one warm-up); p50 and p95.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
MARK = "<!-- planning_bench.py {} -->"
TODAY = date(2026, 11, 23)
SEED = 11


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    os.environ.setdefault("DEALPILOT_ALLOWED_HOSTS", "testserver,localhost")
    # the measures' cache also expires by time (changes to existing rows); the runs here change only weights
    os.environ.setdefault("DEALPILOT_SCORE_TTL", "86400")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# ---- data ------------------------------------------------------------------------------------------


def sizes(scale: float) -> dict[str, int]:
    return {"users": max(10, int(100 * scale ** 0.5)), "accounts": int(100_000 * scale), "opportunities": int(1_000_000 * scale),
            "activities": int(10_000_000 * scale), "contacts": int(300_000 * scale)}


def _copy(model, frame: pd.DataFrame) -> None:
    """COPY a frame into a model's table (column names are the table's)."""
    from django.db import connection

    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    table = model._meta.db_table
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')') as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def _stamp(n: int) -> dict:
    now = "2026-11-01 00:00:00+00"
    return {"extra": ["{}"] * n, "created_at": [now] * n, "updated_at": [now] * n}


def generate(scale: float, log) -> dict:
    """The bench data set, straight into the tables (one transaction); returns the ids it made."""
    from django.db import connection, transaction

    from dealpilot.crm import models as crm
    from dealpilot.planning.models import AccountRating, ScoringModel

    n = sizes(scale)
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # generated rows are consistent by construction: skip the (deferred) foreign-key
            # triggers, which would otherwise check tens of millions of keys at commit
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("TRUNCATE crm_user, crm_account RESTART IDENTITY CASCADE")
            cursor.execute("TRUNCATE planning_scoringmodel RESTART IDENTITY CASCADE")
        users = pd.DataFrame({"id": np.arange(1, n["users"] + 1)})
        users = users.assign(password="!", is_superuser=False, username=[f"bench{i}" for i in users["id"]], first_name="",
                             last_name="", email="", is_staff=False, is_active=True, date_joined="2026-01-01 00:00:00+00",
                             role=np.where(users["id"] == 1, "leader", "rep"), full_name=[f"Bench Rep {i}" for i in users["id"]],
                             extra="{}", updated_at="2026-11-01 00:00:00+00")
        _copy(crm.User, users)
        acc = pd.DataFrame({"id": np.arange(1, n["accounts"] + 1)})
        acc = acc.assign(**_stamp(len(acc)), name=[f"Account {i}" for i in acc["id"]], industry="Manufacturing", size="",
                         region=rng.choice(["EMEA", "Americas", "APAC"], len(acc)), country="", currency="USD",
                         owner_id=rng.integers(2, n["users"] + 1, len(acc)))
        _copy(crm.Account, acc)
        log(f"  users and {len(acc):,} accounts")
        # accounts differ in size: a few get most of the deals and activities (Zipf-like weights)
        weight = 1.0 / np.arange(1, n["accounts"] + 1) ** 0.6
        weight = rng.permutation(weight / weight.sum())
        con = pd.DataFrame({"id": np.arange(1, n["contacts"] + 1)})
        con = con.assign(**_stamp(len(con)), account_id=rng.choice(acc["id"].to_numpy(), len(con), p=weight), first_name="",
                         last_name=[f"Contact {i}" for i in con["id"]], title="", email="", phone="",
                         has_left=rng.random(len(con)) < 0.05)
        _copy(crm.Contact, con)
        log(f"  {len(con):,} contacts")
        opp_account = rng.choice(acc["id"].to_numpy(), n["opportunities"], p=weight)
        created = pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(0, 730, n["opportunities"]), unit="D")
        closed = rng.random(n["opportunities"]) < 0.8
        won = closed & (rng.random(n["opportunities"]) < 0.3)
        close = created + pd.to_timedelta(rng.integers(10, 200, n["opportunities"]), unit="D")
        opp = pd.DataFrame({"id": np.arange(1, n["opportunities"] + 1), "account_id": opp_account})
        opp = opp.assign(**_stamp(len(opp)), name="", owner_id=rng.integers(2, n["users"] + 1, len(opp)),
                         stage=np.where(won, "Closed Won", np.where(closed, "Closed Lost", "Proposal")),
                         amount=np.round(np.exp(rng.normal(10, 1.0, len(opp))), 2), currency="USD",
                         created_date=pd.Series(created).dt.strftime("%Y-%m-%d"),
                         close_date=pd.Series(close).dt.strftime("%Y-%m-%d"), is_closed=closed, is_won=won, source="",
                         source_detail="", forecast_category="", lost_reason="", description="")
        _copy(crm.Opportunity, opp)
        log(f"  {len(opp):,} opportunities")
        # one contact role per deal: a contact of the deal's account where it has one
        first_contact = con.groupby("account_id")["id"].agg(["min", "count"])
        lo = first_contact["min"].reindex(opp_account).to_numpy()
        cnt = first_contact["count"].reindex(opp_account).to_numpy()
        has = ~np.isnan(lo)
        pick = (lo[has] + np.floor(rng.random(has.sum()) * cnt[has])).astype("int64")
        roles = pd.DataFrame({"id": np.arange(1, has.sum() + 1), **{k: v[: has.sum()] for k, v in _stamp(has.sum()).items()},
                              "opportunity_id": opp["id"].to_numpy()[has], "contact_id": pick,
                              "role": rng.choice(["decision_maker", "influencer", "user", "champion"], has.sum()),
                              "role_detail": "", "is_primary": True})
        _copy(crm.OpportunityContactRole, roles)
        log(f"  {len(roles):,} contact roles")
        chunk = 1_000_000
        made = 0
        while made < n["activities"]:
            k = min(chunk, n["activities"] - made)
            ids = np.arange(made + 1, made + k + 1)
            on_opp = rng.random(k) < 0.7
            opp_id = np.where(on_opp, rng.integers(1, n["opportunities"] + 1, k), 0)
            on_contact = ~on_opp & (rng.random(k) < 0.5)
            contact_id = np.where(on_contact, rng.integers(1, n["contacts"] + 1, k), 0)
            account_id = np.where(~on_opp & ~on_contact, rng.choice(acc["id"].to_numpy(), k, p=weight), 0)
            day = pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(0, 730, k), unit="D")
            act = pd.DataFrame({"id": ids, **{c: v[:k] for c, v in _stamp(k).items()},
                                "kind": rng.choice(["call", "email", "meeting", "task"], k), "direction": "",
                                "activity_date": pd.Series(day).dt.strftime("%Y-%m-%d"), "subject": "", "status": "",
                                "owner_id": rng.integers(2, n["users"] + 1, k),
                                "account_id": pd.array(np.where(account_id > 0, account_id, 0), dtype="Int64"),
                                "contact_id": pd.array(contact_id, dtype="Int64"), "opportunity_id": pd.array(opp_id, dtype="Int64")})
            for col in ("account_id", "contact_id", "opportunity_id"):
                act.loc[act[col] == 0, col] = pd.NA
            _copy(crm.Activity, act)
            made += k
            log(f"  {made:,} activities")
        ScoringModel.objects.all().delete()
        from dealpilot.planning.services import active_model, active_spec

        active_model()
        rated = [e for e in active_spec().elements if e.kind == "rated"]
        chosen = acc["id"].to_numpy()[rng.random(len(acc)) < 0.5]
        frames = []
        for e in rated:
            levels = [lv.level for lv in e.levels]
            frames.append(pd.DataFrame({"account_id": chosen, "element_key": e.key, "level": rng.choice(levels, len(chosen)),
                                        "note": "", "rated_at": "2026-11-01 00:00:00+00"}))
        ratings = pd.concat(frames, ignore_index=True)
        ratings.insert(0, "id", np.arange(1, len(ratings) + 1))
        _copy(AccountRating, ratings)
        log(f"  {len(ratings):,} ratings")
        with connection.cursor() as cursor:
            for model in (crm.User, crm.Account, crm.Contact, crm.Opportunity, crm.OpportunityContactRole, crm.Activity, AccountRating):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT MAX(id) FROM \"{table}\"))")
            cursor.execute("CREATE TABLE IF NOT EXISTS planning_bench_marker (scale text)")
            cursor.execute("DELETE FROM planning_bench_marker")
            cursor.execute("INSERT INTO planning_bench_marker VALUES (%s)", [repr(scale)])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(f"generated in {time.perf_counter() - t0:.1f} s")
    return n


def has_data(scale: float) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('planning_bench_marker') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT scale FROM planning_bench_marker")
        row = cursor.fetchone()
    return row is not None and row[0] == repr(scale)


# ---- the pandas implementation -------------------------------------------------------------------------


def read_frame(sql: str) -> pd.DataFrame:
    from django.db import connection

    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for data in copy:
                buffer.write(data)
    buffer.seek(0)
    return pd.read_csv(buffer)


def pandas_load() -> dict[str, pd.DataFrame]:
    return {
        "accounts": read_frame("SELECT id FROM crm_account"),
        "opportunities": read_frame("SELECT id, account_id, amount, is_closed::int AS is_closed, is_won::int AS is_won, close_date FROM crm_opportunity"),
        "contacts": read_frame("SELECT id, account_id, has_left::int AS has_left FROM crm_contact"),
        "roles": read_frame("SELECT opportunity_id, contact_id FROM crm_opportunitycontactrole"),
        "activities": read_frame("SELECT account_id, opportunity_id, contact_id, activity_date FROM crm_activity"),
        "ratings": read_frame("SELECT account_id, element_key, level FROM planning_accountrating"),
    }


def pandas_scores(f: dict[str, pd.DataFrame], spec, today: date) -> pd.DataFrame:
    """The scoring of planning/scoring.py, written independently with pandas."""
    ids = pd.Index(f["accounts"]["id"].sort_values().to_numpy(), name="account_id")
    opps = f["opportunities"].astype({"is_closed": bool, "is_won": bool})
    close = pd.to_datetime(opps["close_date"])
    start, end = pd.Timestamp(today - timedelta(days=spec.revenue_window_days)), pd.Timestamp(today)
    won = opps[opps["is_won"] & (close > start) & (close <= end)]
    open_ = opps[~opps["is_closed"]]
    measures = {"won_revenue": won.groupby("account_id")["amount"].sum(), "won_deals": won.groupby("account_id")["id"].count(),
                "open_pipeline": open_.groupby("account_id")["amount"].sum(), "open_deals": open_.groupby("account_id")["id"].count()}
    contacts = f["contacts"].astype({"has_left": bool})
    current = contacts[~contacts["has_left"]]
    roles = f["roles"].merge(opps[["id", "account_id"]].rename(columns={"id": "opportunity_id"}), on="opportunity_id")
    roles = roles[roles["contact_id"].isin(current["id"])].dropna(subset=["account_id"])
    measures["contact_coverage"] = roles.groupby("account_id")["contact_id"].nunique()
    measures["contacts"] = current.dropna(subset=["account_id"]).groupby("account_id")["id"].count()
    acts = f["activities"]
    account = acts["account_id"]
    account = account.fillna(acts["opportunity_id"].map(opps.set_index("id")["account_id"]))
    account = account.fillna(acts["contact_id"].map(contacts.set_index("id")["account_id"]))
    days = pd.to_datetime(acts["activity_date"])
    frame = pd.DataFrame({"account_id": account, "day": days}).dropna()
    frame = frame[frame["day"] <= end]
    measures["days_since_activity"] = (end - frame.groupby("account_id")["day"].max()).dt.days.astype("float64")
    measures["activities_90d"] = frame[frame["day"] > end - pd.Timedelta(days=90)].groupby("account_id")["day"].count()
    missing = {"days_since_activity": np.nan}
    out = pd.DataFrame(index=ids)
    totals = {"current": pd.Series(0.0, index=ids), "future": pd.Series(0.0, index=ids)}
    ratings = f["ratings"]
    for e in spec.elements:
        if e.kind == "computed":
            values = measures[e.metric].reindex(ids).astype("float64")
            if e.metric not in missing:
                values = values.fillna(0.0)
            points = pd.Series(float(e.levels[-1].points), index=ids)
            for lv in reversed(e.levels[:-1]):
                hit = values.notna() if lv.bounded else pd.Series(True, index=ids)
                if lv.min is not None:
                    hit &= values >= lv.min
                if lv.max is not None:
                    hit &= values <= lv.max
                points = points.mask(hit, float(lv.points))
        else:
            table = {lv.level: float(lv.points) for lv in e.levels}
            mine = ratings[ratings["element_key"] == e.key].set_index("account_id")["level"].map(table)
            points = mine.reindex(ids).fillna(min(table.values()))
        out[f"{e.key}.points"] = points
        totals[e.axis] += e.weight * points
    for axis in ("current", "future"):
        out[axis] = totals[axis] / sum(e.weight for e in spec.axis(axis))
    high_c, high_f = out["current"] > out["current"].median(), out["future"] > out["future"].median()
    out["quadrant"] = np.where(high_f, np.where(high_c, "A", "B"), np.where(high_c, "C", "D"))
    return out


# ---- runs --------------------------------------------------------------------------------------------------


def changed_weights(spec, k: int):
    """The model with the weights changed (a different change each run)."""
    from dealpilot.planning.scoring import parse_spec

    data = spec.model_dump()
    for i, e in enumerate(data["elements"]):
        e["weight"] = 5 + (i * 7 + k * 3) % 40
    return parse_spec(data)


def same_scores(ours, theirs: pd.DataFrame) -> None:
    frame = ours.frame
    assert np.allclose(frame["current"].to_numpy(), theirs["current"].to_numpy())
    assert np.allclose(frame["future"].to_numpy(), theirs["future"].to_numpy())
    assert (frame["quadrant"].to_numpy() == theirs["quadrant"].to_numpy()).all(), "quadrants differ"


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def plan_page(requests: int, log) -> list[float]:
    """Build the big account plan (once) and time its page."""
    from django.db import transaction
    from django.test import Client

    from dealpilot.crm.models import Account, Contact, PlanUnit, User
    from dealpilot.planning import services
    from dealpilot.planning.models import AccountPlan

    rep = User.objects.get(username="bench2")
    account = Account.objects.filter(name="Bench plan account").first()
    if account is None:
        with transaction.atomic():
            account = Account.objects.create(name="Bench plan account", owner=rep, currency="USD")
            units = [PlanUnit.objects.create(account=account, name=f"Unit {i:02d}") for i in range(50)]
            Contact.objects.bulk_create([Contact(account=account, plan_unit=units[i % 50], first_name="Person", last_name=f"{i:03d}",
                                                 title="Director") for i in range(200)])
            services.create_plan(rep, account.pk)
            for i, u in enumerate(units):
                scope = services.add_unit(rep, account.pk, u.pk, strategic=i % 5 == 0)
                services.update_unit(rep, scope.pk, goals="Grow the business", pressures="Costs", initiatives="New ERP",
                                     obstacles="Budget")
                objective = services.add_objective(rep, account.pk, "revenue", f"Grow {u.name}", unit_id=scope.pk, target_amount=100000)
                strategy = services.add_strategy(rep, objective.pk, "Land and expand")
                for j in range(2):
                    services.add_action(rep, strategy.pk, f"Action {j}", owner_id=rep.pk, due_date=TODAY + timedelta(days=j * 30))
    assert AccountPlan.objects.filter(account=account).exists()
    client = Client()
    client.force_login(rep)
    url = f"/planning/accounts/{account.pk}/plan/"
    assert client.get(url).status_code == 200  # warm-up
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    log(f"plan page: {len(response.content):,} bytes")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.01, help="1 = 100k accounts, 1M deals, 10M activities")
    parser.add_argument("--repeat", type=int, default=5, help="runs after a change of weights (median)")
    parser.add_argument("--page-requests", type=int, default=40)
    parser.add_argument("--write-docs", type=Path)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") or "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database of your own (the bench replaces its CRM records)")
    setup_django()
    from django.db import connection

    from dealpilot.planning.scoring import measure_cache
    from dealpilot.planning.selectors import _ratings, _scores, account_scores
    from dealpilot.planning.services import active_spec

    def log(message: str) -> None:
        print(message, flush=True)

    if not has_data(args.scale):
        log(f"generating the data set at scale {args.scale:g} ...")
        generate(args.scale, log)
    n = sizes(args.scale)
    spec = active_spec()
    from django.db.models import Count

    from dealpilot.crm.models import Activity, Opportunity

    counts = {"accounts": n["accounts"], "opportunities": Opportunity.objects.aggregate(n=Count("id"))["n"],
              "activities": Activity.objects.aggregate(n=Count("id"))["n"]}

    # dealpilot, cold: every measure from the database
    measure_cache.clear()
    _ratings.clear()
    _scores.clear()
    ours_cold, ours = timed(lambda: account_scores(spec, TODAY))
    # pandas, cold: the rows in, then the same scoring
    load_s, frames = timed(pandas_load)
    pandas_compute_s, theirs = timed(lambda: pandas_scores(frames, spec, TODAY))
    same_scores(ours, theirs)
    # after a change of weights
    ours_runs, theirs_runs = [], []
    for k in range(args.repeat):
        changed = changed_weights(spec, k)
        t, ours = timed(lambda: account_scores(changed, TODAY))
        ours_runs.append(t)
        t, theirs = timed(lambda: pandas_scores(frames, changed, TODAY))
        theirs_runs.append(t)
        same_scores(ours, theirs)
    quadrants = ours.frame["quadrant"].value_counts().to_dict()
    ours_warm, theirs_warm = statistics.median(ours_runs), statistics.median(theirs_runs)
    page = plan_page(args.page_requests, log)
    p50 = statistics.median(page)
    p95 = float(np.percentile(page, 95))

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    command = " ".join(["nice -n 10 .venv/bin/python bench/planning_bench.py"] + sys.argv[1:])
    lines = [
        f"Latest run, {date.today().isoformat()}, produced by (DATABASE_URL=postgres://postgres@127.0.0.1:5432/dp_plan):",
        "", "```", command, "```", "",
        f"Machine: {os.cpu_count()} CPU cores (shared); Python {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}, PostgreSQL {pg.split()[0]}.",
        "",
        f"Data: {counts['accounts']:,} accounts, {counts['opportunities']:,} opportunities, {counts['activities']:,} activities, "
        f"{n['contacts']:,} contacts; quadrants A/B/C/D: "
        + "/".join(f"{quadrants.get(q, 0):,}" for q in "ABCD") + ".",
        "",
        "| scoring every account | dealpilot | pandas | pandas / dealpilot |",
        "| --- | ---: | ---: | ---: |",
        f"| after a change of weights (median of {args.repeat}) | {ours_warm:.3f} s | {theirs_warm:.3f} s | {theirs_warm / ours_warm:.1f}x |",
        f"| cold: measures from the database, then scoring | {ours_cold:.2f} s | {load_s + pandas_compute_s:.2f} s "
        f"(read {load_s:.2f} + score {pandas_compute_s:.2f}) | {(load_s + pandas_compute_s) / ours_cold:.1f}x |",
        "",
        "| account-plan page (200 contacts, 50 plan units, 50 objectives, 100 actions) | p50 | p95 |",
        "| --- | ---: | ---: |",
        f"| GET /planning/accounts/ID/plan/, {args.page_requests} requests, server-side render | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms |",
        "",
        "- **after a change of weights**: dealpilot re-reads nothing but the data version (the highest id of each table)",
        "  and the ratings' version: the measures are cached per data version, so only the vectorised (numpy) scoring,",
        "  the medians and the quadrants run again. pandas regroups the frames it holds in memory (its read is not",
        "  counted). Both give the same scores and quadrants (checked on every run).",
        "- **cold**: dealpilot runs one aggregate query per measure on PostgreSQL (the activities joined to their",
        "  deal's or contact's account) and scores; pandas reads the raw rows (COPY to CSV into read_csv) and groups them.",
        "- **plan page**: Django's test client in the bench process (no network), the account's score included.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if args.write_docs:
        path = args.write_docs
        doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        block = f"{MARK.format('start')}\n## Account planning\n\n{text}\n{MARK.format('end')}"
        start, end = MARK.format("start"), MARK.format("end")
        if start in doc and end in doc:
            doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end):]
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(doc, encoding="utf-8")
        print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
