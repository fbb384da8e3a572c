"""Receiving big uploads safely: a size limit enforced while the bytes arrive, and file names
that cannot escape their folder."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils import timezone
from django.utils.text import get_valid_filename


class UploadLimitHandler(FileUploadHandler):
    """Stops receiving a file once it passes `limit` bytes, before it fills the disk.

    Put it first in `request.upload_handlers` (the view must be csrf_exempt and check CSRF
    itself, see Django's "Modifying upload handlers on the fly"). When it stops an upload the
    rest of the request body is read and thrown away, `exceeded` is set, and the file is
    missing from `request.FILES`.
    """

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handler (memory or temporary file) builds the file


def safe_filename(name: str, *, default_stem: str = "upload", max_stem: int = 100) -> str:
    """The base name of an uploaded file with only safe characters (no folders, no dot files)."""
    base = Path(str(name).replace("\\", "/")).name
    suffix = Path(base).suffix.lower()
    stem = Path(base).stem[:max_stem]
    try:
        stem = get_valid_filename(stem).lstrip(".") or default_stem
    except SuspiciousFileOperation:
        stem = default_stem
    try:
        suffix = "." + get_valid_filename(suffix.lstrip(".")) if suffix else ""
    except SuspiciousFileOperation:
        suffix = ""
    return f"{stem}{suffix}"


def new_upload_folder(root: Path) -> Path:
    """A fresh folder under `root` named by time and a random id, so uploads never collide."""
    folder = Path(root) / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def save_upload(uploaded, folder: Path, name: str | None = None) -> Path:
    """Write an uploaded file into `folder` (in chunks) under a safe version of its own name."""
    path = Path(folder) / safe_filename(name or uploaded.name)
    with path.open("wb") as out:
        for chunk in uploaded.chunks():
            out.write(chunk)
    return path
