"""Progress of running imports, shared between the worker and the web pages through the cache.

The import itself is one database transaction, invisible to other connections until it
commits, so its progress cannot live in the database.
"""

from __future__ import annotations

from django.core.cache import cache

from .models import ImportRun, ImportStatus

TTL = 24 * 3600


def write_progress(run: ImportRun, done: int, total: int, label: str) -> None:
    cache.set(run.progress_key, {"done": done, "total": total, "label": label}, TTL)


def read_progress(run: ImportRun) -> dict | None:
    """{"done", "total", "label"} while the run is under way, else None."""
    if run.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return None
    return cache.get(run.progress_key) or {"done": 0, "total": 0, "label": "waiting for the worker"}


def clear_progress(run: ImportRun) -> None:
    cache.delete(run.progress_key)
