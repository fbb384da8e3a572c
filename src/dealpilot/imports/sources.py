"""Open a CRM export (a .zip, a folder of CSVs or a single CSV) and stream its rows.

Exports arrive as UTF-8 with or without a byte-order mark, or in Windows-1252/Latin-1 from
Excel; with LF or CRLF line endings and quoted newlines inside cells. The encoding is found by
one streaming pass over the bytes, so a stray accented letter deep in a big file is not missed.
"""

from __future__ import annotations

import codecs
import fnmatch
import csv
import io
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long descriptions and notes are real

CHUNK = 1 << 20


class ExportError(Exception):
    """The export as a whole cannot be read (fatal: nothing is imported)."""


class ByteCounter(io.RawIOBase):
    """Wraps a binary stream, counting bytes read for progress bars."""

    def __init__(self, raw, on_read=None):
        self.raw, self.count, self.on_read = raw, 0, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.on_read:
            self.on_read(n)
        return n


@dataclass
class ExportSource:
    """The files of one export, addressed by their base name, case-insensitively."""

    path: Path

    def __post_init__(self):
        self.path = Path(self.path)
        if self.path.is_dir():
            self._files = {p.name.lower(): p for p in sorted(self.path.rglob("*")) if p.is_file()}
            self._zip = None
        elif zipfile.is_zipfile(self.path):
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise ExportError(f"{self.path} is not a readable zip file: {exc}") from None
            self._files = {
                PurePosixPath(info.filename).name.lower(): info
                for info in self._zip.infolist()
                if not info.is_dir() and not PurePosixPath(info.filename).name.startswith(".")
            }
        elif self.path.is_file():
            self._files = {self.path.name.lower(): self.path}
            self._zip = None
        else:
            raise ExportError(f"{self.path} does not exist")

    def find(self, names: list[str]) -> str | None:
        """The first of `names` present in the export; a name may be a pattern such as
        'hubspot-crm-exports-*deal*.csv' (the first match in name order is taken)."""
        for name in names:
            wanted = name.lower()
            if wanted in self._files:
                return wanted
            if any(ch in wanted for ch in "*?["):
                matches = sorted(f for f in self._files if fnmatch.fnmatchcase(f, wanted))
                if matches:
                    return matches[0]
        return None

    def size(self, name: str) -> int:
        entry = self._files[name]
        return entry.file_size if self._zip else entry.stat().st_size

    def display_name(self, name: str) -> str:
        entry = self._files[name]
        return PurePosixPath(entry.filename).name if self._zip else entry.name

    def open_binary(self, name: str):
        entry = self._files[name]
        return self._zip.open(entry) if self._zip else open(entry, "rb")

    def detect_encoding(self, name: str) -> str:
        with self.open_binary(name) as f:
            head = f.read(4)
            if head.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return "utf-16"
            decoder = codecs.getincrementaldecoder("utf-8")()
            chunk = head
            try:
                while chunk:
                    decoder.decode(chunk)
                    chunk = f.read(CHUNK)
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
        # Windows-1252 where every byte is defined there (Excel on Windows), else Latin-1.
        with self.open_binary(name) as f:
            decoder = codecs.getincrementaldecoder("cp1252")()
            try:
                while chunk := f.read(CHUNK):
                    decoder.decode(chunk)
                return "cp1252"
            except UnicodeDecodeError:
                return "latin-1"

    @contextmanager
    def rows(self, name: str, encoding: str | None = None, on_read=None) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
        """(header, rows) of one CSV file; each row is padded/truncated to the header's width."""
        encoding = encoding or self.detect_encoding(name)
        with self.open_binary(name) as raw:
            # A byte the encoding cannot read becomes U+FFFD in its cell instead of stopping the import: a file
            # with a UTF-8 BOM (trusted, not re-read) or a mapping's declared encoding may still hold such bytes.
            text = io.TextIOWrapper(io.BufferedReader(ByteCounter(raw, on_read), CHUNK), encoding=encoding, errors="replace",
                                    newline="")
            sample = text.read(64 * 1024)
            dialect = _sniff(sample)
            stream = _chain(sample, text)
            reader = csv.reader(stream, dialect)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise ExportError(f"{self.display_name(name)} is empty") from None
            if encoding == "utf-8" and header and header[0].startswith("\ufeff"):
                header[0] = header[0][1:]
            yield header, reader


class _Dialect(csv.excel):
    pass


def _sniff(sample: str) -> type[csv.Dialect]:
    """Comma by default; semicolon or tab when the header line clearly uses them (European Excel)."""
    first_line = sample.split("\n", 1)[0]
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    sep = max(counts, key=counts.get)
    dialect = type("Dialect", (_Dialect,), {"delimiter": sep if counts[sep] else ","})
    return dialect


class _chain(io.TextIOBase):
    """A text stream that first yields `head`, then the rest of `stream` (after a sniff read)."""

    def __init__(self, head: str, stream):
        self.head, self.stream = head, stream

    def __iter__(self):
        # csv.reader iterates lines; keep line endings so quoted CRLF/newlines survive.
        buffered = io.StringIO(self.head, newline="")
        for line in buffered:
            if not line.endswith(("\n", "\r")):
                # the sample ended mid-line: glue it to the rest of that line
                rest = self.stream.readline()
                yield line + rest
                break
            yield line
        yield from self.stream
