"""Win-model benchmark: dealpilot's calibrated LightGBM against four baselines, side by side, on
the Maven CRM dataset and on a generated demo-like organisation, with one time-ordered split.

    nice -n 10 .venv/bin/python bench/winmodel.py                     # both datasets + 1M / 10k timings
    nice -n 10 .venv/bin/python bench/winmodel.py --demo-deals 3000 --big 0    # quicker

Each dataset is imported the way a user does (`dealpilot import csv ... --mapping maven-crm.yaml`,
`dealpilot import salesforce DIR` for the generated export) into a scratch SQLite database, then
every closed deal becomes rows at three snapshot days before its close (dealpilot's feature
pipeline: nothing from the final stage, the close date or the close-time amount). Deals are
sorted by close date: the earliest 70% train, the next 15% calibrate dealpilot's model (the
baselines, which have no calibration step, train on both), the latest 15% are the test set every
model is scored on.

Models
- dealpilot: LightGBM (dealpilot's parameters) + isotonic/Platt calibration, winmodel.train().
- stage / base rate: the training deals' win rate from the snapshot's stage (base rate without one).
- logistic regression: one-hot categories, median-imputed and scaled numbers.
- gradient boosting, defaults: scikit-learn HistGradientBoostingClassifier() on the same matrix.
- Odoo naive Bayes: crm.lead.scoring.frequency as Odoo computes it: per team, per field value won
  and lost counts (+0.1), stage counted for every stage a won deal passed and the stages up to
  where a lost deal stopped, score = P(won) x prod(won_count/won_total) against the same for lost.
  Fields: stage, team, country, source, product (Odoo's defaults are stage, team, country, state,
  source, language, tags; this data has no state, language or tags).

Then: training time of dealpilot's model on 1,000,000 rows (--big; rows resampled from the demo
dataset's feature rows with noise on the numbers: the timing needs the size, not new deals), and
scoring 10,000 deals (--score): the model alone (probabilities + contributions) and end to end
(signals, features, model, reasons; records already loaded), plus loading 10k deals' records.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "src"))
DEALPILOT = str(Path(sys.executable).with_name("dealpilot"))
MARKER = "<!-- winmodel start -->", "<!-- winmodel end -->"


# ---- the parent: scratch databases, one worker per dataset, the table --------------------------------


def _run(cmd: list[str], env: dict) -> None:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    print(f"  {' '.join(Path(c).name if c.startswith('/') else c for c in cmd[:3])} ... {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def prepare(dataset: str, folder: Path, demo_deals: int) -> dict:
    env = {**os.environ, "DEALPILOT_DATA_DIR": str(folder)}
    env.pop("DATABASE_URL", None)
    if dataset == "maven":
        _run([DEALPILOT, "import", "csv", str(SHARED / "datasets" / "maven-crm"), "--mapping",
              str(ROOT / "src/dealpilot/imports/mappings/maven-crm.yaml")], env)
    else:
        from dealpilot.demo.generator import write_salesforce_export

        export = folder / "export"
        write_salesforce_export(export, accounts=max(100, demo_deals // 10), opportunities=demo_deals,
                                activities=demo_deals * 10, seed=11)
        _run([DEALPILOT, "import", "salesforce", str(export)], env)
    return env


def run_worker(dataset: str, env: dict, args) -> dict:
    out = Path(env["DEALPILOT_DATA_DIR"]) / "result.json"
    cmd = [sys.executable, __file__, "--worker", dataset, "--result", str(out), "--big", str(args.big), "--score", str(args.score)]
    _run(cmd, env)
    return json.loads(out.read_text())


def fmt(v, digits=3):
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def table(result: dict) -> str:
    models = result["models"]
    lr_time = next(m["train_s"] for m in models if m["name"] == "logistic regression") or 1e-9
    lines = [f"**{result['title']}**: {result['deals']} closed deals ({result['won_share']:.0%} won), {result['rows']} snapshot rows; "
             f"test = the {result['test_deals']} latest deals ({result['test_rows']} rows). Features built in {result['features_s']:.1f} s.",
             "",
             "| model | AUC | Brier | ECE | train s | train vs LR | scoring rows/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in models:
        lines.append(f"| {m['name']} | {fmt(m['auc'])} | {fmt(m['brier'])} | {fmt(m['ece'])} | {fmt(m['train_s'], 2)} | "
                     f"{m['train_s'] / lr_time:.1f}x | {m['rows_per_s']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="maven,demo")
    parser.add_argument("--demo-deals", type=int, default=10000)
    parser.add_argument("--big", type=int, default=1_000_000, help="rows for the training-time run (0: skip)")
    parser.add_argument("--score", type=int, default=10_000, help="deals for the scoring-time run")
    parser.add_argument("--write-docs", type=Path, help="replace the winmodel section of this Markdown file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args)
        args.result.write_text(json.dumps(result))
        return
    results = []
    load_before = os.getloadavg()
    for dataset in args.datasets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"winmodel-{dataset}-") as tmp:
            print(f"{dataset}: importing into a scratch SQLite database", file=sys.stderr)
            env = prepare(dataset, Path(tmp), args.demo_deals)
            results.append(run_worker(dataset, env, args))
    blocks = [table(r) for r in results]
    timings = []
    for r in results:
        for t in r.get("timings", []):
            timings.append(f"| {r['title']} | {t['what']} | {t['seconds']:.2f} | {t['cpu']:.2f} | {t['note']} |")
    text = "\n\n".join(blocks)
    if timings:
        text += ("\n\n| dataset | timing | wall s | CPU s | note |\n| --- | --- | ---: | ---: | --- |\n" + "\n".join(timings)
                 + "\n\nCPU s is the process's own CPU time: what the work costs when the machine is not shared.")
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared), Python {platform.python_version()}"
    load_after = os.getloadavg()
    text += (f"\n\nMachine: {cpu}; load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end (other "
             "work shared the two cores, so wall times are several times what an idle machine gives). One LightGBM thread "
             "(DEALPILOT_WIN_MODEL_THREADS=1, dealpilot's default).")
    print(text)
    if args.write_docs:
        sys.path.insert(0, str(ROOT / "bench"))
        from docs_section import command_line, write_section

        write_section(args.write_docs, MARKER, "Win model (bench/winmodel.py)",
                      command_line("bench/winmodel.py", args.write_docs), text)


# ---- the worker: one dataset, every model, same split ---------------------------------------------------


def worker(dataset: str, args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    import numpy as np

    from dealpilot.crm.models import Opportunity
    from dealpilot.deals import winmodel
    from dealpilot.deals.features import FeatureContext, training_rows
    from dealpilot.deals.knowledge import active_rules, ensure_defaults
    from dealpilot.deals.models import SignalSettings
    from dealpilot.deals.records import load_records
    from dealpilot.deals.signals import stage_norms

    ensure_defaults()
    if dataset == "demo":
        from dealpilot.deals.demo import seed_qualification_answers

        seed_qualification_answers()
    t0 = time.perf_counter()
    closed = load_records(Opportunity.objects.filter(is_closed=True))
    ctx = FeatureContext.build(active_rules(), SignalSettings.current(), stage_norms())
    rows, labels, ids, closes = training_rows(closed, ctx)
    features_s = time.perf_counter() - t0
    y = np.asarray(labels)
    train, cal, test = winmodel.time_ordered_split(closes, ids)
    fit_mask = train | cal
    info = deal_info(ids)
    models = []

    # dealpilot
    result = winmodel.train(rows, labels, ids, closes, ctx.columns, ctx.categorical)
    test_rows = [r for r, m in zip(rows, test) if m]
    p = result.model.predict(test_rows)
    models.append(score("dealpilot (LightGBM + calibration)", p, y[test], result.seconds,
                        throughput(lambda batch: result.model.predict(batch), test_rows)))

    # stage / base rate
    started = time.perf_counter()
    fitted = fit_stage_rate(rows, y, fit_mask)
    seconds = time.perf_counter() - started
    models.append(score("stage / base rate", predict_stage_rate(fitted, test_rows), y[test], seconds,
                        throughput(lambda batch: predict_stage_rate(fitted, batch), test_rows)))

    # logistic regression and plain gradient boosting on the same columns
    frame = to_frame(rows, ctx)
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in ctx.columns if c not in ctx.categorical]
    lr = make_pipeline(ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), ctx.categorical)]),
        LogisticRegression(max_iter=2000))
    started = time.perf_counter()
    lr.fit(frame[fit_mask], y[fit_mask])
    seconds = time.perf_counter() - started
    test_frame = frame[test]
    models.append(score("logistic regression", lr.predict_proba(test_frame)[:, 1], y[test], seconds,
                        throughput(lambda batch: lr.predict_proba(batch)[:, 1], test_frame)))

    encoder = winmodel.Encoder(ctx.columns, ctx.categorical).fit([r for r, m in zip(rows, fit_mask) if m])
    x = encoder.transform(rows)
    observed = ~np.all(np.isnan(x[fit_mask]), axis=0)  # scikit-learn's binning fails on an all-missing column
    hgb = HistGradientBoostingClassifier()
    started = time.perf_counter()
    hgb.fit(x[fit_mask][:, observed], y[fit_mask])
    seconds = time.perf_counter() - started
    x_test = x[test][:, observed]
    models.append(score("gradient boosting, defaults", hgb.predict_proba(x_test)[:, 1], y[test], seconds,
                        throughput(lambda batch: hgb.predict_proba(batch)[:, 1], x_test)))

    # Odoo's naive Bayes, on the fields it reads (the deal's team and country added to each row)
    odoo_rows = [{**r, "team": info[d]["team"], "country": info[d]["country"]} for r, d in zip(rows, ids)]
    started = time.perf_counter()
    odoo = OdooNaiveBayes(ctx.norms).fit(odoo_rows, ids, y, fit_mask)
    seconds = time.perf_counter() - started
    odoo_test = [r for r, m in zip(odoo_rows, test) if m]
    models.append(score("Odoo naive Bayes (frequencies)", odoo.predict(odoo_test), y[test], seconds,
                        throughput(odoo.predict, odoo_test)))

    won_share = float(np.mean([closed[d].is_won for d in set(ids)])) if ids else 0.0
    out = {"title": "Maven CRM (8,800 deals)" if dataset == "maven" else "Generated demo-like organisation",
           "deals": len(set(ids)), "rows": len(rows), "won_share": won_share, "test_deals": result.counts[2],
           "test_rows": int(test.sum()), "features_s": features_s, "models": models, "timings": []}
    if dataset == "demo":
        out["title"] = f"Generated demo-like organisation ({Opportunity.objects.count():,} deals)"
        if args.big:
            out["timings"].append(big_training(x, y, encoder, args.big))
        out["timings"].extend(scoring_timings(closed, result.model, args.score))
    return out


def score(name, p, y, train_s, rows_per_s) -> dict:
    from dealpilot.deals.winmodel import evaluate

    m = evaluate(np_array(p), y)
    return {"name": name, "auc": m["auc"], "brier": m["brier"], "ece": m["ece"], "train_s": train_s, "rows_per_s": rows_per_s}


def np_array(p):
    import numpy as np

    return np.clip(np.asarray(p, dtype=float), 0.0, 1.0)


def throughput(predict, rows, n: int = 10_000) -> float:
    """Rows scored per second, on the test rows repeated up to n."""
    import numpy as np

    if hasattr(rows, "iloc"):
        import pandas as pd

        batch = pd.concat([rows] * (n // max(1, len(rows)) + 1)).iloc[:n]
    elif isinstance(rows, np.ndarray):
        batch = np.concatenate([rows] * (n // max(1, len(rows)) + 1))[:n]
    else:
        batch = (list(rows) * (n // max(1, len(rows)) + 1))[:n]
    started = time.perf_counter()
    predict(batch)
    return n / (time.perf_counter() - started)


def to_frame(rows, ctx):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=ctx.columns)
    for c in ctx.categorical:
        frame[c] = frame[c].astype(str)
    for c in ctx.columns:
        if c not in ctx.categorical:
            frame[c] = frame[c].astype(float)
    return frame


def deal_info(ids) -> dict:
    """Team (the owner's) and country (the account's) of each deal, for Odoo's fields."""
    from dealpilot.crm.models import Opportunity

    info = {}
    unique = sorted(set(ids))
    for i in range(0, len(unique), 2000):
        for pk, team, country in Opportunity.objects.filter(id__in=unique[i:i + 2000]).values_list(
                "id", "owner__team_id", "account__country"):
            info[pk] = {"team": str(team or ""), "country": country or ""}
    return info


def fit_stage_rate(rows, y, mask):
    won, seen = {}, {}
    for r, label, keep in zip(rows, y, mask):
        if keep:
            s = r["stage"]
            seen[s] = seen.get(s, 0) + 1
            won[s] = won.get(s, 0) + int(label)
    base = float(y[mask].mean())
    return {s: won[s] / seen[s] for s in seen if s and seen[s] >= 10}, base


def predict_stage_rate(fitted, rows):
    rates, base = fitted
    return [rates.get(r["stage"], base) for r in rows]


class OdooNaiveBayes:
    """Odoo CRM's predictive lead scoring (crm.lead.scoring.frequency), reimplemented from its
    public description and source: frequency tables per team, +0.1 to every count, naive Bayes."""

    FIELDS = ("team", "country", "source", "product")

    def __init__(self, norms):
        self.order = norms.order  # the stages' sequence

    def fit(self, rows, ids, y, mask):
        # one observation per deal (Odoo counts each closed lead once): its last stage before closing
        last: dict[int, tuple[str, int, dict]] = {}
        for r, d, label, keep in zip(rows, ids, y, mask):
            if keep:
                last[d] = (r["stage"], int(label), r)
        self.tables: dict[str, dict] = {}
        stages = sorted(self.order, key=self.order.get)
        for d, (stage, won, r) in last.items():
            for team in (r["team"], "*"):  # the deal's team and all teams (Odoo's fallback)
                t = self.tables.setdefault(team, {"won": 0, "lost": 0, "fields": {}})
                t["won" if won else "lost"] += 1
                for field in self.FIELDS:
                    if r[field]:
                        self._add(t, field, r[field], won)
                if stage:
                    passed = stages if won else [s for s in stages if self.order[s] <= self.order.get(stage, -1)]
                    for s in passed:
                        self._add(t, "stage", s, won)
        for t in self.tables.values():  # +0.1 against zero frequencies, as Odoo does
            for field in t["fields"].values():
                for v in field["values"].values():
                    v[0] += 0.1
                    v[1] += 0.1
                field["won_total"] = sum(v[0] for v in field["values"].values())
                field["lost_total"] = sum(v[1] for v in field["values"].values())
        return self

    @staticmethod
    def _add(t, field, value, won):
        f = t["fields"].setdefault(field, {"values": {}})
        v = f["values"].setdefault(value, [0.0, 0.0])
        v[0 if won else 1] += 1

    def predict(self, rows):
        out = []
        for r in rows:
            t = self.tables.get(r["team"]) or self.tables["*"]
            won, lost = t["won"], t["lost"]
            if not won or not lost:
                t = self.tables["*"]
                won, lost = t["won"], t["lost"]
            s_won, s_lost = won / (won + lost), lost / (won + lost)
            for field in (*self.FIELDS, "stage"):
                value = r[field]
                f = t["fields"].get(field)
                v = f["values"].get(value) if f and value else None
                if v:
                    total_won = won if field == "stage" else f["won_total"]
                    total_lost = lost if field == "stage" else f["lost_total"]
                    s_won *= v[0] / total_won
                    s_lost *= v[1] / total_lost
            out.append(s_won / (s_won + s_lost))
        return out


def big_training(x, y, encoder, n: int) -> dict:
    """dealpilot's training as the product runs it (winmodel.train_matrix: three time-ordered fold
    models for the calibration, the final model, the calibrator, the held-out evaluation) on n
    rows resampled from the real rows, three rows per synthetic deal."""
    import numpy as np

    from dealpilot.deals import winmodel

    rng = np.random.default_rng(3)
    pick = rng.integers(0, len(x), n)
    big = x[pick].copy()
    numeric = [j for j, c in enumerate(encoder.columns) if c not in encoder.categorical]
    big[:, numeric] += rng.normal(0, 0.05, (n, len(numeric))) * np.nan_to_num(np.nanstd(x[:, numeric], axis=0))
    labels = y[pick]
    deal_ids = (np.arange(n) // 3).tolist()
    close_days = deal_ids  # synthetic deals close in id order
    started, cpu = time.perf_counter(), time.process_time()
    result = winmodel.train_matrix(big, labels, deal_ids, close_days, encoder)
    seconds = time.perf_counter() - started
    return {"what": f"train dealpilot's model on {n:,} rows ({n // 3:,} deals)", "seconds": seconds,
            "cpu": time.process_time() - cpu,
            "note": f"3 fold models (<= {winmodel.FOLD_MAX_ROWS:,} rows each) + final model on {result.counts[0]:,} deals "
                    f"+ calibration + evaluation; {len(encoder.columns)} columns; goal < 60 s"}


def scoring_timings(closed, model, n: int) -> list[dict]:
    """Scoring n deals: the model alone, and end to end from loaded records."""
    import dataclasses

    from dealpilot.deals import scoring
    from dealpilot.deals.records import load_records
    from dealpilot.deals.models import WinModelRun

    records = list(closed.values())
    records = (records * (n // max(1, len(records)) + 1))[:n]
    as_open = {i: dataclasses.replace(r, id=i, is_closed=False, is_won=False) for i, r in enumerate(records)}
    ctx = scoring.scoring_context(with_model=False)
    from dealpilot.deals.features import FeatureContext

    ctx.model = model
    ctx.features = FeatureContext.build(ctx.rules, ctx.settings, ctx.norms)
    ctx.features.questions = [c[2:] for c in model.encoder.columns if c.startswith("q:")]
    ctx.run = WinModelRun(metrics={"auc": 0, "ece": 0}, deals_train=0, deals_calibration=0, deals_test=0)
    from django.utils import timezone

    ctx.run.created_at = timezone.now()
    started, cpu = time.perf_counter(), time.process_time()
    items, scores = scoring.score_records(as_open, ctx)
    end_to_end, end_to_end_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(scores) == n
    from dealpilot.deals.features import features

    feature_rows = [features(i.state, ctx.features, signal_codes=[v.code for v in i.vulnerabilities]) for i in items]
    started, cpu = time.perf_counter(), time.process_time()
    model.predict(feature_rows)
    model.contributions(feature_rows)
    model_only, model_only_cpu = time.perf_counter() - started, time.process_time() - cpu
    ids = [r.id for r in list(closed.values())[:n]]
    started, cpu = time.perf_counter(), time.process_time()
    load_records(ids)
    loading, loading_cpu = time.perf_counter() - started, time.process_time() - cpu
    return [
        {"what": f"score {n:,} deals: model only", "seconds": model_only, "cpu": model_only_cpu, "note": "calibrated probabilities + SHAP contributions; goal < 1 s"},
        {"what": f"score {n:,} deals: end to end", "seconds": end_to_end, "cpu": end_to_end_cpu,
         "note": "signals, knowledge rules, features, model, reasons in words (records in memory)"},
        {"what": f"load {len(ids):,} deals' records", "seconds": loading, "cpu": loading_cpu, "note": "stage history, activities, roles, products, answers (SQLite)"},
    ]


if __name__ == "__main__":
    main()
