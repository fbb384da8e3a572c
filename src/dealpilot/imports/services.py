"""Write paths for imports: start one in the background, run one and record how it went."""

from __future__ import annotations

import re
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .engine import import_export
from .mapping import MappingError
from .models import ImportRun, ImportStatus
from .progress import clear_progress, write_progress
from .sources import ExportError

KINDS = ("salesforce", "hubspot", "csv")


ERROR_FILE = "the error file"  # what the web page calls it: it links to the file (imports:run_errors)
# An absolute path in a message (not a URL's path: no ":" or "/" or a word right before it).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/:;,'\"()<>]+/)+([^\s/:;,'\"()<>]*)")


def original_name(name: str) -> str:
    """The base name of an uploaded file as the person's computer named it (no folders, at most 200 characters)."""
    return Path(str(name).replace("\\", "/")).name[:200]


def without_server_paths(run: ImportRun, text: str) -> str:
    """`text` with the run's files named as the person knows them, never by their place on the server: the upload
    by its original name, the mapping by its name, the error file as "the error file" (the page links to it); any other
    absolute path (an older run's message, an unexpected error's) by its last part only."""
    if not text:
        return text
    names = {run.source_path: run.source_name, run.mapping_path: Path(run.mapping_path).name, run.error_file: ERROR_FILE}
    for folder in (settings.DATA_DIR, settings.MEDIA_ROOT, settings.IMPORT_ERRORS_DIR):
        names[str(Path(folder).resolve())] = ""
        names[str(folder)] = ""
    for server_path, shown in sorted(((p, n) for p, n in names.items() if p), key=lambda pn: -len(pn[0])):
        text = text.replace(server_path, shown)
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "a folder", text)


def start_import(kind: str, path: Path, *, user=None, strict: bool = False, mapping_path: Path | None = None,
                 source_name: str | None = None) -> ImportRun:
    """Record an import and hand it to the background worker. `source_name` is the file's name as uploaded
    (the page shows it); the saved copy's name by default."""
    from .tasks import run_import_task

    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    run = ImportRun.objects.create(
        kind=kind, source_name=original_name(source_name or Path(path).name), source_path=str(path), strict=strict,
        mapping_path=str(mapping_path or ""), created_by=user if getattr(user, "pk", None) else None,
    )
    run_import_task.enqueue(run.pk)
    return run


def execute_import_run(run: ImportRun) -> ImportRun:
    """Run a recorded import now, keeping its progress in the cache and its outcome in the row."""
    run.status, run.started_at = ImportStatus.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    last = [0.0]

    def progress(done: int, total: int, label: str) -> None:
        if time.monotonic() - last[0] > 0.25 or done == total:  # at most a few cache writes a second
            last[0] = time.monotonic()
            write_progress(run, done, total, label)

    try:
        result = import_export(run.kind, Path(run.source_path), mapping_path=Path(run.mapping_path) if run.mapping_path else None,
                               strict=run.strict, progress=progress)
    except (ExportError, MappingError) as exc:
        run.status, run.message = ImportStatus.FAILED, without_server_paths(run, str(exc))
    except Exception as exc:  # an unexpected failure: the transaction rolled back; record it for the page
        run.status = ImportStatus.FAILED
        run.message = without_server_paths(run, f"unexpected error, nothing imported: {exc.__class__.__name__}: {exc}")
        raise
    else:
        run.rows_read, run.rows_imported, run.rows_rejected = result.rows_read, result.rows_imported, result.rows_rejected
        run.error_file = str(result.error_path or "")
        run.summary = {"steps": [
            {"records": s.label, "file": s.file, "read": s.read, "created": s.created, "updated": s.updated,
             "unchanged": s.unchanged, "rejected": s.rejected, "skipped": s.skipped, "notes": s.notes}
            for s in result.steps
        ]}
        run.message = result.summary(error_file=ERROR_FILE)
        if not result.committed:
            run.status = ImportStatus.REJECTED
        else:
            run.status = ImportStatus.PARTIAL if result.rejections else ImportStatus.DONE
    finally:
        run.finished_at = timezone.now()
        run.save()
        clear_progress(run)
    return run
