"""Win probabilities for open deals, with reasons up and down in words: from the trained win model
when there is one, otherwise from the knowledge rules on top of the stage's historical win rate
(and the answer says so). The rep's own probability is read, shown beside, never written.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Source, StageHistory
from dealpilot.crm.visibility import OPPORTUNITY_NOT_IN_BIN

from . import winmodel
from .features import FeatureContext, TrackRecords, features, rule_context, training_rows
from .knowledge import active_rules, ensure_defaults, evaluate_rules
from .models import ModelStatus, QualificationQuestion, SignalSettings, WinModelRun, WinScore
from .records import DealRecord, DealState, current_state, load_records
from .signals import Coverage, StageNorms, Vulnerability, coverage, stage_norms, vulnerabilities

log = logging.getLogger(__name__)

MODELS_DIR = "models"
MIN_STAGE_DEALS = 10  # closed deals that passed a stage before its win rate is trusted
DEFAULT_BASE = 0.2
MIN_REASON = 0.03  # log-odds: smaller effects are not worth a sentence
DIFFERENCE_SHOWN = 0.15  # model and rep differing by this much or more: say why


@dataclass
class Reason:
    text: str
    effect: float  # log-odds

    @property
    def strength(self) -> str:
        size = abs(self.effect)
        return "strong" if size >= 0.5 else "moderate" if size >= 0.2 else "slight"

    def as_dict(self) -> dict:
        return {"text": self.text, "effect": round(self.effect, 3), "strength": self.strength}


@dataclass
class DealScore:
    opportunity_id: int
    probability: float
    method: str  # "model" or "rules"
    reasons_up: list[Reason]
    reasons_down: list[Reason]
    note: str
    model_run_id: int | None = None
    vulnerabilities: list[dict] = field(default_factory=list)  # [{code, title}] of the insight it was scored from


@dataclass
class DealInsight:
    """Everything the opportunity page shows about one open deal."""

    state: DealState
    vulnerabilities: list[Vulnerability]
    coverage: Coverage
    rule_score: float
    fired_rules: list = field(default_factory=list)


# ---- the active model --------------------------------------------------------------------------

_loaded: dict[str, tuple[float, winmodel.WinModel, dict]] = {}


def models_dir() -> Path:
    return Path(django_settings.DATA_DIR) / MODELS_DIR


def active_run() -> WinModelRun | None:
    return WinModelRun.objects.filter(is_active=True, status=ModelStatus.DONE).order_by("-id").first()


def load_active_model() -> tuple[WinModelRun, winmodel.WinModel] | None:
    run = active_run()
    if run is None or not run.file:
        return None
    path = Path(django_settings.DATA_DIR) / run.file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        log.warning("the active win model's file %s is missing; falling back to the knowledge rules", path)
        return None
    cached = _loaded.get(str(path))
    if cached is None or cached[0] != mtime:
        model, meta = winmodel.load(path)
        _loaded[str(path)] = cached = (mtime, model, meta)
    return run, cached[1]


# ---- context shared by a batch --------------------------------------------------------------------


@dataclass
class ScoringContext:
    settings: SignalSettings
    norms: StageNorms
    rules: list
    questions: dict[str, str]  # key -> text
    stage_rates: dict[str, tuple[float, int]]
    base_rate: float | None
    features: FeatureContext | None = None
    model: winmodel.WinModel | None = None
    run: WinModelRun | None = None


def stage_win_rates() -> tuple[dict[str, tuple[float, int]], float | None]:
    """Of the closed deals that went through each stage, the share won (one query), and the
    overall win rate of closed deals."""
    rows = (StageHistory.objects.filter(OPPORTUNITY_NOT_IN_BIN, opportunity__is_closed=True).values("stage")
            .annotate(deals=Count("opportunity", distinct=True),
                      won=Count("opportunity", filter=Q(opportunity__is_won=True), distinct=True)))
    rates = {r["stage"]: (r["won"] / r["deals"], r["deals"]) for r in rows if r["deals"]}
    totals = Opportunity.objects.filter(is_closed=True).aggregate(n=Count("id"), won=Count("id", filter=Q(is_won=True)))
    base = totals["won"] / totals["n"] if totals["n"] else None
    return rates, base


_computed: dict[str, tuple[tuple, object]] = {}


def data_version(*tables, seen: dict | None = None) -> tuple:
    """What changes whenever a table's rows do: its count, highest id and latest update. Each is a scan
    of the table; `seen` (a dict kept for one request) reads each table once however often it is asked."""
    seen = {} if seen is None else seen
    version = [connection.settings_dict["NAME"]]
    with connection.cursor() as cursor:
        for model in tables:
            if model not in seen:
                qn = connection.ops.quote_name
                cursor.execute(f"SELECT COUNT(*), MAX({qn('id')}), MAX({qn('updated_at')}) FROM {qn(model._meta.db_table)}")
                seen[model] = tuple(str(v) for v in cursor.fetchone())
            version.append(seen[model])
    return tuple(version)


def cached(name: str, tables: tuple, compute, *, seen: dict | None = None):
    """`compute()`, reused while the tables it reads are unchanged (per process)."""
    version = data_version(*tables, seen=seen)
    hit = _computed.get(name)
    if hit is None or hit[0] != version:
        hit = _computed[name] = (version, compute())
    return hit[1]


def scoring_context(*, with_model: bool = True) -> ScoringContext:
    ensure_defaults()
    seen: dict = {}  # each table's version read once (the stage history was scanned twice per deal page)
    ctx = ScoringContext(settings=SignalSettings.current(), norms=cached("norms", (StageHistory, Opportunity), stage_norms, seen=seen),
                         rules=active_rules(),
                         questions=dict(QualificationQuestion.objects.filter(is_active=True).values_list("key", "text")),
                         stage_rates={}, base_rate=None)
    ctx.stage_rates, ctx.base_rate = cached("stage_rates", (StageHistory, Opportunity), stage_win_rates, seen=seen)
    if with_model:
        try:
            loaded = load_active_model()
        except winmodel.ModelFileError as exc:
            log.warning("win model not usable: %s", exc)
            loaded = None
        if loaded:
            ctx.run, ctx.model = loaded
            ctx.features = FeatureContext.build(ctx.rules, ctx.settings, ctx.norms,
                                                cached("tracks", (Opportunity,), TrackRecords.from_db, seen=seen))
            # the model was trained with its own question columns: use those
            ctx.features.questions = [c[2:] for c in ctx.model.encoder.columns if c.startswith("q:")]
    return ctx


# ---- insight and score of open deals ----------------------------------------------------------------


def insight(state: DealState, ctx: ScoringContext) -> DealInsight:
    vulns = vulnerabilities(state, ctx.settings, ctx.norms)
    score, fired = evaluate_rules(ctx.rules, rule_context(state, [v.code for v in vulns]))
    return DealInsight(state, vulns, coverage(state), score, fired)


def _logit(p: float) -> float:
    p = min(max(p, 0.001), 0.999)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def rules_score(item: DealInsight, ctx: ScoringContext) -> DealScore:
    """The fallback: the stage's historical win rate (else the overall one, else 20%) moved by the
    knowledge rules' weights."""
    state = item.state
    stage_rate = ctx.stage_rates.get(state.stage)
    if stage_rate and stage_rate[1] >= MIN_STAGE_DEALS:
        base, base_text = stage_rate[0], f"{stage_rate[0]:.0%} of {stage_rate[1]} closed deals that reached {state.stage} were won"
    elif ctx.base_rate is not None:
        base, base_text = ctx.base_rate, f"{ctx.base_rate:.0%} of closed deals were won"
    else:
        base, base_text = DEFAULT_BASE, f"no closed deals yet: a starting point of {DEFAULT_BASE:.0%}"
    p = _sigmoid(_logit(base) + item.rule_score)
    up = [Reason(f.reason, f.weight) for f in item.fired_rules if f.weight > 0]
    down = [Reason(f.reason, f.weight) for f in item.fired_rules if f.weight < 0]
    up.sort(key=lambda r: -r.effect)
    down.sort(key=lambda r: r.effect)
    n = ctx.settings.reasons_shown
    note = ("Knowledge rules and stage win rate: there is too little closed-deal history to train the win model "
            f"(needs {ctx.settings.min_training_deals} closed deals). Base: {base_text}.")
    return DealScore(state.record.id, p, "rules", up[:n], down[:n], note)


SOURCE_LABELS = dict(Source.choices)


def _describe(group: str, row: dict, state: DealState, ctx: ScoringContext, item: DealInsight) -> str:
    v = row
    rec = state.record
    if group == "amount":
        return f"Amount {rec.currency} {state.amount:,.0f}" if state.amount is not None else "No amount recorded"
    if group == "age":
        return f"{int(v['age_days'])} days since the deal was created" if not math.isnan(v["age_days"]) else "Creation date unknown"
    if group == "stage":
        return f"In stage {state.stage}" if state.stage else "No stage history recorded"
    if group == "stage_changes":
        return f"{v['stage_changes']} stage change{'s' if v['stage_changes'] != 1 else ''} so far"
    if group == "days_in_stage":
        d = v["days_in_stage"]
        if math.isnan(d):
            return "Time in stage unknown"
        norm = ctx.norms.median_days.get(state.stage)
        usual = f"; deals here usually move on after {norm:.0f}" if norm else ""
        return f"{int(d)} days in {state.stage or 'the current stage'}{usual}"
    if group == "moves_back":
        n = v["moves_back"]
        return f"Moved back a stage {n} time{'s' if n != 1 else ''}" if n else "Never moved back a stage"
    if group == "close_slips":
        n = v["close_slips"]
        return f"Close date pushed {n} time{'s' if n != 1 else ''}" if n else "Close date never pushed"
    if group == "days_to_close":
        d = v["days_to_close"]
        if math.isnan(d):
            return "No expected close date"
        return f"Expected close in {int(d)} days" if d >= 0 else f"{int(-d)} days past the expected close date"
    if group == "activity":
        return f"{v['activities']} activities logged, {v['activities_30d']} in the last 30 days, {v['meetings']} meetings"
    if group == "recency":
        d = v["days_since_activity"]
        return f"Last activity {int(d)} days ago" if not math.isnan(d) else "No activity logged"
    if group == "contacts":
        return (f"{v['contacts_engaged']} contact{'s' if v['contacts_engaged'] != 1 else ''} engaged, "
                f"{v['core_roles_engaged']} of 4 buying-group roles")
    if group == "decision_maker":
        return "A decision maker is engaged" if v["decision_maker_engaged"] else "No decision maker engaged"
    if group == "gatekeeper":
        n = v["gatekeeper_followups"]
        return (f"{n} follow-ups with one mid-level contact without reaching a decision maker" if n
                else "No stalled follow-ups with a mid-level contact")
    if group == "rep":
        return f"The owner's record before this deal: {v['rep_win_rate']:.0%} win rate over {v['rep_closed']} closed deals"
    if group == "account":
        return (f"This account's earlier deals: {v['account_win_rate']:.0%} (smoothed) over {v['account_closed']}"
                if v["account_closed"] else "First closed deal with this account still to come")
    if group == "rules":
        fired = sorted(item.fired_rules, key=lambda f: -abs(f.weight))[:2]
        return "Knowledge rules: " + ("; ".join(f.reason.rstrip(".") for f in fired) if fired else "none apply")
    if group == "source":
        return f"Source: {SOURCE_LABELS.get(rec.source, rec.source) or 'unknown'}"
    if group == "product":
        return f"Product: {rec.product or 'none recorded'}"
    if group.startswith("q:"):
        key = group[2:]
        answer = state.answers.get(key)
        return f"{ctx.questions.get(key, key)}: {answer if answer else 'not answered'}"
    return group


GROUPS = {"log_amount": "amount", "age_days": "age", "stage": "stage", "stage_rank": "stage", "stage_changes": "stage_changes",
          "days_in_stage": "days_in_stage", "moves_back": "moves_back", "close_slips": "close_slips",
          "days_to_close": "days_to_close", "activities": "activity", "activities_30d": "activity", "meetings": "activity",
          "days_since_activity": "recency", "contacts_engaged": "contacts", "core_roles_engaged": "contacts",
          "decision_maker_engaged": "decision_maker", "gatekeeper_followups": "gatekeeper", "rep_closed": "rep",
          "rep_win_rate": "rep", "account_closed": "account", "account_win_rate": "account", "rule_score": "rules",
          "source": "source", "product": "product"}


# What a rep can act on or must know: the buying group, activity, time in stage against the norm, pushed close
# dates, the knowledge rules and the qualification answers. The rest (the stage itself, amount, age, the number
# of stage changes, days to or past the close date, track records, source, product) describes the CRM's
# bookkeeping or the past: it informs the model but is never given as a reason.
SHOWN_GROUPS = {"contacts", "decision_maker", "gatekeeper", "activity", "recency", "days_in_stage", "close_slips", "rules"}


def reason_direction(group: str, row: dict, state: DealState, ctx: ScoringContext) -> int | None:
    """The way the methodology (and its knowledge rules) says this fact moves a deal: +1 up, -1 down, 0 either;
    None: not a reason shown to people. A model contribution the other way is a correlation of the data, not
    advice, and is not shown (a missing decision maker never reads as a reason for hope)."""
    if group.startswith("q:"):
        return 0 if state.answers.get(group[2:]) else -1  # an unanswered question is a gap, never a strength
    if group not in SHOWN_GROUPS:
        return None
    if group == "decision_maker":
        return 1 if row["decision_maker_engaged"] else -1
    if group == "contacts":
        return 1 if row["core_roles_engaged"] >= 3 else -1 if row["core_roles_engaged"] <= 1 else 0
    if group == "gatekeeper":
        return -1 if row["gatekeeper_followups"] else 0
    if group == "activity":
        return -1 if not row["activities_30d"] else 0
    if group == "recency":
        d = row["days_since_activity"]
        return -1 if math.isnan(d) or d > ctx.settings.no_activity_days else 1 if d <= 14 else 0
    if group == "days_in_stage":
        d, norm = row["days_in_stage"], ctx.norms.median_days.get(state.stage)
        if math.isnan(d) or not norm:
            return 0
        return -1 if d > norm else 1
    if group == "close_slips":
        return -1 if row["close_slips"] else 0
    if group == "rules":
        return 1 if row["rule_score"] > 0 else -1 if row["rule_score"] < 0 else 0
    return 0


def _agrees(direction: int | None, effect: float) -> bool:
    return direction is not None and (direction == 0 or (direction > 0) == (effect > 0))


def model_scores(items: list[DealInsight], ctx: ScoringContext) -> list[DealScore]:
    rows = [features(i.state, ctx.features, signal_codes=[v.code for v in i.vulnerabilities]) for i in items]
    if not rows:
        return []
    p = ctx.model.predict(rows)
    contrib = ctx.model.contributions(rows)
    columns = ctx.model.encoder.columns
    n = ctx.settings.reasons_shown
    out = []
    for k, item in enumerate(items):
        effects: dict[str, float] = {}
        for j, c in enumerate(columns):
            group = GROUPS.get(c, c)
            effects[group] = effects.get(group, 0.0) + float(contrib[k, j])
        ranked = [(g, e) for g, e in sorted(effects.items(), key=lambda kv: -abs(kv[1]))
                  if _agrees(reason_direction(g, rows[k], item.state, ctx), e)]
        up = [Reason(_describe(g, rows[k], item.state, ctx, item), e) for g, e in ranked if e >= MIN_REASON][:n]
        down = [Reason(_describe(g, rows[k], item.state, ctx, item), e) for g, e in ranked if e <= -MIN_REASON][:n]
        m = ctx.run.metrics or {}
        note = (f"Win model trained on {ctx.run.deals_train} of your closed deals "
                f"({ctx.run.created_at:%d %b %Y}); on the {ctx.run.deals_test} latest it scored AUC {m.get('auc', 0):.2f}, "
                f"calibration error {m.get('ece', 0):.1%}.")
        out.append(DealScore(item.state.record.id, float(p[k]), "model", up, down, note, ctx.run.id))
    return out


def score_records(records: dict[int, DealRecord], ctx: ScoringContext, today: date | None = None
                  ) -> tuple[list[DealInsight], list[DealScore]]:
    items = [insight(current_state(r, today), ctx) for r in records.values() if not r.is_closed]
    if ctx.model is not None and ctx.features is not None:
        scores = model_scores(items, ctx)
    else:
        scores = [rules_score(i, ctx) for i in items]
    signals = {i.state.record.id: [{"code": v.code, "title": v.title} for v in i.vulnerabilities] for i in items}
    for score in scores:
        score.vulnerabilities = signals.get(score.opportunity_id, [])
    return items, scores


def store_scores(scores: list[DealScore]) -> None:
    now = timezone.now()
    objs = [WinScore(opportunity_id=s.opportunity_id, probability=s.probability, method=s.method, model_run_id=s.model_run_id,
                     reasons_up=[r.as_dict() for r in s.reasons_up], reasons_down=[r.as_dict() for r in s.reasons_down],
                     note=s.note[:500], vulnerabilities=s.vulnerabilities, vulnerability_count=len(s.vulnerabilities),
                     scored_at=now) for s in scores]
    WinScore.objects.bulk_create(objs, batch_size=500, update_conflicts=True, unique_fields=["opportunity"],
                                 update_fields=["probability", "method", "model_run", "reasons_up", "reasons_down", "note",
                                                "vulnerabilities", "vulnerability_count", "scored_at"])


def score_open_deals(ids: list[int] | None = None, *, batch: int = 2000) -> int:
    """Score every open deal (or those ids) and store the scores; returns how many."""
    ctx = scoring_context()
    qs = Opportunity.objects.filter(is_closed=False)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    all_ids = list(qs.order_by("id").values_list("id", flat=True))
    done = 0
    for i in range(0, len(all_ids), batch):
        records = load_records(all_ids[i:i + batch])
        _, scores = score_records(records, ctx)
        with transaction.atomic():
            store_scores(scores)
        done += len(scores)
    return done


def is_fresh(score: WinScore) -> bool:
    """Whether a stored score still describes its deal: nothing about the deal, its activities,
    stage history or answers, nor the active model, changed after it was computed."""
    from dealpilot.crm.models import Activity

    from .models import QualificationAnswerChange

    opp_id, at = score.opportunity_id, score.scored_at
    run = active_run()
    if (run is None) != (score.method == "rules") or (run and score.model_run_id != run.pk):
        return False
    return not (Opportunity.objects.filter(pk=opp_id, updated_at__gt=at).exists()
                or Activity.objects.filter(opportunity_id=opp_id, updated_at__gt=at).exists()
                or StageHistory.objects.filter(opportunity_id=opp_id, updated_at__gt=at).exists()
                or QualificationAnswerChange.objects.filter(opportunity_id=opp_id, changed_at__gt=at).exists()
                or SignalSettings.objects.filter(updated_at__gt=at).exists())


def explain_difference(model_p: float, rep_p: float | None, score_up: list[dict], score_down: list[dict]) -> str:
    """Why the computed probability and the rep's differ, in a sentence (the rep's is kept as is)."""
    if rep_p is None:
        return "The rep has not given a probability for this deal."
    gap = model_p - rep_p
    if abs(gap) < DIFFERENCE_SHOWN:
        return f"Close to the rep's {rep_p:.0%}."
    reasons = score_up if gap > 0 else score_down
    because = "; ".join(r["text"] for r in reasons[:2]) or "the deal's history as a whole"
    return (f"{abs(gap):.0%} {'above' if gap > 0 else 'below'} the rep's {rep_p:.0%}, mainly: {because}. "
            "The rep's probability is kept as entered.")


# ---- training ------------------------------------------------------------------------------------------


def train_model(run: WinModelRun) -> WinModelRun:
    """Train on every closed deal, save the file (skops), activate it if trained, rescore open deals."""
    ensure_defaults()
    run.status = ModelStatus.RUNNING
    run.save(update_fields=["status"])
    try:
        settings = SignalSettings.current()
        closed = load_records(Opportunity.objects.filter(is_closed=True))
        won = sum(r.is_won for r in closed.values())
        lost = len(closed) - won
        if len(closed) < settings.min_training_deals or min(won, lost) < settings.min_training_per_class:
            run.status = ModelStatus.TOO_LITTLE_DATA
            run.message = (f"{len(closed)} closed deals ({won} won, {lost} lost); the win model needs "
                           f"{settings.min_training_deals} with {settings.min_training_per_class} of each. "
                           "Probabilities come from the knowledge rules and stage win rates until then.")
        else:
            fctx = FeatureContext.build(active_rules(), settings, stage_norms())
            rows, labels, ids, closes = training_rows(closed, fctx)
            result = winmodel.train(rows, labels, ids, closes, fctx.columns, fctx.categorical)
            relative = Path(MODELS_DIR) / f"win-{run.pk}.skops"
            winmodel.save(result.model, Path(django_settings.DATA_DIR) / relative,
                          {"run": run.pk, "trained_at": timezone.now().isoformat(), "metrics": result.metrics})
            run.file = str(relative)
            run.deals_train, run.deals_calibration, run.deals_test = result.counts
            run.metrics = {**result.metrics, "seconds": round(result.seconds, 2), "training_rows": len(rows)}
            run.status = ModelStatus.DONE
            run.message = f"Trained on {len(rows)} snapshots of {len(closed)} closed deals in {result.seconds:.1f} s."
            with transaction.atomic():
                WinModelRun.objects.exclude(pk=run.pk).update(is_active=False)
                run.is_active = True
                run.finished_at = timezone.now()
                run.save()
    except Exception as exc:  # recorded on the run for the page and the CLI; never half-activated
        log.exception("win model training failed")
        run.status = ModelStatus.FAILED
        run.message = f"{type(exc).__name__}: {exc}"
    run.finished_at = timezone.now()
    run.save()
    if run.status in (ModelStatus.DONE, ModelStatus.TOO_LITTLE_DATA):
        score_open_deals()
    return run
