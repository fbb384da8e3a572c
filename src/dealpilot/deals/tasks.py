"""The background training of the win model (django-tasks), queued from the page, the API or
`dealpilot deals train --background`; `request_training` is the one way to queue it."""

from __future__ import annotations

from django_tasks import task


@task()
def train_win_model_task(run_id: int) -> str:
    from .models import WinModelRun
    from .scoring import train_model

    run = WinModelRun.objects.get(pk=run_id)
    return train_model(run).status


def request_training(user=None):
    """Record a queued run and hand it to the task worker; returns the run."""
    from django.db import transaction

    from .models import WinModelRun

    run = WinModelRun.objects.create(requested_by=user)
    transaction.on_commit(lambda: train_win_model_task.enqueue(run.pk))
    return run
