"""CSV and XLSX files that people open in spreadsheets never carry a live formula: text cells starting
with = + - @ tab or carriage return are defused with a leading apostrophe, numbers stay numbers."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest

from dealpilot.analytics.report import render
from dealpilot.exports import SafeCsvWriter, safe_cell, to_csv, to_xlsx

ATTACKS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("text", ATTACKS)
def test_text_that_would_run_is_defused(text):
    assert safe_cell(text) == "'" + text


def test_numbers_dates_and_plain_text_are_kept():
    assert safe_cell(-5) == -5 and safe_cell(Decimal("-1.50")) == Decimal("-1.50")
    assert safe_cell("Acme = best") == "Acme = best" and safe_cell(None) == ""


def test_every_writer_defuses():
    rows = [{"rep": text, "amount": -100.5} for text in ATTACKS]
    for text in (to_csv(rows), render(rows, "csv")):
        cells = list(csv.reader(io.StringIO(text, newline="")))[1:]
        assert [c[0] for c in cells] == ["'" + t for t in ATTACKS]
        assert all(c[1] == "-100.5" for c in cells)  # a negative number is a number, not a formula
    out = io.StringIO()
    SafeCsvWriter(out).writerow(["=1+1", 3])
    assert out.getvalue() == "'=1+1,3\r\n"
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx({"Accounts": rows})))
    values = [c.value for c in book["Accounts"]["A"]][1:]
    assert values == ["'" + t for t in ATTACKS]
