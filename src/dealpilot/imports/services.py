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
                               strict=run.strict, progress=progress, run_id=run.pk)
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
             "unchanged": s.unchanged, "unchanged_skipped": s.unchanged_skipped, "rejected": s.rejected,
             "skipped": s.skipped, "conflicts": s.conflicts, "kept": s.kept, "notes": s.notes}
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


# ---- re-import conflicts and field owners (imports/sync.py) -----------------------------------------------


class NotAdmin(PermissionError):
    """Conflicts and field owners are for administrators (answered 403)."""


class ConflictNotFound(LookupError):
    """No such conflict (404)."""


class AlreadyResolved(ValueError):
    """The conflict was resolved before (409)."""


def is_sync_admin(user) -> bool:
    """Administrators (and superusers) resolve re-import conflicts and set field owners."""
    from dealpilot.crm.models import Role

    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_superuser or user.role == Role.ADMIN))


def require_sync_admin(user) -> None:
    if not is_sync_admin(user):
        raise NotAdmin("Only administrators resolve import conflicts and set field owners.")


def ownable_fields() -> dict[str, list[str]]:
    """target -> the CRM fields an admin may hand to dealpilot: those of the records people edit in dealpilot."""
    from .mapping import IMPORTABLE_FIELDS, TARGETS, VERSION_FIELD

    return {target: sorted(IMPORTABLE_FIELDS[target] - {"crm_id", "extra"}) for target, model in TARGETS.items()
            if any(f.name == VERSION_FIELD for f in model._meta.concrete_fields)}


def set_field_owner(user, target: str, field: str, owner: str) -> str:
    """Who keeps `target.field` when the CRM and dealpilot both changed it: "crm" (the default) or "dealpilot"."""
    from .models import FieldOwner, Owner

    require_sync_admin(user)
    fields = ownable_fields()
    if target not in fields:
        raise ValueError(f"unknown target {target!r}; field owners apply to: {', '.join(sorted(fields))}")
    if field not in fields[target]:
        raise ValueError(f"{target} has no CRM field {field!r}; its fields: {', '.join(fields[target])}")
    if owner not in Owner.values:
        raise ValueError(f"owner must be one of {', '.join(Owner.values)}")
    if owner == Owner.CRM:
        FieldOwner.objects.filter(target=target, field=field).delete()  # the default needs no row
    else:
        FieldOwner.objects.update_or_create(target=target, field=field, defaults={"owner": owner})
    return owner


def _typed(model_field, text):
    """A conflict's canonical text (sync.canon) as the field's Python value."""
    import json
    from datetime import datetime, timezone as tz

    from django.db import models

    if text is None:
        return None
    if isinstance(model_field, models.ForeignKey):
        return int(text)
    if isinstance(model_field, models.BooleanField):
        return text == "1"
    if isinstance(model_field, models.DateTimeField):
        return datetime.fromisoformat(text).replace(tzinfo=tz.utc)
    if isinstance(model_field, models.JSONField):
        return json.loads(text)
    return model_field.to_python(text)


def resolve_conflict(user, conflict_id: int, keep: str):
    """Settle a conflict: keep the CRM's value or dealpilot's. The chosen value is written through the
    model (crm's concurrency service: the version is bumped, the field history names `user`) when the
    record holds another; the next import keeps it while the CRM does not change the field again."""
    from django.db import transaction

    from dealpilot.concurrency import save_if_current

    from .mapping import TARGETS
    from .models import Resolution, SyncConflict

    require_sync_admin(user)
    with transaction.atomic():
        conflict = SyncConflict.objects.select_for_update().filter(pk=conflict_id).first()
        if conflict is None:
            raise ConflictNotFound(f"conflict {conflict_id} not found")
        if keep not in Resolution.values:
            raise ValueError(f"keep must be one of {', '.join(Resolution.values)}")
        if conflict.resolved_at is not None:
            raise AlreadyResolved(f"conflict {conflict_id} was resolved on {conflict.resolved_at:%Y-%m-%d %H:%M}")
        model = TARGETS[conflict.target]
        record = model._base_manager.filter(pk=conflict.record_id).first()
        if record is not None:
            model_field = model._meta.get_field(conflict.field)
            value = _typed(model_field, (conflict.raw or {}).get(keep))
            if model_field.is_relation and value is not None and not model_field.related_model._base_manager.filter(pk=value).exists():
                raise ValueError(f"the {conflict.field.replace('_', ' ')} that value names no longer exists")
            if getattr(record, model_field.attname) != value:
                save_if_current(record, None, label=str(model._meta.verbose_name), **{model_field.attname: value})
        conflict.resolution, conflict.resolved_by, conflict.resolved_at = keep, user, timezone.now()
        conflict.save(update_fields=["resolution", "resolved_by", "resolved_at"])
    return conflict
