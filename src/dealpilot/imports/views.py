"""The imports pages (sales leaders and administrators only; everyone else gets 404): upload an
export, watch the run's progress, read its outcome and download its rejected rows."""

from __future__ import annotations

import zipfile
from functools import wraps
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealpilot.web.access import leader_required
from dealpilot.web.uploads import UploadLimitHandler, new_upload_folder, save_upload

from . import progress, selectors, services
from .mapping import MappingError, load_mapping, parse_mapping_text
from .models import ImportRun

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3  # 2 GB; settings.DEALPILOT_IMPORT_MAX_UPLOAD_BYTES overrides
MAX_MAPPING_BYTES = 1024**2
RECENT_RUNS = 20

KIND_CHOICES = [
    ("salesforce", "Salesforce data export"),
    ("hubspot", "HubSpot export"),
    ("csv", "CSV files with a mapping"),
]
KIND_SUFFIXES = {"salesforce": {".zip"}, "hubspot": {".zip", ".csv"}, "csv": {".zip", ".csv"}}


def max_upload_bytes() -> int:
    return int(getattr(settings, "DEALPILOT_IMPORT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def upload_folder_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="salesforce", widget=forms.RadioSelect, label="What are you importing?")
    strict = forms.BooleanField(required=False, label="Strict: import nothing when any row is rejected")
    export = forms.FileField(label="Export file", help_text="A .zip of the export's CSV files, or one .csv file.",
                             widget=forms.ClearableFileInput(attrs={"accept": ".zip,.csv"}))
    mapping = forms.FileField(required=False, label="Mapping (YAML)",
                              help_text="Only for CSV files: which column goes where (see docs/imports.md).",
                              widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml"}))

    def __init__(self, *args, upload_too_large: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large

    def clean(self):
        data = super().clean()
        if self.upload_too_large:
            # the upload was cut off, so the fields after it never arrived: say why, once
            self.errors.clear()
            raise forms.ValidationError(f"The file is larger than the limit of {filesizeformat(max_upload_bytes())}.")
        kind, export, mapping = data.get("kind"), data.get("export"), data.get("mapping")
        if export is not None and kind:
            suffix = Path(export.name).suffix.lower()
            allowed = KIND_SUFFIXES[kind]
            if suffix not in allowed:
                self.add_error("export", f"Upload a {' or '.join(sorted(allowed))} file for this kind of import.")
            elif export.size > max_upload_bytes():
                self.add_error("export", f"The file is larger than the limit of {filesizeformat(max_upload_bytes())}.")
            elif suffix == ".zip" and not zipfile.is_zipfile(export):
                self.add_error("export", "This file is not a zip archive.")
        if kind == "csv" and mapping is None:
            self.add_error("mapping", "A CSV import needs a mapping file.")
        if mapping is not None:
            if Path(mapping.name).suffix.lower() not in {".yaml", ".yml"}:
                self.add_error("mapping", "The mapping must be a .yaml or .yml file.")
            elif mapping.size > MAX_MAPPING_BYTES:
                self.add_error("mapping", "The mapping file is too large.")
            elif kind == "csv":
                self._check_mapping(mapping)
        return data

    def _check_mapping(self, mapping) -> None:
        """Refuse a wrong mapping (a privilege field, an unknown column rule...) on the form, before
        anything is saved or read, with the mapping's own error message."""
        try:
            mapping.seek(0)
            text = mapping.read().decode("utf-8")
            load_mapping(parse_mapping_text(text, Path(mapping.name).name) or {})
        except UnicodeDecodeError:
            self.add_error("mapping", "The mapping must be UTF-8 text.")
        except MappingError as exc:
            self.add_error("mapping", str(exc))
        finally:
            mapping.seek(0)


def _index_page(request, form: ImportForm, status: int = 200):
    runs = ImportRun.objects.select_related("created_by")[:RECENT_RUNS]
    admin = services.is_sync_admin(request.user)
    return render(request, "imports/index.html", {
        "form": form, "runs": runs, "max_upload": max_upload_bytes(), "is_sync_admin": admin,
        "open_conflicts": selectors.conflicts("open").count() if admin else 0,
    }, status=status)


@csrf_exempt  # CSRF is checked in _upload, after the size-limiting handler is in place
@leader_required
@require_http_methods(["GET", "POST"])
def index(request):
    if request.method != "POST":
        return _index_page(request, ImportForm())
    limiter = UploadLimitHandler(request, limit=max_upload_bytes())
    request.upload_handlers.insert(0, limiter)
    return _upload(request, limiter)


@csrf_protect
def _upload(request, limiter: UploadLimitHandler):
    form = ImportForm(request.POST, request.FILES, upload_too_large=limiter.exceeded)
    if not form.is_valid():
        return _index_page(request, form, status=400)
    folder = new_upload_folder(upload_folder_root())
    export_path = save_upload(form.cleaned_data["export"], folder)
    mapping = form.cleaned_data.get("mapping")
    mapping_path = save_upload(mapping, folder, name="mapping.yaml") if mapping is not None and form.cleaned_data["kind"] == "csv" else None
    run = services.start_import(form.cleaned_data["kind"], export_path, user=request.user,
                                strict=form.cleaned_data["strict"], mapping_path=mapping_path,
                                source_name=form.cleaned_data["export"].name)
    return redirect("imports:run", pk=run.pk)


def _run_context(run: ImportRun) -> dict:
    prog = progress.read_progress(run)
    return {
        "run": run,
        "message": services.without_server_paths(run, run.message),  # runs recorded before it was so kept paths
        "progress": prog,
        "running": prog is not None,
        "steps": (run.summary or {}).get("steps", []),
        "has_error_file": _error_file(run) is not None,
    }


@leader_required
@require_GET
def run_detail(request, pk: int):
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    return render(request, "imports/run.html", _run_context(run))


@leader_required
@require_GET
def run_status(request, pk: int):
    """The part of the run page that htmx polls every second while the import runs."""
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    return render(request, "imports/_run_status.html", _run_context(run))


def _error_file(run: ImportRun) -> Path | None:
    """The run's error file, only when it lies in the import-errors folder and exists."""
    if not run.error_file:
        return None
    root = Path(settings.IMPORT_ERRORS_DIR).resolve()
    path = Path(run.error_file).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@leader_required
@require_GET
def run_errors(request, pk: int):
    run = get_object_or_404(ImportRun, pk=pk)
    path = _error_file(run)
    if path is None:
        raise Http404("This import has no error file")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{run.pk}-{run.kind}-rejected-rows.csv",
                        content_type="text/csv")


# ---- re-import conflicts (administrators only: others 403, no login -> the login page) ---------------------


def admin_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.is_sync_admin(request.user):
            raise PermissionDenied("Only administrators resolve import conflicts and set field owners.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


@admin_required
@require_GET
def conflicts(request):
    state = request.GET.get("state", "open")
    if state not in ("open", "resolved", "all"):
        state = "open"
    queryset = selectors.conflicts(state)
    page = Paginator(queryset, 100).get_page(request.GET.get("page"))
    owners = selectors.field_owners()
    return render(request, "imports/conflicts.html", {
        "page": page, "state": state, "owners": owners,
        "dealpilot_owned": [o for o in owners if o["owner"] == "dealpilot"],
        "targets": services.ownable_fields(),
    })


@admin_required
@require_POST
def resolve_conflict(request, pk: int):
    try:
        services.resolve_conflict(request.user, pk, request.POST.get("keep", ""))
    except services.ConflictNotFound:
        raise Http404("No such conflict") from None
    except (services.AlreadyResolved, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Conflict resolved.")
    return redirect("imports:conflicts")


@admin_required
@require_POST
def set_field_owner(request):
    target, _, field = request.POST.get("field", "").partition(".")
    try:
        owner = services.set_field_owner(request.user, target, field, request.POST.get("owner", ""))
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target}.{field}: {'dealpilot keeps its value' if owner == 'dealpilot' else 'the CRM wins'}.")
    return redirect("imports:conflicts")
