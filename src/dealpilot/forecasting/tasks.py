"""The weekly snapshot as a background task (django-tasks): the worker can run it on a schedule later;
`dealpilot forecast snapshot` runs the same function in the foreground."""

from __future__ import annotations

from django_tasks import task

from .services import SnapshotResult, take_snapshot


def snapshot_now(period_kind: str = "quarter", score: bool = True) -> SnapshotResult:
    return take_snapshot(period_kind=period_kind, score=score)


@task()
def weekly_snapshot(period_kind: str = "quarter") -> dict:
    """Idempotent per ISO week: enqueue it as often as you like."""
    result = snapshot_now(period_kind)
    return {"week": result.week.isoformat(), "taken": result.taken, "deals": result.deals, "people": result.people}
