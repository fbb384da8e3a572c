"""Forecast backtest: the model's forecast against the stage-weighted forecast, quarter by quarter, as each
would have been made at the start of the quarter and at every week of it, against what was then won.

    nice -n 10 .venv/bin/python bench/forecast_backtest.py                        # Maven and the demo generator
    nice -n 10 .venv/bin/python bench/forecast_backtest.py --datasets demo --demo-deals 3000 --write-docs docs/benchmarks.md

Each dataset is imported the way a user does it (bench/winmodel.py's `prepare`: `dealpilot import csv` with
the Maven mapping, `dealpilot import salesforce` for the demo generator's export) into a scratch SQLite
database; then dealpilot.forecasting.backtest puts every deal back as it stood on each day and, per quarter,
trains the win model only on the deals closed before the quarter began (see that module for what the data
cannot say and how it is filled). Goal (issue 17): the model's forecast has the lower absolute error in most
quarters, and its P10-P90 range contains the actual about 80% of the time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
MARKER = "<!-- backtest start -->", "<!-- backtest end -->"
TITLES = {"maven": "Maven CRM (../shared/datasets/maven-crm)", "demo": "Demo generator (Salesforce export)"}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0f}%"


def error_pct(forecast: float, actual: float) -> float | None:
    return None if not actual else 100 * (forecast - actual) / actual


def worker(dataset: str, result_path: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    from dealpilot.forecasting.backtest import History, weeks_of

    if dataset == "demo":
        from dealpilot.deals.demo import seed_qualification_answers

        seed_qualification_answers()
    started, cpu = time.perf_counter(), time.process_time()
    history = History()
    quarters = []
    for quarter in history.quarters():
        qm = history.train(quarter)
        weeks = []
        for day in weeks_of(quarter):
            f = history.forecast_on(day, qm)
            p10, _, p90 = f.model_range()
            nb10, _, nb90 = f.model_range(with_new_business=True)
            weeks.append({"day": day.isoformat(), "won": f.won, "open_deals": len(f.deals), "model": f.model, "p10": p10, "p90": p90,
                          "with_new_business": f.model_with_new_business, "nb_p10": nb10, "nb_p90": nb90, "stage_weighted": f.stage_weighted, "stage_win_rate": f.stage_win_rate, "actual": f.actual})
        quarters.append({"quarter": quarter.label, "trained_on": qm.trained_on, "note": qm.note, "weeks": weeks})
        print(f"  {dataset} {quarter.label}: {len(weeks)} weeks, trained on {qm.trained_on} closed deals", file=sys.stderr)
    result_path.write_text(json.dumps({"dataset": dataset, "quarters": quarters, "deals": len(history.records),
                                       "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}))


def summarise(result: dict) -> str:
    lines = [f"**{TITLES[result['dataset']]}**: {result['deals']:,} deals; {len(result['quarters'])} quarters with enough closed "
             f"deals before them to train on; {result['seconds']:.0f} s wall, {result['cpu']:.0f} s CPU.", "",
             "| quarter | won | at its start: model (P10-P90) | model error | + new business: error | stage-weighted | its error "
             "| stage win rate | its error | weekly mean abs error: model / + new business / stage-weighted / stage win rate "
             "| weeks the actual was inside P10-P90: model / + new business |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    start_better = weekly_better = quarters = inside = inside_nb_total = weeks_total = 0
    all_abs = {"model": [], "with_new_business": [], "stage_weighted": [], "stage_win_rate": []}
    for q in result["quarters"]:
        weeks = [w for w in q["weeks"] if w["actual"]]
        if not weeks:
            continue
        quarters += 1
        first = weeks[0]
        actual = first["actual"]
        errors = {m: error_pct(first[m], actual) for m in all_abs}
        mean_abs = {}
        for m in all_abs:
            values = [abs(error_pct(w[m], w["actual"])) for w in weeks]
            all_abs[m].extend(values)
            mean_abs[m] = sum(values) / len(values)
        inside_q = sum(w["p10"] <= w["actual"] <= w["p90"] for w in weeks)
        inside_nb = sum(w["nb_p10"] <= w["actual"] <= w["nb_p90"] for w in weeks)
        inside += inside_q
        inside_nb_total += inside_nb
        weeks_total += len(weeks)
        start_better += abs(errors["model"]) < abs(errors["stage_weighted"])
        weekly_better += mean_abs["model"] < mean_abs["stage_weighted"]
        lines.append(f"| {q['quarter']} | {actual:,.0f} | {first['model']:,.0f} ({first['p10']:,.0f}-{first['p90']:,.0f}) | "
                     f"{pct(errors['model'])} | {pct(errors['with_new_business'])} | {first['stage_weighted']:,.0f} | "
                     f"{pct(errors['stage_weighted'])} | {first['stage_win_rate']:,.0f} | {pct(errors['stage_win_rate'])} | "
                     f"{mean_abs['model']:.0f}% / {mean_abs['with_new_business']:.0f}% / {mean_abs['stage_weighted']:.0f}% / "
                     f"{mean_abs['stage_win_rate']:.0f}% | "
                     f"{inside_q} / {inside_nb} of {len(weeks)} |")
    if quarters:
        mean = {m: sum(v) / len(v) for m, v in all_abs.items() if v}
        lines += ["", f"The model's forecast had the lower absolute error than the stage-weighted one at the start of "
                      f"**{start_better} of {quarters}** quarters and over the weeks of **{weekly_better} of {quarters}**; "
                      f"mean absolute error over every week: model {mean['model']:.0f}% (with new business "
                      f"{mean['with_new_business']:.0f}%), stage-weighted "
                      f"{mean['stage_weighted']:.0f}%, stage win rate {mean['stage_win_rate']:.0f}%. The actual fell inside "
                      f"the model's P10-P90 range in **{inside} of {weeks_total} weeks ({inside / weeks_total:.0%})**; in the range "
                      f"widened by new business in {inside_nb_total} ({inside_nb_total / weeks_total:.0%})."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="maven,demo")
    parser.add_argument("--demo-deals", type=int, default=3000)
    parser.add_argument("--write-docs", type=Path, help="replace the backtest section of this Markdown file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.result)
        return
    from winmodel import _run, prepare

    load_before = os.getloadavg()
    blocks = []
    for dataset in args.datasets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"backtest-{dataset}-") as tmp:
            print(f"{dataset}: importing into a scratch SQLite database", file=sys.stderr)
            env = prepare(dataset, Path(tmp), args.demo_deals)
            out = Path(tmp) / "result.json"
            _run([sys.executable, __file__, "--worker", dataset, "--result", str(out)], env)
            blocks.append(summarise(json.loads(out.read_text())))
    load_after = os.getloadavg()
    text = "\n\n".join(blocks)
    text += (f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, Python "
             f"{platform.python_version()}; load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end. "
             "Errors are (forecast - won) / won: + optimistic, - short. Stage-weighted: the dashboard's stage percentages "
             "(a stage the table does not name counts at the deal's own probability, else 0); stage win rate: the share of "
             "the earlier closed deals that won after reaching the stage.")
    print(text)
    if args.write_docs:
        from docs_section import command_line, write_section

        write_section(args.write_docs, MARKER, "Forecast backtest (bench/forecast_backtest.py)",
                      command_line("bench/forecast_backtest.py", args.write_docs), text)


if __name__ == "__main__":
    main()
