"""Analytics benchmark: the team dashboard's six metrics, cold and warm, on every engine, against
pandas and against the floor (one DuckDB scan of the columns the metrics read).

    .venv/bin/python bench/analytics_bench.py --scale 0.01          # 10k deals, 100k activities: a quick try
    nice -n 10 .venv/bin/python bench/analytics_bench.py --scale 1 --write-docs docs/benchmarks.md

Scale 1 is 1M opportunities (with 3-6 stage changes each), 10M activities, 100k accounts, 40 reps.

1. The records are generated with numpy (bench/analytics_data.py, seeded) and written straight into
   the app's migrated tables: a SQLite file under bench/out/ and a PostgreSQL database
   (dp_abench_big_<scale>_seed<seed>). Both are kept, keyed by scale and seed, so a re-run skips this.
2. The dashboard (`dashboard()` below: velocity by owner by quarter over 8 quarters, the levers
   between them, pipeline creation per rep and week over the window, the diagnosis of the last 13
   weeks, the pipeline meeting report, the forecast) is computed by
   - dealpilot, DuckDB engine, over SQLite and over PostgreSQL;
   - dealpilot, postgres engine (pushed down);
   - pandas (bench/analytics_pandas.py), over SQLite and over PostgreSQL;
   and the floor (one DuckDB query summing every column the metrics read, over the same Arrow copies
   dealpilot's DuckDB engine scans) is timed too.
3. Each runs in fresh processes (--repeat of them): **cold** is the first dashboard of the process,
   records loaded from the database included (Python's and Django's start-up are not: shown apart);
   **warm** is the dashboard again in the same process (cache hit: --repeat times). Medians are
   reported, with each process's peak resident memory (getrusage).
4. The pandas baseline's velocity rows must equal dealpilot's (checked on every run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "src"), str(BENCH)]

import analytics_data as data  # noqa: E402

MARKERS = "<!-- analytics_bench.py {}: {} -->"
PG_BASE = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")

# The dashboard's dates: 8 quarters up to the current one; today is the generator's TODAY.
TODAY = data.TODAY
WINDOW = (date(2025, 1, 1), date(2026, 12, 31))
DIAGNOSIS_START = TODAY - timedelta(weeks=13) + timedelta(days=1)
MEETING_DAY = TODAY + timedelta(days=1)


# ---- the dashboard, with dealpilot -----------------------------------------------------------------


def dashboard(f) -> dict:
    """Every metric of the team dashboard, for all reps, as the pages would ask for them."""
    from dealpilot.analytics import metrics as m

    start, end = WINDOW
    return {
        "velocity": m.velocity(f, "owner", "quarter", start, end),
        "levers": m.levers(f, "owner", "quarter", start, end),
        "pipeline_creation": m.pipeline_creation(f, start, TODAY),
        "diagnosis": m.diagnosis(f, DIAGNOSIS_START, TODAY),
        "meeting": m.meeting_report(f, MEETING_DAY),
        "forecast": m.forecast(f, TODAY),
    }


def pandas_dashboard(tables: dict) -> dict:
    import analytics_pandas as pdb

    return pdb.dashboard(tables, WINDOW, TODAY, DIAGNOSIS_START, MEETING_DAY)


FLOOR_SQL = """
SELECT
 (SELECT sum(id) + sum(owner_id) + sum(account_id) + sum(amount::DOUBLE) + sum(probability::DOUBLE)
         + sum(length(stage)) + sum(length(source)) + sum(length(name)) + sum(created_date - DATE '1970-01-01')
         + sum(close_date - DATE '1970-01-01') + sum(is_closed::INT) + sum(is_won::INT) FROM opportunities) AS o,
 (SELECT sum(id) + sum(opportunity_id) + sum(product_id) FROM line_items) AS li,
 (SELECT sum(id) + sum(opportunity_id) + sum(length(stage)) + sum(probability::DOUBLE)
         + sum(close_date - DATE '1970-01-01') + sum(epoch(changed_at)) FROM stage_history) AS h,
 (SELECT sum(id) + sum(owner_id) + sum(opportunity_id) + sum(activity_date - DATE '1970-01-01') FROM activities) AS a,
 (SELECT sum(owner_id) + sum(amount::DOUBLE) + sum(period_start - DATE '1970-01-01')
         + sum(period_end - DATE '1970-01-01') FROM targets) AS t,
 (SELECT sum(id) + sum(length(region)) FROM accounts) AS ac,
 (SELECT sum(id) + sum(team_id) + sum(length(full_name)) FROM users) AS u
"""


# ---- workers (each runs in its own process) --------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_load(scale: float, seed: int) -> dict:
    """Generate and write the records into the (migrated, empty) database of DATABASE_URL."""
    from django.db import connection

    started = time.perf_counter()
    tables = data.generate(scale, seed)
    generated = time.perf_counter() - started
    if connection.vendor == "sqlite":
        data.sqlite_fast_pragmas()
    written = data.load(tables, fast=True, progress=lambda msg: print(f"    {msg}", file=sys.stderr, flush=True))
    loaded = time.perf_counter() - started - generated
    if connection.vendor == "postgresql":
        connection.close()
        with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"rows": written, "generate_s": round(generated, 1), "write_s": round(loaded, 1),
            "total_s": round(time.perf_counter() - started, 1)}


def worker_dealpilot(engine: str, warm: int) -> dict:
    from dealpilot.analytics.frames import arrow_cache, frames_for

    rss_start = peak_rss()
    t0 = time.perf_counter()
    result = dashboard(frames_for(None, engine))
    cold = time.perf_counter() - t0
    loads = arrow_cache.loads
    warm_s = []
    for _ in range(warm):
        t0 = time.perf_counter()
        dashboard(frames_for(None, engine))
        warm_s.append(time.perf_counter() - t0)
    assert arrow_cache.loads == loads, "a warm dashboard reloaded records"
    return {"cold": cold, "warm": warm_s, "rss": peak_rss(), "rss_start": rss_start, "velocity": result["velocity"],
            "sizes": {k: len(v) if isinstance(v, list) else len(v.get("rows", v)) for k, v in result.items()}}


def worker_pandas(warm: int) -> dict:
    import analytics_pandas as pdb
    from django.db import connection

    connection.ensure_connection()
    rss_start = peak_rss()
    t0 = time.perf_counter()
    tables = pdb.read_tables(connection.connection)
    read = time.perf_counter() - t0
    result = pandas_dashboard(tables)
    cold = time.perf_counter() - t0
    warm_s = []
    for _ in range(warm):
        t0 = time.perf_counter()
        pandas_dashboard(tables)
        warm_s.append(time.perf_counter() - t0)
    return {"cold": cold, "read": read, "warm": warm_s, "rss": peak_rss(), "rss_start": rss_start,
            "velocity": result["velocity"]}


def worker_floor(warm: int) -> dict:
    import duckdb

    from dealpilot.analytics.frames import SOURCES, arrow_cache

    con = duckdb.connect()
    rss_start = peak_rss()
    t0 = time.perf_counter()
    for name in SOURCES:
        con.register(name, arrow_cache.get(name))
    load = time.perf_counter() - t0
    times = []
    for _ in range(max(3, warm)):
        t0 = time.perf_counter()
        con.execute(FLOOR_SQL).fetchall()
        times.append(time.perf_counter() - t0)
    return {"cold": load + times[0], "warm": times, "rss": peak_rss(), "rss_start": rss_start}


WORKERS = {"dealpilot": worker_dealpilot, "pandas": worker_pandas, "floor": worker_floor}


def worker_main(args) -> int:
    t0 = time.perf_counter()
    setup_django()
    startup = time.perf_counter() - t0
    if args.worker == "load":
        out = worker_load(args.scale, args.seed)
    elif args.worker == "dealpilot":
        out = worker_dealpilot(args.engine, args.warm)
    else:
        out = WORKERS[args.worker](args.warm)
    out["startup"] = startup
    print("RESULT " + json.dumps(out, default=str))
    return 0


# ---- the orchestration -----------------------------------------------------------------------------


def scale_tag(scale: float) -> str:
    return f"{scale:g}".replace(".", "p").replace("-", "m")


def python() -> str:
    return sys.executable


def run_worker(env: dict, *argv: str) -> dict:
    cmd = [python(), str(Path(__file__).resolve()), "--worker", *argv]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {' '.join(argv)} failed:\n{proc.stderr[-4000:]}")
    sys.stderr.write("".join(line + "\n" for line in proc.stderr.splitlines() if line.startswith("    ")))
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def migrate(env: dict) -> None:
    exe = Path(python()).with_name("dealpilot")
    subprocess.run([str(exe), "manage", "migrate", "-v", "0"], env=env, check=True)


def pg_admin(sql: str) -> str:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        cursor = conn.execute(sql)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def ensure_sqlite(out: Path, scale: float, seed: int, env: dict) -> tuple[str, dict]:
    path = out / f"analytics-{scale_tag(scale)}-seed{seed}.sqlite3"
    done = path.with_suffix(".json")
    url = f"sqlite:///{path}"
    if done.exists() and path.exists():
        return url, {**json.loads(done.read_text()), "reused": True}
    for p in (path, done, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    print(f"loading SQLite {path.name} ...", file=sys.stderr, flush=True)
    env = {**env, "DATABASE_URL": url}
    migrate(env)
    info = run_worker(env, "load", "--scale", str(scale), "--seed", str(seed))
    done.write_text(json.dumps(info))
    return url, {**info, "reused": False}


def ensure_postgres(scale: float, seed: int, env: dict) -> tuple[str, dict]:
    name = f"dp_abench_big_{scale_tag(scale)}_seed{seed}"
    url = f"{PG_BASE}/{name}"
    comment = pg_admin(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'")
    if comment and comment.startswith("loaded "):
        return url, {**json.loads(comment[len("loaded "):]), "reused": True}
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    pg_admin(f'CREATE DATABASE "{name}"')
    print(f"loading PostgreSQL {name} ...", file=sys.stderr, flush=True)
    env = {**env, "DATABASE_URL": url}
    migrate(env)
    info = run_worker(env, "load", "--scale", str(scale), "--seed", str(seed))
    pg_admin(f"COMMENT ON DATABASE \"{name}\" IS 'loaded {json.dumps(info)}'")
    return url, {**info, "reused": False}


def measure(name: str, env: dict, repeat: int, warm: int, *argv: str) -> dict:
    """`repeat` fresh processes of one worker; medians of their cold and warm times."""
    print(f"  {name} ...", file=sys.stderr, flush=True)
    runs = [run_worker(env, *argv, "--warm", str(warm)) for _ in range(repeat)]
    out = {
        "name": name,
        "cold": statistics.median(r["cold"] for r in runs),
        "warm": statistics.median(w for r in runs for w in r["warm"]),
        "rss": statistics.median(r["rss"] for r in runs),
        "rss_start": statistics.median(r["rss_start"] for r in runs),
        "startup": statistics.median(r["startup"] for r in runs),
        "cold_all": [round(r["cold"], 2) for r in runs],
        "velocity": runs[0].get("velocity"),
        "sizes": runs[0].get("sizes"),
    }
    if "read" in runs[0]:
        out["read"] = statistics.median(r["read"] for r in runs)
    print(f"    cold {out['cold']:.2f} s, warm {out['warm']:.3f} s, peak RSS {mib(out['rss'])}", file=sys.stderr, flush=True)
    return out


def mib(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"


def seconds(x: float) -> str:
    return f"{x:,.2f}" if x >= 1 else f"{x:.3f}"


def same_velocity(a: list[dict], b: list[dict]) -> bool:
    key = lambda r: (r["group"], r["period"])  # noqa: E731
    return sorted(a, key=key) == sorted(b, key=key)


def machine() -> dict:
    import sqlite3

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    info = {"cpu": f"{os.cpu_count()} x {cpu}", "memory": f"{mem / 2**30:.0f} GiB", "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}
    try:
        info["postgresql"] = pg_admin("SHOW server_version")
    except Exception:  # noqa: BLE001
        pass
    import duckdb
    import ibis
    import pandas
    import pyarrow

    info["libs"] = f"DuckDB {duckdb.__version__}, Ibis {ibis.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}"
    return info


def results_table(results: list[dict], floor: dict, pandas_by_db: dict) -> list[str]:
    lines = ["| computed by | database | cold s | warm s | warm vs floor | pandas warm / this | cold: pandas / this | peak RSS |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        p = pandas_by_db.get(r["db"])
        is_pandas = r["name"].startswith("pandas")
        vs_pandas = "" if is_pandas or not p else f"{p['warm'] / r['warm']:.1f}x"
        cold_pandas = "" if is_pandas or not p else f"{p['cold'] / r['cold']:.1f}x"
        rss = mib(r["rss"]) + (" (+ server)" if r["db"] == "PostgreSQL" and "postgres engine" in r["name"] else "")
        lines.append(f"| {r['name']} | {r['db']} | {seconds(r['cold'])} | {seconds(r['warm'])} | "
                     f"{r['warm'] / floor['warm']:.1f}x | {vs_pandas} | {cold_pandas} | {rss} |")
    first = next(iter(pandas_by_db.values()))
    lines.append(f"| floor: one DuckDB scan of the columns read | ({first['db']}, Arrow copies) | {seconds(floor['cold'])} | "
                 f"{seconds(floor['warm'])} | 1.0x | {first['warm'] / floor['warm']:.0f}x | | {mib(floor['rss'])} |")
    return lines


def goals(results: list[dict], floor: dict, pandas_by_db: dict) -> list[str]:
    """The issue's goals, met or not, for each dealpilot engine."""
    out = []
    for r in results:
        if r["name"].startswith("pandas"):
            continue
        p = pandas_by_db.get(r["db"])
        within = r["warm"] / floor["warm"]
        faster = p["warm"] / r["warm"] if p else None
        out.append(f"- {r['name']} on {r['db']}: warm {within:.1f}x the floor (goal <= 10x: {'met' if within <= 10 else 'missed'}); "
                   + (f"{faster:.1f}x faster than pandas warm (goal >= 5x: {'met' if faster >= 5 else 'missed'}); " if p else "")
                   + f"cold {r['cold']:.1f} s (goal < 10 s: {'met' if r['cold'] < 10 else 'missed'})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1.0 = 1M opportunities and 10M activities (default 0.1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (cold: median of them)")
    parser.add_argument("--warm", type=int, default=3, help="warm dashboards per process")
    parser.add_argument("--skip", action="append", default=[], choices=["sqlite", "postgres", "pandas", "postgres-engine"],
                        help="leave a database, the pandas baseline or the postgres engine out")
    parser.add_argument("--load-only", action="store_true", help="only generate and load the databases (kept for later runs)")
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--write-docs", type=Path, help="replace this benchmark's section of that Markdown file")
    parser.add_argument("--docs-section", default=None, help="name of the docs section (default: the scale)")
    parser.add_argument("--worker", choices=["load", "dealpilot", "pandas", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)

    started = time.perf_counter()
    command = ".venv/bin/python bench/analytics_bench.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = args.out / "data-dir"
    data_dir.mkdir(exist_ok=True)
    env = {**os.environ, "DEALPILOT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "dealpilot.settings"}
    n = data.counts(args.scale)
    print(f"scale {args.scale:g}: {n['opportunities']:,} opportunities, {n['activities']:,} activities", file=sys.stderr)
    dbs, loads = {}, {}
    if "sqlite" not in args.skip:
        dbs["SQLite"], loads["SQLite"] = ensure_sqlite(args.out, args.scale, args.seed, env)
    if "postgres" not in args.skip:
        dbs["PostgreSQL"], loads["PostgreSQL"] = ensure_postgres(args.scale, args.seed, env)
    if not dbs:
        raise SystemExit("nothing to measure")
    if args.load_only:
        for db, load in loads.items():
            print(f"{db}: {load}")
        return 0

    results, pandas_by_db, floor = [], {}, None
    for db, url in dbs.items():
        db_env = {**env, "DATABASE_URL": url}
        if floor is None:
            floor = measure("floor", db_env, args.repeat, args.warm, "floor")
        results.append({**measure(f"dealpilot, DuckDB engine", db_env, args.repeat, args.warm, "dealpilot", "--engine", "duckdb"),
                        "db": db})
        if db == "PostgreSQL" and "postgres-engine" not in args.skip:
            results.append({**measure("dealpilot, postgres engine (pushed down)", db_env, args.repeat, args.warm,
                                      "dealpilot", "--engine", "postgres"), "db": db})
        if "pandas" not in args.skip:
            pandas_by_db[db] = {**measure("pandas", db_env, args.repeat, args.warm, "pandas"), "db": db}
            results.append(pandas_by_db[db])

    reference = results[0]["velocity"]
    checks = []
    for r in results[1:]:
        checks.append((f"{r['name']} on {r['db']}", same_velocity(reference, r["velocity"])))
    ok = all(same for _, same in checks)
    lines = results_table(results, floor, pandas_by_db) if pandas_by_db else []
    lines += ["", *goals(results, floor, pandas_by_db)]
    info = machine()
    print("\n".join(lines))
    print(f"\nvelocity rows ({len(reference)}) identical to dealpilot's DuckDB engine on {results[0]['db']}: "
          + ", ".join(f"{name}: {'yes' if same else 'NO'}" for name, same in checks))
    for db, load in loads.items():
        print(f"{db}: {load}")
    print(f"machine: {info}\ntotal {time.perf_counter() - started:,.0f} s")
    if args.write_docs:
        write_docs(args.write_docs, args.docs_section or f"scale {args.scale:g}", command, args, n, results, floor,
                   pandas_by_db, checks, loads, info, lines)
    return 0 if ok else 1


def write_docs(path: Path, section: str, command: str, args, n: dict, results, floor, pandas_by_db, checks, loads, info,
               lines) -> None:
    start, end = MARKERS.format("start", section), MARKERS.format("end", section)
    text = [
        start,
        f"Latest run, {datetime.now(timezone.utc):%Y-%m-%d}, produced by:",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {info['cpu']}, {info['memory']} RAM; Python {info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "") + f"; {info['libs']}.",
        "",
        f"Data (scale {args.scale:g}, seed {args.seed}): {n['opportunities']:,} opportunities with "
        f"{next(iter(loads.values()))['rows']['crm_stagehistory']:,} stage changes, {n['activities']:,} activities, "
        f"{max(n['accounts'], 50):,} accounts, {data.rep_count(n['opportunities'])} reps.",
        "",
        *lines,
        "",
        f"Medians of {args.repeat} fresh processes (cold) and of {args.warm} dashboards in each (warm). **cold**: the first",
        "dashboard of a fresh process, records read from the database included (for the floor: reading every",
        "copy with dealpilot's reader plus one scan); Python's and Django's start-up come on top (median "
        f"{statistics.median(r['startup'] for r in results):.1f} s). **warm**: the dashboard again in the same process. **peak RSS**: the process's",
        "peak resident memory (the postgres engine's work happens in the server, not counted).",
        "",
        "Velocity rows identical to dealpilot's DuckDB engine on " + results[0]["db"] + ": "
        + ", ".join(f"{name}: {'yes' if same else 'NO'}" for name, same in checks) + ".",
        "",
        "Loading the generated records (numpy columns written with COPY / one executemany transaction):",
        *[f"- {db}: generated in {x['generate_s']} s, written in {x['write_s']} s"
          + (" (database reused from an earlier run)" if x.get("reused") else "") for db, x in loads.items()],
        end,
    ]
    block = "\n".join(text)
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        current = before + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current)


if __name__ == "__main__":
    sys.exit(main())
