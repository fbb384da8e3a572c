"""The forecast as plain data (dicts of numbers, text and dates): what the API answers, the CLI prints as
JSON and the CSV downloads hold. One shape everywhere."""

from __future__ import annotations

from .changes import DealChanges
from .models import ForecastCall, ForecastSnapshot
from .rollup import CATEGORY_LABELS, Derived
from .selectors import DealRow, ModelForecast, PersonForecast, Unit


def _f(value) -> float | None:
    return None if value is None else round(float(value), 2)


def person_ref(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": str(user), "role": user.role, "team": str(user.team) if user.team_id else ""}


def call_dict(call: ForecastCall | None) -> dict | None:
    if call is None:
        return None
    return {"id": call.pk, "version": call.seq + 1, "kind": call.kind, "period": _period_label(call),
            "commit": _f(call.commit), "best_case": _f(call.best_case), "currency": call.currency, "note": call.note,
            "derived_commit": _f(call.derived_commit), "derived_best_case": _f(call.derived_best_case),
            "model_expected": _f(call.model_expected), "model_p10": _f(call.model_p10), "model_p90": _f(call.model_p90),
            "target": _f(call.target), "submitted_by": str(call.submitted_by) if call.submitted_by else "",
            "submitted_by_id": call.submitted_by_id, "submitted_at": call.submitted_at, "week": call.week}


def _period_label(call) -> str:
    from .rollup import Period

    return Period(call.period_kind, call.period_start, call.period_end).label


def derived_dict(d: Derived) -> dict:
    return {"won": _f(d.won), "commit": _f(d.commit), "best_case": _f(d.best_case), "pipeline": _f(d.pipeline)}


def model_dict(m: ModelForecast) -> dict:
    return m.as_dict()


def unit_dict(u: Unit) -> dict:
    call = u.call if not u.is_own_deals else None
    return {
        "person": person_ref(u.person), "label": u.label, "is_team": u.has_team, "own_deals": u.is_own_deals,
        "call": call_dict(call), "own_call": call_dict(u.calls.own), "overridden": u.calls.override is not None,
        "changed_after_override": u.calls.changed_after_override, "version": u.calls.version,
        "derived": derived_dict(u.derived), "model": model_dict(u.model), "stage_weighted": _f(u.stage_weighted),
        "target": _f(u.target), "gap_to_call": _f(u.gap_to_call), "gap_to_model": _f(u.gap_to_model),
        "deals": len(u.deals),
    }


def deal_dict(d: DealRow) -> dict:
    return {"id": d.id, "name": d.name, "account": d.account, "owner": d.owner, "owner_id": d.owner_id, "stage": d.stage,
            "amount": _f(d.amount), "currency": d.currency, "close_date": d.close_date, "status": d.status,
            "category": d.category, "category_label": CATEGORY_LABELS.get(d.category, d.category),
            "crm_category": d.crm_category, "category_version": d.category_version, "category_set_by": d.category_set_by,
            "category_set_at": d.category_set_at, "category_note": d.category_note,
            "category_is_override": d.category_is_override,
            "probability": None if d.probability is None else round(d.probability, 4),
            "probability_method": d.probability_method,
            "rep_probability": None if d.rep_probability is None else round(d.rep_probability, 4)}


def forecast_document(f: PersonForecast, viewer=None) -> dict:
    """A person's forecast: the call beside the model's forecast (with its range), the stage-weighted
    forecast, the target and the gap, what it rests on, and the roll-up rows."""
    from .selectors import may_override

    u = f.unit
    return {
        "person": person_ref(f.person),
        "period": {"label": f.period.label, "kind": f.period.kind, "start": f.period.start, "end": f.period.end},
        "week": f.week, "version": f.version,
        "call": call_dict(f.call), "own_call": call_dict(f.calls.own), "override": call_dict(f.calls.override),
        "changed_after_override": f.calls.changed_after_override,
        "derived": derived_dict(f.derived), "model": model_dict(f.model), "stage_weighted": _f(u.stage_weighted),
        "target": _f(u.target), "gap_to_call": _f(u.gap_to_call), "gap_to_model": _f(u.gap_to_model),
        "deals": len(f.deals), "history": f.history,
        "rows": [unit_dict(r) for r in f.rows],
        "may_submit": viewer is not None and f.person is not None and viewer.pk == f.person.pk,
        "may_override": viewer is not None and f.person is not None and may_override(viewer, f.person),
    }


def snapshot_dict(s: ForecastSnapshot) -> dict:
    return {"week": s.week, "call_commit": _f(s.call_commit), "call_best_case": _f(s.call_best_case),
            "derived_commit": _f(s.derived_commit), "derived_best_case": _f(s.derived_best_case), "won": _f(s.won),
            "model_expected": _f(s.model_expected), "model_p10": _f(s.model_p10), "model_p50": _f(s.model_p50),
            "model_p90": _f(s.model_p90), "stage_weighted": _f(s.stage_weighted), "target": _f(s.target),
            "open_deals": s.open_deals, "won_deals": s.won_deals}


def changes_document(c: DealChanges) -> dict:
    return {"week": c.week, "since": c.since, "period": c.period.label, "source": c.source, "notes": c.notes,
            "weeks": c.weeks, "counts": c.counts(), "teams": c.by_team(), "bridge": c.bridge,
            "rows": [r.as_row() for r in c.rows]}
