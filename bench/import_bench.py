"""Import benchmark: dealpilot's Salesforce import on SQLite and PostgreSQL, against PostgreSQL COPY.

    .venv/bin/python bench/import_bench.py                       # 10k accounts, 100k deals, 500k activities
    .venv/bin/python bench/import_bench.py --accounts 100000 --opportunities 1000000 --activities 5000000 \
        --write-docs docs/benchmarks.md

1. Generates a Salesforce export with dealpilot.demo.generator (once per scale; kept in --out).
2. Imports it the way a user does, `dealpilot import salesforce DIR --database-url ...`, in a
   subprocess, into (a) a fresh SQLite file and (b) a fresh PostgreSQL database; the wall time
   includes the command's start-up; the peak resident memory is the subprocess's own (wait4).
3. The ceiling: the same rows of the main files (Account, Contact, Opportunity, Task, Event)
   loaded with PostgreSQL COPY into the same migrated tables of another fresh database. The rows
   are turned into the tables' columns first (ids resolved to keys), outside the timing; only the
   COPY and its commit are timed.
4. Memory must stay flat whatever the size of the export: the two imports run again at a tenth of
   the scale (--memory-scale) and both peaks are shown.

Re-imports (--reimport): into one fresh database per backend, the first import, then a re-import of
the same export, of a re-written identical export (same rows, every file rewritten in another row
order with every cell quoted: new bytes), and of an export with 1% of the opportunities changed;
each against the first import measured in the same run:

    .venv/bin/python bench/import_bench.py --reimport --accounts 10000 --opportunities 100000 --activities 20000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MAIN_FILES = ("Account.csv", "Contact.csv", "Opportunity.csv", "Task.csv", "Event.csv")
MARKERS = "<!-- import_bench.py {}: {} -->"  # around each generated block of the docs (start / end)


@dataclass
class Run:
    name: str
    scale: str
    rows: int
    seconds: float
    peak_rss: int | None  # bytes
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# ---- the export -------------------------------------------------------------------------------


def scale_name(accounts: int, opportunities: int, activities: int) -> str:
    def short(n: int) -> str:
        if n >= 1_000_000 and n % 100_000 == 0:
            return f"{n / 1_000_000:g}M"
        return f"{n / 1000:g}k" if n >= 1000 and n % 100 == 0 else str(n)

    return f"{short(accounts)}/{short(opportunities)}/{short(activities)}"


def ensure_export(out: Path, accounts: int, opportunities: int, activities: int, seed: int) -> tuple[Path, dict]:
    """The export for this scale, generated unless an earlier run left it complete."""
    from dealpilot.demo.generator import write_salesforce_export

    folder = out / f"export-{accounts}-{opportunities}-{activities}-seed{seed}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        info["reused"] = True
        return folder, info
    print(f"generating {scale_name(accounts, opportunities, activities)} export in {folder} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    counts = write_salesforce_export(folder, accounts=accounts, opportunities=opportunities, activities=activities,
                                     seed=seed)
    seconds = time.perf_counter() - start
    info = {"counts": counts, "rows": sum(counts.values()), "seconds": round(seconds, 1),
            "bytes": sum(p.stat().st_size for p in folder.glob("*.csv"))}
    manifest.write_text(json.dumps(info, indent=1))
    info["reused"] = False
    return folder, info


# ---- running the importer ---------------------------------------------------------------------


def dealpilot_exe() -> str:
    exe = Path(sys.executable).with_name("dealpilot")
    return str(exe) if exe.exists() else "dealpilot"


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, int, int]:
    """Run cmd; return (seconds, exit status, peak RSS in bytes of that process and its waited-for children)."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, proc.returncode, usage.ru_maxrss * 1024


def import_run(name: str, scale: str, export: Path, database_url: str, data_dir: Path, log: Path) -> Run:
    env = {**os.environ, "DATABASE_URL": database_url, "DEALPILOT_DATA_DIR": str(data_dir)}
    # the schema first, so that the timing is the import's (the import command migrates too: a no-op then)
    subprocess.run([dealpilot_exe(), "manage", "migrate", "-v", "0"], env=env, check=True)
    print(f"  {name} at {scale} ...", file=sys.stderr, flush=True)
    seconds, status, rss = measured([dealpilot_exe(), "import", "salesforce", str(export)], env, log)
    summary = log.read_text().strip().splitlines()[-1:] or [""]
    if status != 0:
        raise SystemExit(f"{name} failed (exit {status}); see {log}")
    rows = int(summary[0].split(" rows read")[0].replace(",", ""))
    return Run(name, scale, rows, seconds, rss, summary[0])


# ---- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    def __init__(self, base_url: str):
        import psycopg

        self.base_url = base_url.rstrip("/")
        self.admin = psycopg.connect(f"{self.base_url}/postgres", autocommit=True)
        self.created: list[str] = []

    def fresh(self, name: str) -> str:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{self.base_url}/{name}"

    def version(self) -> str:
        return self.admin.execute("SHOW server_version").fetchone()[0]

    def drop_all(self) -> None:
        for name in self.created:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created = []


def copy_ceiling(export: Path, database_url: str, data_dir: Path, work: Path, scale: str) -> Run:
    """PostgreSQL COPY of the main files' rows into the migrated tables of a fresh database: the
    fastest any loader could put these rows into these tables."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEALPILOT_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    print(f"  COPY ceiling at {scale}: preparing the rows ...", file=sys.stderr, flush=True)
    tables, rows = _prepare_copy(export, work)
    print(f"  COPY ceiling at {scale}: COPY ...", file=sys.stderr, flush=True)
    raw = connection.cursor().connection  # the psycopg connection
    raw.autocommit = False
    start = time.perf_counter()
    split = []
    with raw.cursor() as cur:
        for table, columns, path in tables:
            cols = ", ".join(f'"{c}"' for c in columns)
            t = time.perf_counter()
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy, open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            split.append(f"{table} {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    raw.commit()  # deferred foreign-key checks run here
    split.append(f"commit {time.perf_counter() - t:.1f}s")
    seconds = time.perf_counter() - start
    print(f"  COPY: {', '.join(split)}", file=sys.stderr, flush=True)
    for _, _, path in tables:
        path.unlink()
    return Run("PostgreSQL COPY (ceiling)", scale, rows, seconds, None, "main files only: " + ", ".join(MAIN_FILES))


def _prepare_copy(export: Path, work: Path) -> tuple[list[tuple[str, list[str], Path]], int]:
    """Turn the export's main files into CSVs of the tables' own columns. Users are inserted with
    the ORM (a few dozen rows, not timed); ids become primary keys in order of appearance."""
    from dealpilot.crm.models import Account, Activity, Contact, Opportunity, User
    from dealpilot.imports.mapping import TRANSFORMS

    size_band, region = TRANSFORMS["size_band"], TRANSFORMS["region"]
    users = {}
    for row in _rows(export / "User.csv"):
        users[row["Id"]] = User.objects.create(crm_id=row["Id"], username=row["Username"], first_name=row["FirstName"],
                                               last_name=row["LastName"], email=row["Email"], password="!").pk
    now = datetime.now(timezone.utc).isoformat()
    null = "\\N"
    work.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, list[str], Path]] = []
    total = 0

    def table(model, columns, produce) -> None:
        nonlocal total
        path = work / f"{model._meta.db_table}.csv"
        n = 0
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            for values in produce():
                w.writerow(values)
                n += 1
        total += n
        out.append((model._meta.db_table, columns, path))

    common = ["id", "crm_id", "extra", "created_at", "updated_at"]
    accounts: dict[str, int] = {}

    def account_rows():
        for pk, r in enumerate(_rows(export / "Account.csv"), start=1):
            accounts[r["Id"]] = pk
            extra = json.dumps({k: v for k, v in r.items() if k.endswith("__c") and v})
            yield (pk, r["Id"], extra, now, now, r["Name"], r["Industry"], r["NumberOfEmployees"] or null,
                   size_band(r["NumberOfEmployees"]) if r["NumberOfEmployees"] else "", region(r["BillingCountry"]),
                   r["BillingCountry"], r["AnnualRevenue"] or null, r.get("CurrencyIsoCode") or "USD",
                   accounts.get(r["ParentId"], null), users.get(r["OwnerId"], null))

    table(Account, common + ["name", "industry", "employees", "size", "region", "country", "annual_revenue", "currency",
                             "parent_id", "owner_id"], account_rows)

    contacts: dict[str, int] = {}

    def contact_rows():
        for pk, r in enumerate(_rows(export / "Contact.csv"), start=1):
            contacts[r["Id"]] = pk
            yield (pk, r["Id"], "{}", now, now, accounts.get(r["AccountId"], null), null, r["FirstName"], r["LastName"],
                   r["Title"], r["Email"], r["Phone"], contacts.get(r["ReportsToId"], null),
                   users.get(r["OwnerId"], null), "false")

    table(Contact, common + ["account_id", "plan_unit_id", "first_name", "last_name", "title", "email", "phone",
                             "reports_to_id", "owner_id", "has_left"], contact_rows)

    opportunities: dict[str, int] = {}
    sources = {"Web": "inbound", "Phone Inquiry": "inbound", "Advertisement": "inbound", "Trade Show": "inbound",
               "Partner Referral": "referral", "Employee Referral": "referral", "External Referral": "referral",
               "Purchased List": "outbound", "RFP": "blind_rfp"}

    def opportunity_rows():
        for pk, r in enumerate(_rows(export / "Opportunity.csv"), start=1):
            opportunities[r["Id"]] = pk
            extra = json.dumps({k: v for k, v in r.items() if k.endswith("__c") and v})
            yield (pk, r["Id"], extra, now, now, r["Name"], accounts.get(r["AccountId"], null), users.get(r["OwnerId"], null),
                   r["StageName"], r["Amount"] or null, r["CurrencyIsoCode"] or "USD", r["CreatedDate"][:10],
                   r["CloseDate"] or null, r["IsClosed"], r["IsWon"], sources.get(r["LeadSource"], "other"),
                   r["LeadSource"], r["Probability"] or null, r["ForecastCategoryName"], r["Loss_Reason__c"],
                   r["Description"])

    table(Opportunity, common + ["name", "account_id", "owner_id", "stage", "amount", "currency", "created_date",
                                 "close_date", "is_closed", "is_won", "source", "source_detail", "probability",
                                 "forecast_category", "lost_reason", "description"], opportunity_rows)

    kinds = {"Call": "call", "Email": "email", "Task": "task"}

    def activity_rows():
        pk = 0
        for name in ("Task.csv", "Event.csv"):
            for r in _rows(export / name):
                pk += 1
                what = r["WhatId"]
                yield (pk, r["Id"], "{}", now, now, kinds.get(r.get("TaskSubtype", ""), "meeting" if name == "Event.csv" else "task"),
                       (r.get("CallType") or "").lower(), r["ActivityDate"], r["Subject"], r.get("Status", ""),
                       users.get(r["OwnerId"], null), accounts.get(what, null) if what.startswith("001") else null,
                       contacts.get(r["WhoId"], null), opportunities.get(what, null) if what.startswith("006") else null)

    table(Activity, common + ["kind", "direction", "activity_date", "subject", "status", "owner_id", "account_id",
                              "contact_id", "opportunity_id"], activity_rows)
    return out, total


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


# ---- report -------------------------------------------------------------------------------------


def mib(n: int | None) -> str:
    return "n/a (server)" if n is None else f"{n / 2**20:,.0f} MiB"


def table(runs: list[Run], copy_rate: float | None) -> list[str]:
    lines = ["| run | scale (accounts/deals/activities) | rows | seconds | rows/s | vs COPY | peak RSS |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        ratio = f"{r.rate / copy_rate:.2f}x" if copy_rate else "-"
        lines.append(f"| {r.name} | {r.scale} | {r.rows:,} | {r.seconds:,.1f} | {r.rate:,.0f} | {ratio} | {mib(r.peak_rss)} |")
    return lines


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")) * 1024
    except (OSError, StopIteration):
        mem = 0
    return {"cpu": f"{os.cpu_count()} x {cpu}", "memory": f"{mem / 2**30:.0f} GiB", "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server URL without a database name")
    parser.add_argument("--memory-scale", type=float, default=0.1,
                        help="also import at this fraction of the scale, to compare peak memory (0: skip)")
    parser.add_argument("--skip", action="append", default=[], choices=["sqlite", "postgres", "copy"])
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--write-docs", type=Path, help="write the results into this markdown file")
    parser.add_argument("--docs-section", help="name of the block of --write-docs to replace (default: the scale)")
    parser.add_argument("--reimport", action="store_true",
                        help="measure re-imports (same export, re-written export, 1%% changed) against the first import")
    args = parser.parse_args(argv)
    command = shlex.join([".venv/bin/python", "bench/import_bench.py", *(argv if argv is not None else sys.argv[1:])])
    if args.reimport:
        return reimport_main(args, command)

    args.out.mkdir(parents=True, exist_ok=True)
    scales = [(args.accounts, args.opportunities, args.activities)]
    if args.memory_scale:
        f = args.memory_scale
        scales.insert(0, (max(1, int(args.accounts * f)), int(args.opportunities * f), int(args.activities * f)))
    pg = Postgres(args.postgres) if not {"postgres", "copy"} <= set(args.skip) else None
    runs: list[Run] = []
    generated: list[tuple[str, dict]] = []
    copy_rate = None
    tag = f"dealpilot_bench_{os.getpid()}"
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="dealpilot-bench-") as tmp:
            tmp_path = Path(tmp)
            for k, (a, o, act) in enumerate(scales):
                scale = scale_name(a, o, act)
                main_scale = k == len(scales) - 1
                export, info = ensure_export(args.out, a, o, act, args.seed)
                generated.append((scale, info))
                if "sqlite" not in args.skip:
                    db = args.out / f"bench-{k}.sqlite3"
                    for p in args.out.glob(f"bench-{k}.sqlite3*"):
                        p.unlink()
                    runs.append(import_run("dealpilot import, SQLite", scale, export, f"sqlite:///{db}",
                                           tmp_path / f"sqlite-{k}", args.out / f"import-sqlite-{k}.log"))
                    if not args.keep:
                        for p in args.out.glob(f"bench-{k}.sqlite3*"):
                            p.unlink()
                if "postgres" not in args.skip:
                    url = pg.fresh(f"{tag}_import_{k}")
                    runs.append(import_run("dealpilot import, PostgreSQL", scale, export, url, tmp_path / f"pg-{k}",
                                           args.out / f"import-postgres-{k}.log"))
                if main_scale and "copy" not in args.skip:
                    url = pg.fresh(f"{tag}_copy")
                    run = copy_ceiling(export, url, tmp_path / "copy", args.out / "copy-rows", scale)
                    runs.append(run)
                    copy_rate = run.rate
                    from django.db import connection

                    connection.close()
    finally:
        if pg is not None and not args.keep:
            pg.drop_all()

    info = machine()
    if pg is not None:
        info["postgresql"] = pg.version()
    lines = table(runs, copy_rate)
    gen_lines = [f"- {scale}: {g['rows']:,} rows ({g['bytes'] / 2**20:,.0f} MiB of CSV) written in {g['seconds']:,.1f} s "
                 f"= {g['rows'] / g['seconds']:,.0f} rows/s" + (" (export reused from an earlier run)" if g.get("reused") else "")
                 for scale, g in generated]
    print("\n".join(lines))
    print("\ngenerator:\n" + "\n".join(gen_lines))
    print(f"\nmachine: {info}\ntotal {time.perf_counter() - started:,.0f} s")
    if args.write_docs:
        section = args.docs_section or scale_name(args.accounts, args.opportunities, args.activities)
        write_docs(args.write_docs, section, command, runs, lines, gen_lines, info, generated)
    return 0


def write_docs(path: Path, section: str, command: str, runs: list[Run], lines, gen_lines, info, generated) -> None:
    start, end = MARKERS.format("start", section), MARKERS.format("end", section)
    counts = generated[-1][1]["counts"]
    peaks = {}
    for r in runs:
        if r.peak_rss is not None:
            peaks.setdefault(r.name, []).append(f"{mib(r.peak_rss)} at {r.scale}")
    text = [
        start,
        f"Latest run, {datetime.now(timezone.utc):%Y-%m-%d}, produced by:",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {info['cpu']}, {info['memory']} RAM; Python {info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "") + ".",
        "",
        *lines,
        "",
        "- **rows**: for the imports, every row of every file of the export (the one-line summary the",
        "  command prints); for COPY, the rows of the main files only (" + ", ".join(MAIN_FILES) + "), which",
        "  it loads into the same migrated tables with ids already turned into keys (that preparation is",
        "  not timed). **vs COPY** compares rows per second.",
        "- **seconds**: wall time of `dealpilot import salesforce DIR` in a subprocess, start-up included",
        "  (the schema is migrated before, untimed); for COPY, the COPY statements and their commit.",
        "- **peak RSS**: the importing process's peak resident memory (`wait4`); a streaming import",
        "  should not grow with the size of the export; the peaks at the two scales:",
        *[f"  - {name}: " + ", ".join(p) for name, p in peaks.items()],
        "",
        f"The export at {generated[-1][0]} (dealpilot.demo.generator, seed 7) has these files:",
        "",
        "| file | rows |",
        "| --- | ---: |",
        *[f"| {name} | {n:,} |" for name, n in counts.items()],
        "",
        "Generating it:",
        "",
        *gen_lines,
        end,
    ]
    block = "\n".join(text)
    # Only the generated block is replaced: what people wrote around it stays.
    current = path.read_text() if path.exists() else ""
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1]
        current = before + block + after
    else:
        current = (current or "# Benchmarks\n\n## Import\n\n") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current)


# ---- re-imports -------------------------------------------------------------------------------


def rewritten_export(export: Path, folder: Path, seed: int) -> Path:
    """The same rows in new bytes: every file's rows shuffled, every cell quoted."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(export.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
        random.Random(seed).shuffle(rows)
        with open(folder / path.name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def changed_export(export: Path, folder: Path, share: float, seed: int) -> tuple[Path, int]:
    """The export with `share` of the opportunities' amounts changed (every other file as it is)."""
    import random
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(export.glob("*.csv")):
        if path.name != "Opportunity.csv":
            shutil.copyfile(path, folder / path.name)
    with open(export / "Opportunity.csv", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    amount = header.index("Amount")
    rng = random.Random(seed)
    picked = rng.sample(range(len(rows)), max(1, int(len(rows) * share)))
    for i in picked:
        rows[i][amount] = f"{float(rows[i][amount] or 0) + 1000:.2f}"
    with open(folder / "Opportunity.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return folder, len(picked)


def reimport_main(args, command: str) -> int:
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    scale = scale_name(args.accounts, args.opportunities, args.activities)
    export, info = ensure_export(args.out, args.accounts, args.opportunities, args.activities, args.seed)
    variants = args.out / f"reimport-{args.accounts}-{args.opportunities}-{args.activities}-seed{args.seed}"
    rewritten = rewritten_export(export, variants / "rewritten", args.seed)
    changed, n_changed = changed_export(export, variants / "changed", 0.01, args.seed)
    plan = [("first import", export), ("same export again", export), ("re-written identical export", rewritten),
            (f"1% of opportunities changed ({n_changed:,})", changed)]
    pg = Postgres(args.postgres) if "postgres" not in args.skip else None
    results: list[tuple[str, list[Run]]] = []
    tag = f"dealpilot_bench_{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory(prefix="dealpilot-bench-") as tmp:
            for backend in ("sqlite", "postgres"):
                if backend in args.skip:
                    continue
                if backend == "sqlite":
                    db = args.out / "reimport.sqlite3"
                    for p in args.out.glob("reimport.sqlite3*"):
                        p.unlink()
                    url = f"sqlite:///{db}"
                else:
                    url = pg.fresh(f"{tag}_reimport")
                runs = [import_run(name, scale, folder, url, Path(tmp) / backend, args.out / f"reimport-{backend}-{i}.log")
                        for i, (name, folder) in enumerate(plan)]
                results.append(("SQLite" if backend == "sqlite" else "PostgreSQL", runs))
                if backend == "sqlite" and not args.keep:
                    for p in args.out.glob("reimport.sqlite3*"):
                        p.unlink()
    finally:
        if pg is not None and not args.keep:
            pg.drop_all()
    machine_info = machine()
    if pg is not None:
        machine_info["postgresql"] = pg.version()
    load = os.getloadavg()
    lines = ["| database | run | rows read | seconds | first import / this run | peak RSS |", "|---|---|---:|---:|---:|---:|"]
    for backend, runs in results:
        first = runs[0].seconds
        for run in runs:
            lines.append(f"| {backend} | {run.name} | {run.rows:,} | {run.seconds:,.1f} | {first / run.seconds:,.1f}x | "
                         f"{mib(run.peak_rss)} |")
    print("\n".join(lines))
    for backend, runs in results:
        for run in runs:
            print(f"{backend} {run.name}: {run.note}")
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; machine: {machine_info}; "
          f"total {time.perf_counter() - started:,.0f} s")
    if args.write_docs:
        section = args.docs_section or f"re-imports at {scale}"
        block = [MARKERS.format("start", section), f"### Re-imports at {scale} (accounts/opportunities/activities)", "",
                 "```", command, "```", "", *lines, "",
                 f"- export: {info['rows']:,} rows in {len(list(export.glob('*.csv')))} files; the re-written export has "
                 "the same rows shuffled, every cell quoted; the changed one 1% of Opportunity.csv's amounts",
                 f"- the one-line summaries: " + "; ".join(f"{b} {r.name}: {r.note}" for b, rs in results for r in rs[1:]),
                 f"- machine: {machine_info}; load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
                 MARKERS.format("end", section)]
        text = args.write_docs.read_text() if args.write_docs.exists() else ""
        start, end = MARKERS.format("start", section), MARKERS.format("end", section)
        if start in text and end in text:
            text = text[:text.index(start)] + "\n".join(block) + text[text.index(end) + len(end):]
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
        args.write_docs.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
