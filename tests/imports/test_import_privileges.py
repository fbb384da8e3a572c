"""An import never grants rights: the attack of issue "Security first" and every way around it.

A sales leader may run imports. A CSV mapping once could set any field of a person, so a leader
made themselves a superuser (`is_staff`/`is_superuser: {value: true}`) and took over a manager's
login (`password:` mapped to a hash). Now every import target has an allow-list of fields
(`imports.mapping.IMPORTABLE_FIELDS`); rights and login identity are refused by name before
anything is read, and the fields that decide who sees what (a person's team and manager, their
login name, e-mail and active flag; a team's parent) change by import only for people who cannot
log in and for teams the import creates. Each case runs for every import kind, as a leader and as
an admin, on the database the suite runs on (SQLite, then PostgreSQL in CI).
"""

import csv
import io
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.mapping import ENGINE_FIELDS, IMPORTABLE_FIELDS, PRIVILEGE_FIELDS, TARGETS, MappingError, load_mapping
from dealpilot.imports.models import ImportRun
from tests.exports import small_salesforce_export, write_csv, zip_folder
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

HUBSPOT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hubspot"
REFUSED = sorted(PRIVILEGE_FIELDS)
# Model fields no import writes, besides a person's rights: each with the reason it is not the CRM's.
BIN = {"deleted_at", "deleted_by"}  # dealpilot's recycle bin: a re-import never brings a record back
NOT_IMPORTABLE = {
    "user": set(PRIVILEGE_FIELDS),
    "account": BIN, "contact": BIN,
    # the CRM's one contact per task is `contact`; who attended and who logged it in dealpilot are ours
    "activity": BIN | {"contacts", "logged_by"},
    "opportunity": BIN | {"products"},  # many-to-many through line items, which are imported as their own target
    # when a next step was closed and by whom, and who wrote it down, are dealpilot's bookkeeping
    "next_step": {"closed_at", "closed_by", "created_by"},
}
# What an attacker would put in a mapping for each refused field.
ESCALATION = {
    "is_staff": {"value": True},
    "is_superuser": {"value": True},
    "password": {"value": "md5$salt$0123456789abcdef0123456789abcdef"},
    "role": {"value": "admin"},
    "last_login": {"value": "2020-01-01"},
    "date_joined": {"value": "2020-01-01"},
    "groups": {"value": "1"},
    "user_permissions": {"value": "1"},
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_ERRORS_DIR = tmp_path / "import-errors"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"priv-{uuid.uuid4()}"}}
    yield
    cache.clear()


def snapshot(user: crm.User) -> dict:
    user.refresh_from_db()
    return {f: getattr(user, f) for f in ("username", "email", "password", "is_staff", "is_superuser", "role",
                                         "team_id", "manager_id", "is_active", "last_login", "date_joined")} | {
        "groups": list(user.groups.all()), "permissions": list(user.user_permissions.all())}


def assert_still_themselves(client, user: crm.User, before: dict) -> None:
    assert snapshot(user) == before
    client.logout()
    assert client.login(username=user.username, password=PASSWORD), "their own password must still work"


def importer(client, org, role: str, crm_id: str) -> tuple[crm.User, dict]:
    """The sample org's leader or admin, logged in, as the person `crm_id` names in the export, and
    everything about them that an import must not change."""
    me = getattr(org, role)
    me.crm_id = crm_id
    me.save()
    client.force_login(me)  # sets last_login: the snapshot comes after
    return me, snapshot(me)


def finished_run(response) -> ImportRun:
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.status in ("done", "partial"), run.message
    return run


def run_notes(run: ImportRun) -> list[str]:
    return [note for step in run.summary["steps"] for note in step["notes"]]


def upload(client, path: Path, kind: str, mapping: bytes | None = None):
    data = {"kind": kind, "export": SimpleUploadedFile(path.name, path.read_bytes())}
    if mapping is not None:
        data["mapping"] = SimpleUploadedFile("mapping.yaml", mapping)
    return client.post(reverse("imports:index"), data)


def yaml_mapping(field: str) -> str:
    import json

    rule = json.dumps(ESCALATION[field])
    return ("steps:\n  - target: user\n    file: users.csv\n    fields:\n"
            f"      crm_id: id\n      username: login\n      {field}: {rule}\n")


# ---- the allow-lists ------------------------------------------------------------------------------


def test_every_field_of_every_target_is_importable_or_refused_on_purpose():
    """A field added to a record is refused by imports until someone decides it is the CRM's data."""
    for target, model in TARGETS.items():
        fields = {f.name for f in model._meta.concrete_fields} | {f.name for f in model._meta.many_to_many}
        fields -= ENGINE_FIELDS
        assert IMPORTABLE_FIELDS[target] <= fields, f"{target}: allow-list names fields it does not have"
        assert fields - IMPORTABLE_FIELDS[target] == NOT_IMPORTABLE.get(target, set()), target


def test_the_shipped_mappings_pass_their_own_allow_lists():
    for name in ("salesforce", "hubspot", "maven-crm"):
        load_mapping(name)


@pytest.mark.parametrize("field", REFUSED)
def test_a_mapping_naming_a_privilege_field_is_refused_before_anything_is_read(tmp_path, field):
    (tmp_path / "m.yaml").write_text(yaml_mapping(field))
    with pytest.raises(MappingError, match=f"user field '{field}' cannot be set by an import: it grants rights"):
        import_export("csv", tmp_path / "no-such-export", mapping_path=tmp_path / "m.yaml")  # the export is never opened


@pytest.mark.parametrize("target,field", [("opportunity", "deleted_at"), ("opportunity", "deleted_by")])
def test_other_fields_outside_the_allow_list_are_refused_with_the_list(target, field):
    doc = {"steps": [{"target": target, "file": "x.csv", "fields": {"crm_id": "Id", "name": "N", "stage": "S", field: "X"}}]}
    with pytest.raises(MappingError, match=f"{target} field '{field}' cannot be set by an import; importable fields"):
        load_mapping(doc)


def test_an_unknown_after_hook_is_a_mapping_error_not_a_crash():
    doc = {"steps": [{"target": "team", "file": "x.csv", "after": "make_me_admin", "fields": {"crm_id": "Id", "name": "N"}}]}
    with pytest.raises(MappingError, match=r"unknown after: \['make_me_admin'\]"):
        load_mapping(doc)


# ---- the attack, through the web app's Imports page, for each kind, as a leader and an admin -----


@pytest.mark.parametrize("role", ["leader", "admin"])
@pytest.mark.parametrize("field", REFUSED)
def test_csv_import_with_a_privilege_field_is_refused_on_the_form(client, org, tmp_path, role, field):
    me, before = importer(client, org, role, "U-ME")
    users = tmp_path / "users.csv"
    write_csv(users, ["id", "login"], [["U-ME", me.username], ["U-MGR", org.manager_emea.username]])

    response = upload(client, users, "csv", yaml_mapping(field).encode())

    assert response.status_code == 400
    assert f"user field &#x27;{field}&#x27; cannot be set by an import" in response.content.decode()
    assert not ImportRun.objects.exists()  # refused before anything was saved or read
    assert_still_themselves(client, me, before)
    if not me.is_staff:
        assert client.get("/admin/").status_code == 302  # the admin site sends them to its login


@pytest.mark.parametrize("role", ["leader", "admin"])
@pytest.mark.parametrize("field", REFUSED)
def test_a_salesforce_export_carrying_privilege_columns_grants_nothing(client, org, tmp_path, role, field):
    """The shipped mapping reads none of them; a mapping uploaded beside a Salesforce export is ignored;
    the export's row for the importer's own login moves them to another team, under another manager,
    renames and deactivates them: all kept, and the run says so."""
    me, before = importer(client, org, role, "005000000000003AAA")  # rita.rep in the export
    folder = small_salesforce_export(tmp_path / "sf")
    with open(folder / "User.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0] + [field, "IsSuperuser", "Password", "Role"]
    body = [r + ["true", "true", "md5$x$00", "admin"] for r in rows[1:]]
    body[2][header.index("IsActive")] = "false"
    write_csv(folder / "User.csv", header, body)

    response = upload(client, zip_folder(folder, tmp_path / "sf.zip"), "salesforce", yaml_mapping(field).encode())

    run = finished_run(response)
    assert any("kept the email, is_active, manager, team, username of people who log in" in note for note in run_notes(run)), run_notes(run)
    assert_still_themselves(client, me, before)
    rita_in_crm = crm.User.objects.filter(username="rita.rep")
    assert not rita_in_crm.exists()  # the login kept its own name: no second person was made of it
    assert not crm.User.objects.filter(is_superuser=True).exists() and not crm.User.objects.filter(role="admin").exclude(pk=org.admin.pk).exists()


@pytest.mark.parametrize("role", ["leader", "admin"])
@pytest.mark.parametrize("field", REFUSED)
def test_a_hubspot_export_carrying_privilege_columns_grants_nothing(client, org, tmp_path, role, field):
    me, before = importer(client, org, role, "hubspot-owner:Dana Whitfield")  # a company owner in the fixture
    folder = tmp_path / "hs"
    folder.mkdir()
    for path in HUBSPOT_FIXTURE.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    with open(folder / "companies.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    write_csv(folder / "companies.csv", rows[0] + [field, "Is superuser"], [r + ["true", "true"] for r in rows[1:]])

    response = upload(client, zip_folder(folder, tmp_path / "hs.zip"), "hubspot", yaml_mapping(field).encode())

    run = finished_run(response)
    assert any("kept the username of people who log in" in note for note in run_notes(run)), run_notes(run)
    assert_still_themselves(client, me, before)
    assert not crm.User.objects.filter(is_superuser=True).exists()


# ---- what an import may still change ----------------------------------------------------------------


def test_org_changes_flow_for_people_who_do_not_log_in_and_are_kept_for_those_who_do(tmp_path):
    folder = small_salesforce_export(tmp_path / "sf")
    import_export("salesforce", folder)
    rita, mark = crm.User.objects.get(username="rita.rep"), crm.User.objects.get(username="mark.mgr")
    mark.set_password(PASSWORD)
    mark.save()  # mark now logs in to dealpilot; rita does not
    with open(folder / "User.csv", newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        if row[1] in ("rita.rep", "mark.mgr"):
            row[6], row[7], row[8] = "00E000000000001AAA", "", "false"  # to the VP's team, no manager, inactive
            row[4] = row[1] + "@new.example"
    write_csv(folder / "User.csv", rows[0], rows[1:])

    result = import_export("salesforce", folder)

    rita.refresh_from_db(), mark.refresh_from_db()
    assert (rita.team.name, rita.manager, rita.is_active, rita.email) == ("VP Sales", None, False, "rita.rep@new.example")
    assert (mark.team.name, mark.manager.username, mark.is_active, mark.email) == ("East Manager", "vera.vp", True, "mark@example.com")
    notes = {note: n for step in result.steps for note, n in step.notes.items()}
    assert [n for note, n in notes.items() if note.startswith("kept the")] == [1]
    assert "first: 005000000000002AAA" in next(note for note in notes if note.startswith("kept the"))


def test_a_team_keeps_its_place_in_the_hierarchy_once_it_exists(tmp_path):
    folder = small_salesforce_export(tmp_path / "sf")
    import_export("salesforce", folder)
    write_csv(folder / "UserRole.csv", ["Id", "Name", "ParentRoleId"],
              [["00E000000000001AAA", "VP Sales", "00E000000000002AAA"], ["00E000000000002AAA", "East Manager", ""],
               ["00E000000000003AAA", "West Manager", "00E000000000001AAA"]])

    result = import_export("salesforce", folder)

    teams = {t.name: t.parent.name if t.parent else None for t in crm.Team.objects.all()}
    assert teams == {"VP Sales": None, "East Manager": "VP Sales", "West Manager": "VP Sales"}  # the new one placed
    team_step = next(s for s in result.steps if s.target == "team")
    assert [n for note, n in team_step.notes.items() if note.startswith("kept the parent of teams")] == [2]


def test_roles_are_inferred_only_for_people_who_do_not_log_in(tmp_path):
    folder = small_salesforce_export(tmp_path / "sf")
    login = crm.User.objects.create(username="mark.mgr", crm_id="005000000000002AAA", role="rep")
    login.set_password(PASSWORD)
    login.save()

    import_export("salesforce", folder)

    assert crm.User.objects.get(pk=login.pk).role == "rep"  # an admin promotes people who log in
    assert crm.User.objects.get(username="rita.rep").manager == login  # rita does not log in: her line is the CRM's
    # mark logs in, so his own line (under vera) is kept as dealpilot has it: vera has no reports here
    assert crm.User.objects.get(username="vera.vp").role == "rep"


def test_maven_managers_are_managers_without_a_role_in_the_mapping(maven_dir):
    import_export("csv", maven_dir, mapping_path=Path("maven-crm"))  # the shipped mapping, by name
    assert crm.User.objects.filter(role="manager").count() == 6
    assert not crm.User.objects.filter(role="leader").exists()


# ---- who changes roles and teams: admins, recorded ---------------------------------------------------


def test_an_admin_changes_a_role_in_the_admin_and_the_history_records_who(client, org):
    rep = org.rep_emea
    org.admin.is_superuser = True  # the Django admin's own rights (the demo's admin has them)
    org.admin.save()
    client.force_login(org.admin)
    page = client.get(reverse("admin:crm_user_change", args=[rep.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"role": "manager", "date_joined_0": rep.date_joined.strftime("%Y-%m-%d"),
                 "date_joined_1": rep.date_joined.strftime("%H:%M:%S")})
    data = {k: v for k, v in data.items() if k not in ("date_joined", "last_login", "password")}
    data["groups"], data["user_permissions"] = [], []

    response = client.post(reverse("admin:crm_user_change", args=[rep.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    rep.refresh_from_db()
    assert rep.role == "manager"
    latest = rep.history.first()
    assert (latest.role, latest.history_user) == ("manager", org.admin)
    assert rep.history.count() >= 2  # the change, and what it replaced


def test_a_login_is_not_a_change_of_the_person(client, org):
    count = org.rep_emea.history.count()
    assert client.login(username=org.rep_emea.username, password=PASSWORD)
    org.rep_emea.refresh_from_db()
    assert org.rep_emea.last_login is not None
    assert org.rep_emea.history.count() == count
