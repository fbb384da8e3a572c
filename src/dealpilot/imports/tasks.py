"""The background import task (django-tasks): the web's way to run an import."""

from __future__ import annotations


from django_tasks import task

from .services import execute_import_run


@task()
def run_import_task(import_run_id: int) -> str:
    from .models import ImportRun

    run = ImportRun.objects.get(pk=import_run_id)
    execute_import_run(run)
    return run.status
