"""Reading an uploaded file's text in the task worker (django-tasks), never in the web request: a
crafted file can cost seconds and memory to read, which a web worker must not spend."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tasks import task


@task()
def extract_module_text(module_id: int, file_name: str) -> str:
    """Read the text of the module's file, if it is still the file that was uploaded (a newer upload
    queues its own run). The text is derived data: written without a new version or history entry,
    with `updated_at` so the search and suggestion indexes see it."""
    from .files import extract_text
    from .models import ContentModule

    module = ContentModule.all_objects.filter(pk=module_id, file=file_name).first()
    if module is None:
        return "stale"
    try:
        with module.file.open("rb") as handle:
            text, status, error = extract_text(module.file_type, handle.read()), "ready", ""
    except ValidationError as exc:
        text, status, error = "", "failed", " ".join(exc.messages)[:200]
    except OSError:
        text, status, error = "", "failed", "The stored file could not be opened."
    ContentModule.all_objects.filter(pk=module_id, file=file_name).update(
        extracted_text=text, text_status=status, text_error=error, updated_at=timezone.now())
    return status
