"""Enablement benchmark: content suggestions per opportunity and win/loss full-text search, at
10k content modules and 100k opportunities (--scale 1), against brute-force baselines measured in
the same run.

    nice -n 10 .venv/bin/python bench/enablement_bench.py                      # SQLite, scale 1
    nice -n 10 .venv/bin/python bench/enablement_bench.py --database-url postgres://postgres@127.0.0.1:5432/dp_enable_bench
    .venv/bin/python bench/enablement_bench.py --scale 0.1 --write-docs docs/benchmarks.md

1. Data (generated once per scale and database, straight into the tables with bulk inserts; the
   SQLite file is kept under bench/out/): modules with tags and authors, accounts with a contact,
   opportunities with a description naming a customer challenge and 1-3 buyer roles, and win/loss
   entries with their full-text index (FTS5 rows / tsvector).
2. Suggestions: `suggestions_for(user, id)` for random opportunities, the way the opportunity
   page and the API call it (visibility check, the deal's context queries, the cached index's
   vector scoring, reasons, value messages filled); the index is built once before timing (its
   build time is shown). Baseline: the same scores computed by scoring every module in Python
   (tag sets and a sparse dot product per module) on the same deals; the top results must agree.
3. Full-text search: `selectors.knowledge(user, q=...)` (FTS5 MATCH / PostgreSQL SearchQuery on
   the GIN index) for two-word queries; baseline: a substring scan (icontains on title and body,
   every word required) over the same entries.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "src"))
SECTION = "enablement_bench.py"
GOAL_MS = 50.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = 10k modules, 100k opportunities, 10k knowledge entries")
    p.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a SQLite file under bench/out/)")
    p.add_argument("--samples", type=int, default=300, help="Opportunities timed for suggestions")
    p.add_argument("--baseline-samples", type=int, default=40, help="Opportunities timed for the brute-force baseline")
    p.add_argument("--queries", type=int, default=200, help="Full-text queries timed")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--write-docs", type=Path, default=None, help="Replace this benchmark's section in a Markdown file")
    return p.parse_args()


def setup(args) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ["DEALPILOT_DATA_DIR"] = str(OUT / "data")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{OUT / f'enablement-{args.scale:g}.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection

    return connection.vendor


# ---- data ----------------------------------------------------------------------------------------------


def counts(scale: float) -> dict:
    return {"modules": int(10_000 * scale), "opportunities": int(100_000 * scale), "accounts": int(10_000 * scale),
            "knowledge": int(10_000 * scale), "reps": 50}


FILLER = ("pipeline", "forecast", "margin", "adoption", "rollout", "workflow", "integration", "dashboard", "compliance",
          "audit", "renewal", "onboarding", "pricing", "payback", "reference", "pilot", "security", "migration", "analytics",
          "automation", "visibility", "quality", "throughput", "inventory", "retention", "churn", "productivity", "risk",
          "governance", "scalability", "latency", "procurement", "sourcing", "logistics", "maintenance", "sensor", "claims",
          "underwriting", "patients", "clinicians", "stores", "shoppers", "freight", "carriers", "plants", "lines")


def generate(c: dict, seed: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from dealpilot.crm.models import Account, Contact, ContactRole, Opportunity, OpportunityContactRole, Role, User
    from dealpilot.demo import vocabulary as V
    from dealpilot.enablement import fulltext
    from dealpilot.enablement.models import ContentKind, ContentModule, ContentTag, JourneyPhase, KnowledgeEntry

    rng = random.Random(seed)
    industries = [i[0] for i in V.INDUSTRIES]
    units = list(V.CHALLENGES)
    stages = [s[0] for s in V.STAGES[:8]]
    roles = [r for r in ContactRole.values if r != "other"]
    products = [p[0] for p in V.PRODUCTS]
    t0 = time.perf_counter()
    with transaction.atomic():
        password = make_password("bench")
        leader = User.objects.create(username="bench.leader", role=Role.LEADER, full_name="Bench Leader", password=password)
        authors = [User.objects.create(username=f"bench.author{i}", role=Role.ENABLEMENT, full_name=f"Author {i}",
                                       password=password) for i in range(20)]
        reps = User.objects.bulk_create([User(username=f"bench.rep{i}", role=Role.REP, full_name=f"Rep {i}", password=password)
                                         for i in range(c["reps"])])
        accounts = Account.objects.bulk_create(
            [Account(name=f"Account {i}", industry=rng.choice(industries), owner=rng.choice(reps)) for i in range(c["accounts"])],
            batch_size=5000)
        contacts = Contact.objects.bulk_create([Contact(account=a, first_name="Pat", last_name=f"Buyer {a.pk}") for a in accounts],
                                               batch_size=5000)
        contact_of = {ct.account_id: ct for ct in contacts}
        today = date.today()
        opps = []
        for i in range(c["opportunities"]):
            account = accounts[i % len(accounts)]
            unit = rng.choice(units)
            closed = rng.random() < 0.6
            opps.append(Opportunity(
                name=f"{account.name} deal {i}", account=account, owner=account.owner, stage=rng.choice(stages) if not closed else
                rng.choice(("Closed Won", "Closed Lost")), amount=rng.randint(5, 500) * 1000, is_closed=closed,
                is_won=closed and rng.random() < 0.3, close_date=today + timedelta(days=rng.randint(-300, 120)),
                description=f"{unit}: {rng.choice(V.CHALLENGES[unit])}. Evaluating {rng.choice(products)} to address it. "
                            + " ".join(rng.sample(FILLER, 4))))
        opps = Opportunity.objects.bulk_create(opps, batch_size=5000)
        OpportunityContactRole.objects.bulk_create(
            [OpportunityContactRole(opportunity=o, contact=contact_of[o.account_id], role=r)
             for o in opps for r in rng.sample(roles, rng.randint(1, 3))], batch_size=10000)
        print(f"  crm rows: {time.perf_counter() - t0:.1f}s", flush=True)

        kinds = ContentKind.values
        modules = []
        for i in range(c["modules"]):
            industry = rng.choice(industries) if rng.random() < 0.5 else ""
            unit = rng.choice(units)
            challenge = rng.choice(V.CHALLENGES[unit])
            words = " ".join(rng.sample(FILLER, 12))
            modules.append(ContentModule(
                title=f"{ContentKind(kinds[i % len(kinds)]).label}: {challenge}" + (f" in {industry}" if industry else ""),
                kind=kinds[i % len(kinds)], status="published", summary=f"For {unit} teams facing {challenge}.",
                body=f"{unit} teams struggle with {challenge}. {words}. " * 3,
                message_template="{account} can fix {challenge} for {amount}." if kinds[i % len(kinds)] == "value_message" else "",
                owner=rng.choice(authors), published_at=datetime.now(timezone.utc)))
        modules = ContentModule.objects.bulk_create(modules, batch_size=5000)
        tags, links = [], []
        through = ContentModule.authors.through
        for m in modules:
            chosen = []
            if rng.random() < 0.7:
                chosen.append(("phase", rng.choice(JourneyPhase.values)))
            for r in rng.sample(roles, rng.randint(0, 2)):
                chosen.append(("buyer_role", r))
            if " in " in m.title:
                chosen.append(("industry", m.title.rsplit(" in ", 1)[1]))
            if rng.random() < 0.4:
                chosen.append(("stage", rng.choice(stages)))
            if rng.random() < 0.5:
                chosen.append(("challenge", m.summary.split(" facing ", 1)[1].rstrip(".")))
            if rng.random() < 0.2:
                chosen.append(("product", rng.choice(products)))
            seen = set()
            for d, v in chosen:
                if (d, v.lower()) not in seen:
                    seen.add((d, v.lower()))
                    tags.append(ContentTag(module=m, dimension=d, value=v, key=" ".join(v.lower().split())))
            links.append(through(contentmodule_id=m.pk, user_id=m.owner_id))
        ContentTag.objects.bulk_create(tags, batch_size=10000)
        through.objects.bulk_create(links, batch_size=10000)
        print(f"  modules: {time.perf_counter() - t0:.1f}s", flush=True)

        entries = []
        closed_opps = [o for o in opps if o.is_closed]
        for i in range(c["knowledge"]):
            o = rng.choice(closed_opps)
            entries.append(KnowledgeEntry(
                kind="win_loss", title=f"{'Won' if o.is_won else 'Lost'}: {o.name}", opportunity=o,
                outcome="won" if o.is_won else "lost", created_by=o.owner,
                body=f"{o.description} " + " ".join(rng.sample(FILLER, 25)) + ". " + " ".join(rng.sample(FILLER, 25)) + "."))
        entries = KnowledgeEntry.objects.bulk_create(entries, batch_size=5000)
        from django.db import connection

        if connection.vendor == "sqlite":
            with connection.cursor() as cur:
                cur.executemany(f"INSERT INTO {fulltext.FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)",
                                [(e.pk, e.title, e.body) for e in entries])
        else:
            from django.contrib.postgres.search import SearchVector

            KnowledgeEntry.objects.update(search_vector=SearchVector("title", weight="A", config=fulltext.CONFIG)
                                          + SearchVector("body", weight="B", config=fulltext.CONFIG))
        KnowledgeEntry.authors.through.objects.bulk_create(
            [KnowledgeEntry.authors.through(knowledgeentry_id=e.pk, user_id=e.created_by_id) for e in entries], batch_size=10000)
        print(f"  knowledge: {time.perf_counter() - t0:.1f}s", flush=True)
    assert leader


# ---- the baseline --------------------------------------------------------------------------------------------


def brute_force(index, ctx, limit: int):
    """Score every module in Python, one at a time: the same rules as suggest.score()."""
    from dealpilot.enablement.suggest import MAX_ROLE_MATCHES, MIN_TEXT_SCORE, WEIGHTS, tag_key

    query = index.vectorizer.transform([ctx.text]) if ctx.text.strip() else None
    q = dict(zip(query.indices.tolist(), query.data.tolist())) if query is not None else {}
    m = index.matrix
    text_key = tag_key(ctx.text)
    phase, stage, industry = tag_key(ctx.phase), tag_key(ctx.stage), tag_key(ctx.industry)
    products = {tag_key(p) for p in ctx.products}
    scored = []
    for i, card in enumerate(index.cards):
        keys = {d: {tag_key(v) for v in vs} for d, vs in card.tags.items()}
        if "phase" in keys and phase not in keys["phase"]:
            continue
        if "industry" in keys and industry not in keys["industry"]:
            continue
        s = 0.0
        s += WEIGHTS["stage"] if stage in keys.get("stage", ()) else 0
        s += WEIGHTS["phase"] if phase in keys.get("phase", ()) else 0
        s += WEIGHTS["industry"] if industry and industry in keys.get("industry", ()) else 0
        s += WEIGHTS["buyer_role"] * min(sum(1 for r in ctx.roles if r in keys.get("buyer_role", ())), MAX_ROLE_MATCHES)
        s += WEIGHTS["product"] * len(products & keys.get("product", set()))
        s += WEIGHTS["challenge"] * sum(1 for c in keys.get("challenge", ()) if c in text_key)
        start, end = m.indptr[i], m.indptr[i + 1]
        cos = sum(w * q.get(t, 0.0) for t, w in zip(m.indices[start:end].tolist(), m.data[start:end].tolist()))
        s += WEIGHTS["text"] * (cos if cos >= MIN_TEXT_SCORE else 0.0)
        if s > 0:
            scored.append((-s, i))
    scored.sort()
    return [index.cards[i].id for _s, i in scored[:limit]]


# ---- timing ----------------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


CPU: dict[str, list[float]] = {}  # CPU milliseconds of this process per call, by run


def timed(fn, *args, cpu: str = "", **kwargs) -> tuple[float, object]:
    """Wall milliseconds of one call (and its CPU milliseconds in this process, kept under `cpu`)."""
    c, t = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    wall = (time.perf_counter() - t) * 1000
    if cpu:
        CPU.setdefault(cpu, []).append((time.process_time() - c) * 1000)
    return wall, out


def main() -> None:
    args = parse_args()
    vendor = setup(args)
    from django.db import connection

    from dealpilot.crm.models import Opportunity, User
    from dealpilot.enablement import selectors, suggest
    from dealpilot.enablement.models import ContentModule, EnablementSettings, KnowledgeEntry

    c = counts(args.scale)
    if not ContentModule.objects.exists():
        print(f"Generating {c} on {vendor} (once; kept in the database)...", flush=True)
        generate(c, args.seed)
    have = {"modules": ContentModule.objects.count(), "opportunities": Opportunity.objects.count(),
            "knowledge": KnowledgeEntry.objects.count()}
    print(f"Data: {have}", flush=True)
    user = User.objects.get(username="bench.leader")
    rng = random.Random(args.seed)

    build_ms, index = timed(suggest.build_index, suggest.library_version())
    suggest._cache["index"] = index
    settings = EnablementSettings.current()
    ids = list(Opportunity.objects.filter(is_closed=False).values_list("pk", flat=True))
    sample = rng.sample(ids, min(args.samples, len(ids)))
    suggest.suggestions_for(user, sample[0])  # warm
    fast = []
    for opp_id in sample:
        ms, found = timed(suggest.suggestions_for, user, opp_id, cpu="fast")
        assert found, opp_id
        fast.append(ms)

    brute, agree = [], 0
    base_sample = sample[: args.baseline_samples]
    for opp_id in base_sample:
        opp = Opportunity.objects.select_related("account").get(pk=opp_id)
        ms, top = timed(lambda: brute_force(index, suggest.deal_context(opp, settings), suggest.DEFAULT_LIMIT), cpu="brute")
        brute.append(ms)
        fast_top = [s.module_id for s in suggest.suggest(opp, index=index, settings=settings, render_messages=False)]
        agree += set(top) == set(fast_top)

    words = ["downtime", "pricing", "competitor", "payback", "forecast", "onboarding", "churn", "inventory", "audit",
             "spreadsheets", "attrition", "carrier", "supplier", "margin", "security", "migration", "reference", "pilot"]
    queries = [" ".join(rng.sample(words, 2)) for _ in range(args.queries)]
    selectors.knowledge(user, q=queries[0])  # warm
    fts, hits = [], []
    for q in queries:
        ms, rows = timed(selectors.knowledge, user, q=q, limit=20, cpu="fts")
        fts.append(ms)
        hits.append(len(rows))
    from django.db.models import Q

    scan = []
    for q in queries[: max(10, args.queries // 10)]:
        cond = Q()
        for w in q.split():
            cond &= Q(title__icontains=w) | Q(body__icontains=w)
        ms, _rows = timed(lambda: list(KnowledgeEntry.objects.filter(cond).order_by("-created_at")[:20]), cpu="scan")
        scan.append(ms)

    rows = [
        ("suggestions, dealpilot (vector scoring, cached index)", len(fast), pct(fast, 50), pct(fast, 95), CPU["fast"]),
        ("suggestions, brute force (every module in Python)", len(brute), pct(brute, 50), pct(brute, 95), CPU["brute"]),
        ("full-text search, dealpilot (" + ("FTS5" if vendor == "sqlite" else "tsvector + GIN") + ")", len(fts), pct(fts, 50),
         pct(fts, 95), CPU["fts"]),
        ("full-text search, substring scan (icontains)", len(scan), pct(scan, 50), pct(scan, 95), CPU["scan"]),
    ]
    db = f"SQLite {connection.Database.sqlite_version}" if vendor == "sqlite" else f"PostgreSQL {connection.pg_version // 10000}"
    lines = [
        f"Run {date.today().isoformat()} on {db}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores (shared): {have['modules']:,} modules, {have['opportunities']:,} opportunities, "
        f"{have['knowledge']:,} win/loss entries; index build {build_ms / 1000:.1f} s (once per library version).",
        "",
        "| run | timed | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms | vs baseline (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, (name, n, p50, p95, cpu) in enumerate(rows):
        base = rows[i | 1][2]  # the baseline of each pair
        ratio = f"{base / p50:.1f}x faster" if i % 2 == 0 else "1.0x"
        lines.append(f"| {name} | {n} | {p50:.1f} | {p95:.1f} | {pct(cpu, 50):.1f} | {pct(cpu, 95):.1f} | {ratio} |")
    lines += ["", f"- Suggestion p95 goal {GOAL_MS:.0f} ms: {'met' if pct(fast, 95) < GOAL_MS else 'NOT met'} "
                  f"({pct(fast, 95):.1f} ms). Same top {suggest.DEFAULT_LIMIT} as the baseline on {agree} of {len(base_sample)} deals.",
              f"- Full-text queries found {statistics.mean(hits):.1f} entries on average (at most 20 returned).",
              "- CPU ms: this process's CPU time per call (`time.process_time`), which the machine's load does not stretch "
              "the way it stretches wall time; " + ("SQLite runs inside the process, so it is included."
                                                    if vendor == "sqlite" else "PostgreSQL's own work is not included.")]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_docs(args.write_docs, text, args, vendor)


def write_docs(path: Path, text: str, args, vendor: str) -> None:
    command = "nice -n 10 .venv/bin/python bench/enablement_bench.py" + (f" --scale {args.scale:g}" if args.scale != 1 else "") + \
        (" --database-url postgres://..." if args.database_url else "") + f" --write-docs {path}"
    label = "SQLite" if vendor == "sqlite" else "PostgreSQL"
    start, end = f"<!-- {SECTION} {label} start -->", f"<!-- {SECTION} {label} end -->"
    block = f"{start}\n### {label}\n\n```\n{command}\n```\n\n{text}\n{end}"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


if __name__ == "__main__":
    main()
