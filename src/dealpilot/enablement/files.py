"""Uploaded content files: only PDF, DOCX and PPTX, under a size limit, checked to really be what
their name says (magic bytes and the parts a real Office file has), and read for their text by
pypdf / python-docx / python-pptx. Nothing in a file is ever executed or served inline."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from dealpilot.web.uploads import safe_filename

MAX_FILE_BYTES = 20 * 1024 * 1024  # 20 MB: decks with images; anything larger belongs in a DAM
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # an Office file that unpacks to more is a zip bomb
MAX_PDF_PAGES = 500
MAX_TEXT_CHARS = 200_000  # enough for search and relevance; keeps rows small

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# The part a real Word / PowerPoint package must contain.
OFFICE_MAIN_PART = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml"}


@dataclass
class CheckedFile:
    name: str
    file_type: str
    size: int
    text: str
    data: bytes


def check_upload(name: str, data: bytes) -> CheckedFile:
    """Validate an upload and extract its text; raises ValidationError with a message for the user."""
    safe = safe_filename(name, default_stem="content")
    file_type = Path(safe).suffix.lower().lstrip(".")
    if file_type not in CONTENT_TYPES:
        raise ValidationError("Only PDF, DOCX and PPTX files can be uploaded.")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise ValidationError("The file is empty.")
    if file_type == "pdf":
        if not data.startswith(b"%PDF-"):
            raise ValidationError("The file is not a PDF document.")
        text = _pdf_text(data)
    else:
        _check_office_package(data, file_type)
        text = _docx_text(data) if file_type == "docx" else _pptx_text(data)
    return CheckedFile(name=safe, file_type=file_type, size=len(data), text=" ".join(text.split())[:MAX_TEXT_CHARS], data=data)


def _check_office_package(data: bytes, file_type: str) -> None:
    label = "Word (DOCX)" if file_type == "docx" else "PowerPoint (PPTX)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(f"The file is not a {label} document.") from None
    if "[Content_Types].xml" not in names or OFFICE_MAIN_PART[file_type] not in names:
        raise ValidationError(f"The file is not a {label} document.")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise ValidationError("Files with macros are not accepted.")
    if unzipped > MAX_UNZIPPED_BYTES:
        raise ValidationError("The file unpacks to too much data.")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ValidationError("Encrypted PDF files cannot be read for search; upload an unprotected copy.")
        parts, total = [], 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            total += len(chunk)
            if total > MAX_TEXT_CHARS:
                break
        return "\n".join(parts)
    except ValidationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise ValidationError("The PDF file could not be read.") from None


def _docx_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises many kinds on a broken package  # noqa: BLE001
        raise ValidationError("The Word file could not be read.") from None
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def _pptx_text(data: bytes) -> str:
    import pptx

    try:
        presentation = pptx.Presentation(io.BytesIO(data))
    except Exception:  # noqa: BLE001
        raise ValidationError("The PowerPoint file could not be read.") from None
    parts = []
    for slide in presentation.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
    return "\n".join(parts)
