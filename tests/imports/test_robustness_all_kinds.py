"""The three importers (salesforce, hubspot, csv with a mapping) on hostile files: any bytes in a cell,
text in any of the encodings CRMs write, any line ending (LF, CRLF, a lone CR). Every row is imported
or rejected with a reason, never a crash. Extends test_robustness.py, which covers the csv importer
with UTF-8 text."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from tests.exports import SF

pytestmark = pytest.mark.django_db

MAPPING = "steps:\n  - target: account\n    file: a.csv\n    fields:\n      crm_id: id\n      name: name\n      industry: industry\n"
# Per importer: the file of accounts, its id / name / industry columns, and an id for row i.
KINDS = {
    "salesforce": ("Account.csv", ["Id", "Name", "Industry"], lambda i: f"001{i:015d}"),
    "hubspot": ("companies.csv", ["Record ID", "Company name", "Industry"], lambda i: f"2145{i:07d}"),
    "csv": ("a.csv", ["id", "name", "industry"], lambda i: f"A{i}"),
}
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1"]
# The other files each export must have, with their header only.
REQUIRED = {
    "salesforce": {"User.csv": SF["User.csv"], "Opportunity.csv": SF["Opportunity.csv"]},
    "hubspot": {"contacts.csv": ["Record ID", "First Name", "Last Name", "Associated Company IDs"],
                "deals.csv": ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Associated Company IDs"]},
    "csv": {},
}


def csv_bytes(header: list[str], rows: list[list[bytes]], newline: bytes) -> bytes:
    """A well-formed CSV whose cells are the given bytes, whatever they hold (quotes doubled)."""
    lines = [b",".join(b'"' + h.encode() + b'"' for h in header)]
    lines += [b",".join(b'"' + cell.replace(b'"', b'""') + b'"' for cell in row) for row in rows]
    return newline.join(lines) + newline


def text_cells(encoding: str):
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    return st.text(alphabet=st.characters(codec=codec, exclude_categories=["Cs"]), max_size=30).map(
        lambda t: t.encode(codec))


@st.composite
def cells(draw, encoding: str):
    return draw(st.one_of(text_cells(encoding), st.binary(max_size=30)))  # text in the file's encoding, or any bytes


@st.composite
def export(draw):
    encoding = draw(st.sampled_from(ENCODINGS))
    rows = draw(st.lists(st.tuples(cells(encoding), cells(encoding)), min_size=1, max_size=5))
    return encoding, rows, draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), data=export())
def test_any_cells_in_any_encoding_and_line_ending_are_imported_or_rejected(kind, data):
    encoding, rows, newline = data
    file, header, crm_id = KINDS[kind]
    folder = Path(tempfile.mkdtemp())
    try:
        content = csv_bytes(header, [[crm_id(i).encode(), name, industry] for i, (name, industry) in enumerate(rows)], newline)
        (folder / file).write_bytes((b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b"") + content)
        for name, columns in REQUIRED[kind].items():
            (folder / name).write_bytes(csv_bytes(columns, [], newline))
        mapping = None
        if kind == "csv":
            (folder / "m.yaml").write_text(MAPPING)
            mapping = folder / "m.yaml"
        crm.Account.objects.all().delete()  # examples share the test's transaction
        result = import_export(kind, folder if kind != "csv" else folder / file, mapping_path=mapping, error_path=folder / "e.csv")
        rejected = {r.crm_id for r in result.rejections}
        for i in range(len(rows)):
            imported = crm.Account.objects.filter(crm_id=crm_id(i)).exists()
            assert imported != (crm_id(i) in rejected), (i, rows[i])
            if imported:
                assert "\x00" not in crm.Account.objects.get(crm_id=crm_id(i)).name
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_file_with_a_utf8_bom_and_a_stray_windows_byte_imports_the_row(kind, tmp_path):
    # The BOM was trusted for the whole file: a later \x80 stopped every importer with a UnicodeDecodeError.
    file, header, crm_id = KINDS[kind]
    (tmp_path / file).write_bytes(b"\xef\xbb\xbf" + csv_bytes(header, [[crm_id(0).encode(), b"Caf\xe9 \x80uro", b"Retail"]], b"\r\n"))
    for name, columns in REQUIRED[kind].items():
        (tmp_path / name).write_bytes(csv_bytes(columns, [], b"\r\n"))
    (tmp_path / "m.yaml").write_text(MAPPING)
    result = import_export(kind, tmp_path if kind != "csv" else tmp_path / file,
                           mapping_path=tmp_path / "m.yaml" if kind == "csv" else None, error_path=tmp_path / "e.csv")
    assert not result.rejections
    assert crm.Account.objects.get(crm_id=crm_id(0)).name == "Caf\ufffd \ufffduro"  # visibly unreadable, not dropped
