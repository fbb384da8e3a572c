"""Any text in any cell, in any encoding or line ending: rows are imported or rejected, never a crash."""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from tests.exports import write_csv

pytestmark = pytest.mark.django_db

MAPPING = ("steps:\n  - target: account\n    file: a.csv\n    fields:\n"
           "      crm_id: id\n      name: name\n      annual_revenue: revenue\n      employees: employees\n"
           "      industry: industry\n      extra: {columns_matching: 'x_*'}\n")
cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell, cell, cell, cell, cell), min_size=1, max_size=6),
       newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_any_cells_are_imported_or_rejected(rows, newline, bom):
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "m.yaml").write_text(MAPPING)
        write_csv(folder / "a.csv", ["id", "name", "revenue", "employees", "industry", "x_note"],
                  [[f"A{i}", *r] for i, r in enumerate(rows)], bom=bom, newline=newline)
        crm.Account.objects.all().delete()  # examples share the test's transaction
        result = import_export("csv", folder / "a.csv", mapping_path=folder / "m.yaml", error_path=folder / "e.csv")
        rejected = {r.crm_id for r in result.rejections}
        for i, (name, *_rest) in enumerate(rows):
            account = crm.Account.objects.filter(crm_id=f"A{i}").first()
            assert (account is None) == (f"A{i}" in rejected)
            if account is not None:
                assert account.name == " ".join(name.replace("\x00", "").split()) or account.name == name.replace("\x00", "").strip()
        assert crm.Account.objects.count() == len(rows) - len(rejected)
    finally:
        shutil.rmtree(folder)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_as_a_file_never_crash(data):
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "m.yaml").write_text(MAPPING)
        (folder / "a.csv").write_bytes(b"id,name\r\n" + data)
        try:
            import_export("csv", folder / "a.csv", mapping_path=folder / "m.yaml", error_path=folder / "e.csv")
        except Exception as exc:  # only the documented fatal errors are allowed
            assert type(exc).__name__ in ("ExportError",), exc
    finally:
        shutil.rmtree(folder)
