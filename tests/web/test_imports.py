"""The imports pages: leaders and admins only, upload rules, the run page and its error file.

The test settings run tasks inline (django-tasks' ImmediateBackend), so an upload has finished
importing by the time the redirect comes back."""

import csv
from html import escape
import io
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from dealpilot.crm.models import Opportunity
from dealpilot.imports.models import ImportRun, ImportStatus
from dealpilot.imports.progress import write_progress
from tests.exports import SF, small_salesforce_export, write_csv, zip_folder

pytestmark = pytest.mark.django_db

PAGES = ["imports:index", "imports:run", "imports:run_status", "imports:run_errors"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_ERRORS_DIR = tmp_path / "import-errors"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Progress lives in the cache under the run's id; ids repeat from test to test and across
    xdist workers, which share the file cache of the test settings: give each test its own."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"imports-{uuid.uuid4()}"}}
    yield
    cache.clear()


@pytest.fixture
def salesforce_zip(tmp_path) -> Path:
    return zip_folder(small_salesforce_export(tmp_path / "sf"), tmp_path / "salesforce export.zip")


@pytest.fixture
def salesforce_zip_with_a_bad_row(tmp_path) -> Path:
    folder = small_salesforce_export(tmp_path / "sf-bad")
    with open(folder / "Opportunity.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows.append(["006000000000009AAA", "Broken deal", "001000000000001AAA", "005000000000003AAA", "Prospecting", "lots", "USD",
                 "2024-09-01T10:00:00.000Z", "2025-01-31", "false", "false", "", "", "", "", "", "", ""])
    write_csv(folder / "Opportunity.csv", SF["Opportunity.csv"], rows[1:])
    return zip_folder(folder, tmp_path / "bad.zip")


def upload(client, path: Path, kind="salesforce", strict=False, **extra):
    data = {"kind": kind, "export": SimpleUploadedFile(path.name, path.read_bytes()), **extra}
    if strict:
        data["strict"] = "on"
    return client.post(reverse("imports:index"), data)


def url(name, pk=1):
    return reverse(name) if name == "imports:index" else reverse(name, args=[pk])


# ---- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_go_to_login(client, name):
    response = client.get(url(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("viewer", ["manager_emea", "rep_emea", "enablement"])
@pytest.mark.parametrize("name", PAGES)
def test_only_leaders_and_admins_see_imports_everyone_else_gets_404(client, org, viewer, name):
    run = ImportRun.objects.create(kind="salesforce", source_name="x.zip", source_path="/nowhere/x.zip")
    client.force_login(org.user(viewer))
    assert client.get(url(name, run.pk)).status_code == 404


def test_a_rep_cannot_start_an_import(client, org, salesforce_zip):
    client.force_login(org.rep_emea)
    assert upload(client, salesforce_zip).status_code == 404
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize("viewer", ["leader", "admin"])
def test_leaders_and_admins_see_the_upload_form_and_recent_runs(client, org, viewer):
    ImportRun.objects.create(kind="hubspot", source_name="deals.csv", source_path="/x/deals.csv", status=ImportStatus.DONE,
                             rows_read=12, rows_imported=11, rows_rejected=1)
    client.force_login(org.user(viewer))
    html = client.get(reverse("imports:index")).content.decode()
    assert 'enctype="multipart/form-data"' in html and 'name="export"' in html and 'name="strict"' in html
    assert "deals.csv" in html and "Imported" in html and "up to 2.0\xa0GB" in html


# ---- uploads ------------------------------------------------------------------------------------


def test_uploading_a_salesforce_export_imports_it_and_shows_the_outcome(client, org, salesforce_zip, media):
    client.force_login(org.leader)
    response = upload(client, salesforce_zip)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:run", args=[run.pk])

    assert (run.kind, run.status, run.strict, run.created_by) == ("salesforce", ImportStatus.DONE, False, org.leader)
    assert run.rows_read == run.rows_imported == 26 and run.rows_rejected == 0
    assert Opportunity.objects.filter(crm_id="006000000000001AAA").exists()

    saved = Path(run.source_path)
    assert saved.is_file() and saved.name == "salesforce_export.zip"  # a safe name in a fresh folder
    assert saved.parent.parent == media / "imports"
    assert saved.read_bytes() == salesforce_zip.read_bytes()

    html = client.get(response["Location"]).content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html  # finished: no more polling
    assert ">26<" in html and "Opportunity.csv" in html and "<td>Opportunities" in html
    assert "Download the rejected rows" not in html


def test_rejected_rows_are_offered_as_a_download_to_leaders_only(client, org, salesforce_zip_with_a_bad_row):
    client.force_login(org.admin)
    upload(client, salesforce_zip_with_a_bad_row)
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.PARTIAL and run.rows_rejected == 1

    html = client.get(reverse("imports:run", args=[run.pk])).content.decode()
    assert "Download the rejected rows" in html and reverse("imports:run_errors", args=[run.pk]) in html
    assert run.message in html

    download = client.get(reverse("imports:run_errors", args=[run.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert f"import-{run.pk}-salesforce-rejected-rows.csv" in download["Content-Disposition"]
    body = b"".join(download.streaming_content).decode()
    assert "006000000000009AAA" in body

    client.force_login(org.manager_emea)
    assert client.get(reverse("imports:run_errors", args=[run.pk])).status_code == 404


def test_strict_mode_imports_nothing_when_a_row_is_rejected(client, org, salesforce_zip_with_a_bad_row):
    client.force_login(org.leader)
    before = Opportunity.objects.count()
    upload(client, salesforce_zip_with_a_bad_row, strict=True)
    run = ImportRun.objects.get()
    assert (run.strict, run.status) == (True, ImportStatus.REJECTED)
    assert Opportunity.objects.count() == before


def test_an_error_file_outside_the_errors_folder_is_never_served(client, org, tmp_path):
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("not for download")
    run = ImportRun.objects.create(kind="csv", source_name="a.csv", source_path="/x/a.csv", status=ImportStatus.PARTIAL,
                                   error_file=str(secret))
    client.force_login(org.leader)
    assert client.get(reverse("imports:run_errors", args=[run.pk])).status_code == 404


@pytest.mark.parametrize("kind,name,content,error", [
    ("salesforce", "export.exe", b"MZ", "Upload a .zip file"),
    ("salesforce", "export.csv", b"Id,Name\n", "Upload a .zip file"),
    ("hubspot", "export.zip", b"this is not a zip", "not a zip archive"),
    ("csv", "deals.csv", b"Id,Name\n", "needs a mapping file"),
])
def test_uploads_are_checked_before_anything_is_saved(client, org, media, kind, name, content, error):
    client.force_login(org.leader)
    response = client.post(reverse("imports:index"), {"kind": kind, "export": SimpleUploadedFile(name, content)})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ImportRun.objects.exists()
    assert not (media / "imports").exists() or not any((media / "imports").iterdir())


def test_a_csv_import_takes_a_yaml_mapping(client, org, media, tmp_path):
    client.force_login(org.leader)
    mapping = SimpleUploadedFile("mapping.txt", b"files: {}")
    response = client.post(reverse("imports:index"), {"kind": "csv", "export": SimpleUploadedFile("a.csv", b"x\n1\n"), "mapping": mapping})
    assert response.status_code == 400 and ".yaml or .yml" in response.content.decode()

    # a wrong mapping is refused on the form with the mapping's own complaint, before anything is saved
    mapping = SimpleUploadedFile("my mapping.yaml", b"not: [a valid mapping")
    response = client.post(reverse("imports:index"), {"kind": "csv", "export": SimpleUploadedFile("a.csv", b"x\n1\n"), "mapping": mapping})
    assert response.status_code == 400 and "my mapping.yaml is not valid YAML" in response.content.decode()
    mapping = SimpleUploadedFile("m.yaml", b"steps: [{target: account, file: a.csv, fields: {crm_id: x}}]")
    response = client.post(reverse("imports:index"), {"kind": "csv", "export": SimpleUploadedFile("a.csv", b"x\n1\n"), "mapping": mapping})
    assert response.status_code == 400 and "account needs field(s) [&#x27;name&#x27;]" in response.content.decode()
    assert not ImportRun.objects.exists()

    # a mapping that is right but does not fit the file fails in the run, which says why
    mapping = SimpleUploadedFile("my mapping.yaml", b"steps: [{target: account, file: a.csv, fields: {crm_id: x, name: y}}]")
    response = client.post(reverse("imports:index"), {"kind": "csv", "export": SimpleUploadedFile("a.csv", b"x\n1\n"), "mapping": mapping})
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert Path(run.mapping_path).name == "mapping.yaml" and Path(run.mapping_path).parent == Path(run.source_path).parent
    assert run.status == ImportStatus.FAILED and run.message  # the engine's complaint is shown, nothing imported
    assert escape(run.message)[:40] in client.get(reverse("imports:run", args=[run.pk])).content.decode()


def test_uploads_over_the_size_limit_are_cut_off_and_refused(client, org, media, salesforce_zip):
    client.force_login(org.leader)
    with override_settings(DEALPILOT_IMPORT_MAX_UPLOAD_BYTES=1000):
        response = upload(client, salesforce_zip)
    assert salesforce_zip.stat().st_size > 1000
    assert response.status_code == 400
    # refused by the upload handler while receiving (a form-wide error), not after saving the whole file
    assert 'role="alert">The file is larger than the limit of 1000\xa0bytes' in response.content.decode()
    assert not ImportRun.objects.exists()


def test_the_upload_checks_csrf(org, salesforce_zip):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.leader)
    response = upload(client, salesforce_zip)
    assert response.status_code == 403
    assert not ImportRun.objects.exists()


def test_uploaded_file_names_cannot_escape_their_folder(client, org, media, salesforce_zip):
    client.force_login(org.leader)
    data = {"kind": "salesforce", "export": SimpleUploadedFile("../../etc/passwd.zip", salesforce_zip.read_bytes())}
    client.post(reverse("imports:index"), data)
    saved = Path(ImportRun.objects.get().source_path)
    assert saved.name == "passwd.zip" and saved.resolve().is_relative_to((media / "imports").resolve())


# ---- progress -----------------------------------------------------------------------------------


def test_a_running_import_polls_every_second_and_shows_its_progress(client, org):
    run = ImportRun.objects.create(kind="salesforce", source_name="big.zip", source_path="/x/big.zip", status=ImportStatus.RUNNING)
    write_progress(run, 250, 1000, "Opportunity.csv")
    client.force_login(org.leader)

    html = client.get(reverse("imports:run", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and reverse("imports:run_status", args=[run.pk]) in html
    assert 'aria-valuenow="25"' in html and "Opportunity.csv" in html
    assert 'http-equiv="refresh"' in html  # without JavaScript the page reloads itself

    partial = client.get(reverse("imports:run_status", args=[run.pk]), headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="run-status"') and "<html" not in partial
    assert "width: 25%" in partial

    run.status, run.rows_read, run.rows_imported, run.message = ImportStatus.DONE, 1000, 1000, "Imported 1000 rows"
    run.save()
    partial = client.get(reverse("imports:run_status", args=[run.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in partial and "Imported 1000 rows" in partial and 'data-status="done"' in partial


def test_a_queued_import_waits_for_the_worker(client, org):
    run = ImportRun.objects.create(kind="hubspot", source_name="h.zip", source_path="/x/h.zip")
    client.force_login(org.leader)
    html = client.get(reverse("imports:run", args=[run.pk])).content.decode()
    assert "waiting for the worker" in html and 'aria-valuenow="0"' in html


def test_the_error_file_downloads_as_csv(client, org, settings):
    folder = Path(settings.IMPORT_ERRORS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    error_file = folder / "salesforce-errors.csv"
    error_file.write_text("file,line,reason\nOpportunity.csv,5,amount is not a number\n")
    run = ImportRun.objects.create(kind="salesforce", source_name="s.zip", source_path="/x/s.zip", status=ImportStatus.PARTIAL,
                                   error_file=str(error_file), rows_rejected=1)
    client.force_login(org.leader)
    response = client.get(reverse("imports:run_errors", args=[run.pk]))
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["file", "line", "reason"], ["Opportunity.csv", "5", "amount is not a number"]]


# ---- no server paths on the page -----------------------------------------------------------------


def assert_no_server_path(html: str, run: ImportRun, settings, *more: Path) -> None:
    for secret in (run.source_path, run.mapping_path, run.error_file, str(settings.DATA_DIR), str(settings.MEDIA_ROOT),
                   str(settings.IMPORT_ERRORS_DIR), *map(str, more)):
        if secret:
            assert secret not in html


def test_the_run_page_names_the_upload_as_uploaded_and_shows_no_server_path(client, org, salesforce_zip_with_a_bad_row,
                                                                             settings, tmp_path):
    client.force_login(org.leader)
    data = {"kind": "salesforce", "export": SimpleUploadedFile("Q3 export (final).zip", salesforce_zip_with_a_bad_row.read_bytes())}
    client.post(reverse("imports:index"), data)
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.PARTIAL and run.error_file and Path(run.source_path).is_file()
    assert run.source_name == "Q3 export (final).zip"  # the name the person knows; the saved copy's is a safe one

    for name in ("imports:run", "imports:run_status", "imports:index"):
        html = client.get(url(name, run.pk)).content.decode()
        assert_no_server_path(html, run, settings, tmp_path)
        assert "Q3 export (final).zip" in html or name == "imports:run_status", name
    html = client.get(url("imports:run", run.pk)).content.decode()
    assert "1 rejected; rejected rows in the error file" in html
    assert f'href="{reverse("imports:run_errors", args=[run.pk])}" download' in html


def test_a_failed_import_names_its_files_not_their_place(client, org, settings, tmp_path):
    client.force_login(org.leader)
    mapping = b"steps: [{target: account, file: [deals.csv, '*.csv'], fields: {crm_id: x, name: y}}]"
    client.post(reverse("imports:index"), {"kind": "csv", "export": SimpleUploadedFile("deals.csv", b"x\n1\n"),
                                           "mapping": SimpleUploadedFile("my mapping.yaml", mapping)})
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED and "has no column 'y' (needed for name)" in run.message, run.message
    html = client.get(url("imports:run", run.pk)).content.decode()
    assert "has no column &#x27;y&#x27; (needed for name)" in html
    assert_no_server_path(html, run, settings, tmp_path)

    from dealpilot.imports.services import start_import

    gone = start_import("salesforce", Path(settings.MEDIA_ROOT) / "imports" / "gone" / "export.zip", source_name="Q3.zip")
    gone.refresh_from_db()
    assert (gone.status, gone.message) == (ImportStatus.FAILED, "Q3.zip does not exist")  # recorded without its place


def test_runs_recorded_with_server_paths_show_none(client, org, settings):
    upload_path = Path(settings.MEDIA_ROOT) / "imports" / "20250101-000000-abc" / "export.zip"
    error_path = Path(settings.IMPORT_ERRORS_DIR) / "salesforce-20250101-000000-errors.csv"
    old = ImportRun.objects.create(kind="salesforce", source_name="export.zip", source_path=str(upload_path),
                                   status=ImportStatus.PARTIAL, error_file=str(error_path),
                                   message=f"10 rows read, 9 imported, 1 rejected; rejected rows in {error_path}")
    crashed = ImportRun.objects.create(kind="salesforce", source_name="export.zip", source_path=str(upload_path),
                                       status=ImportStatus.FAILED,
                                       message=f"{upload_path} is not a readable zip file: File is not a zip file; also "
                                               f"[Errno 2] No such file or directory: '/srv/dealpilot/cache/x.tmp'")
    client.force_login(org.leader)
    html = client.get(url("imports:run", old.pk)).content.decode()
    assert "1 rejected; rejected rows in the error file" in html
    assert_no_server_path(html, old, settings, "/srv/")
    html = client.get(url("imports:run", crashed.pk)).content.decode()
    assert "export.zip is not a readable zip file" in html and "No such file or directory: &#x27;x.tmp&#x27;" in html
    assert_no_server_path(html, crashed, settings, "/srv/")


def test_paths_in_messages_and_nothing_else_are_replaced():
    from dealpilot.imports.services import without_server_paths

    run = ImportRun(source_name="a.zip", source_path="/data/media/imports/1/a.zip")
    assert without_server_paths(run, "/data/media/imports/1/a.zip: bad") == "a.zip: bad"
    kept = "1/2 of the rows, see https://example.com/docs/imports and ./relative/path or 24/7"
    assert without_server_paths(run, kept) == kept
    assert without_server_paths(run, "in /var/lib/dealpilot/") == "in a folder"
