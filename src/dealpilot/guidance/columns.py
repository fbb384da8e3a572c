"""The risk columns of the opportunity lists: the win probability (as last scored), its change since last
week's snapshot and the number of the deal's signals, as queryset annotations, so the lists sort by them
in the database however many deals there are."""

from __future__ import annotations

from datetime import date

from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery, Value

RISK_SORTS = {
    "win": [F("win_probability").desc(nulls_last=True), F("id").asc()],
    "-win": [F("win_probability").asc(nulls_last=True), F("id").asc()],
    "change": [F("probability_change").asc(nulls_last=True), F("id").asc()],  # the biggest drop first
    "-change": [F("probability_change").desc(nulls_last=True), F("id").asc()],
    "risks": [F("risk_count").desc(nulls_last=True), F("amount").desc(nulls_last=True), F("id").asc()],
}


def with_risk_columns(opportunities: QuerySet, today: date) -> QuerySet:
    from dealpilot.forecasting.models import DealSnapshot

    from .deals import last_snapshot_week

    qs = opportunities.annotate(win_probability=F("win_score__probability") * 100.0,
                                risk_count=F("win_score__vulnerability_count"),
                                risk_signals=F("win_score__vulnerabilities"))
    week = last_snapshot_week(today)
    if week is None:
        none = Value(None, output_field=FloatField())
        return qs.annotate(last_week_probability=none, probability_change=none)
    then = DealSnapshot.objects.filter(opportunity_id=OuterRef("pk"), week=week).values("probability")[:1]
    return qs.annotate(last_week_probability=Subquery(then, output_field=FloatField()) * 100.0).annotate(
        probability_change=F("win_probability") - F("last_week_probability"))
