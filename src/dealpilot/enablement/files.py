"""Uploaded content files: only PDF, DOCX and PPTX, under a size limit, checked to really be what
their name says (magic bytes and the parts a real Office file has), and read for their text by
pypdf and a streaming XML reader in the task worker. Nothing in a file is ever executed or served inline."""

from __future__ import annotations

import io
import re
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from dealpilot.web.uploads import safe_filename

MAX_FILE_BYTES = 20 * 1024 * 1024  # 20 MB: decks with images; anything larger belongs in a DAM
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # an Office file that really unpacks to more is a zip bomb
MAX_UNZIP_RATIO = 100  # unpacked bytes per packed byte: text XML packs ~5-20x, a bomb 1000x and more
MAX_UNZIP_SECONDS = 5.0
MAX_PDF_PAGES = 500
MAX_TEXT_CHARS = 200_000  # enough for search and relevance; keeps rows small
CHUNK = 64 * 1024

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# The part a real Word / PowerPoint package must contain.
OFFICE_MAIN_PART = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml"}
TEXT_PARTS = {"docx": re.compile(r"word/(document|header\d*|footer\d*)\.xml$"), "pptx": re.compile(r"ppt/slides/slide\d+\.xml$")}


@dataclass
class CheckedFile:
    name: str
    file_type: str
    size: int
    data: bytes


def check_upload(name: str, data: bytes) -> CheckedFile:
    """Validate an upload (cheaply: this runs in the web request); raises ValidationError with a
    message for the user. Its text is read later by the task worker (`extract_text`)."""
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
        _open_pdf(data)
    else:
        _check_office_package(data, file_type)
    return CheckedFile(name=safe, file_type=file_type, size=len(data), data=data)


def extract_text(file_type: str, data: bytes) -> str:
    """The text of a checked file, for search and relevance (run by the task worker). Office files
    are read part by part as streams, under the same unpacking limits as the check."""
    if file_type == "pdf":
        text = _pdf_text(data)
    else:
        text = _office_text(data, file_type)
    return " ".join(text.split())[:MAX_TEXT_CHARS]


class _UnpackBudget:
    """What unpacking one Office file may cost: bytes (absolute and per packed byte) and time. The
    zip's own declared sizes are not trusted: the real bytes are counted as they stream."""

    def __init__(self, packed_size: int):
        self.limit = min(MAX_UNZIPPED_BYTES, max(packed_size, 1) * MAX_UNZIP_RATIO)
        self.used = 0
        self.deadline = time.monotonic() + MAX_UNZIP_SECONDS

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise ValidationError("The file unpacks to too much data.")
        if time.monotonic() > self.deadline:
            raise ValidationError("The file takes too long to unpack.")

    def stream(self, archive: zipfile.ZipFile, name: str):
        """The bytes of one part, chunk by chunk, counted against the budget."""
        with archive.open(name) as part:
            while chunk := part.read(CHUNK):
                self.spend(len(chunk))
                yield chunk


def _check_office_package(data: bytes, file_type: str) -> None:
    label = "Word (DOCX)" if file_type == "docx" else "PowerPoint (PPTX)"
    budget = _UnpackBudget(len(data))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names or OFFICE_MAIN_PART[file_type] not in names:
                raise ValidationError(f"The file is not a {label} document.")
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise ValidationError("Files with macros are not accepted.")
            for info in archive.infolist():  # every part really unpacked, counted as it streams
                for _ in budget.stream(archive, info.filename):
                    pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error):
        raise ValidationError(f"The file is not a {label} document.") from None


def _office_text(data: bytes, file_type: str) -> str:
    """The text runs (<w:t>, <a:t>) of the document's parts, read with a streaming XML parser that
    resolves no entities and fetches nothing, so memory stays flat whatever the file holds."""
    from lxml import etree

    budget = _UnpackBudget(len(data))
    # the parts with the text; in both, a run of text is <w:t>/<a:t> and a paragraph <w:p>/<a:p>
    pattern = TEXT_PARTS[file_type]
    parts, total = [], 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted((n for n in archive.namelist() if pattern.match(n)), key=_natural)
            for name in names:
                parser = etree.XMLPullParser(events=("end",), resolve_entities=False, no_network=True, huge_tree=False)
                for chunk in budget.stream(archive, name):
                    parser.feed(chunk)
                    for _, element in parser.read_events():
                        local = etree.QName(element).localname
                        if local == "t" and element.text:
                            parts.append(element.text)
                            total += len(element.text)
                        elif local == "p":
                            parts.append("\n")
                            element.clear()  # and the paragraphs read before it: memory stays flat
                            while element.getprevious() is not None:
                                del element.getparent()[0]
                    if total > MAX_TEXT_CHARS:
                        return "".join(parts)
                parser.close()
    except ValidationError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, etree.XMLSyntaxError):
        label = "Word" if file_type == "docx" else "PowerPoint"
        raise ValidationError(f"The {label} file could not be read.") from None
    return "".join(parts)


def _natural(name: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _open_pdf(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ValidationError("Encrypted PDF files cannot be read for search; upload an unprotected copy.")
        len(reader.pages)  # the page tree is there (no page is decoded)
        return reader
    except ValidationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise ValidationError("The PDF file could not be read.") from None


def _pdf_text(data: bytes) -> str:
    from pypdf.errors import PdfReadError

    reader = _open_pdf(data)
    try:
        parts, total = [], 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            total += len(chunk)
            if total > MAX_TEXT_CHARS:
                break
        return "\n".join(parts)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise ValidationError("The PDF file could not be read.") from None
