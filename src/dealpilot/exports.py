"""Tables out as CSV and XLSX, safe to open in a spreadsheet: a text cell that starts with
= + - @ tab or carriage return would run as a formula, so it gets a leading apostrophe."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Numbers, dates and booleans as they are; text that a spreadsheet would evaluate, defused."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal, date, datetime)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeCsvWriter:
    """A csv.writer whose text cells cannot run as formulas."""

    def __init__(self, stream, **kwargs):
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def _columns(rows: list[dict], columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    out: list[str] = []
    for r in rows:
        out.extend(k for k in r if k not in out)
    return out


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = _columns(rows, columns)
    out = io.StringIO()
    writer = csv.writer(out)  # CRLF, as RFC 4180: a CR or LF inside a cell is then quoted
    writer.writerow([safe_cell(c) for c in columns])
    for r in rows:
        writer.writerow([safe_cell(r.get(c)) for c in columns])
    return out.getvalue()


def to_xlsx(sheets: dict[str, list[dict]], columns: dict[str, list[str]] | None = None) -> bytes:
    """One worksheet per entry: {sheet title: rows}."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        cols = _columns(rows, (columns or {}).get(title))
        sheet.append([safe_cell(c) for c in cols])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for r in rows:
            values = []
            for c in cols:
                v = safe_cell(r.get(c))
                values.append(float(v) if isinstance(v, Decimal) else v)
            sheet.append(values)
            # openpyxl would still store "'=..." as text, which is what we want; make sure no cell is a formula
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
