"""Mistakes in a user's mapping are reported before anything is read."""

import pytest

from dealpilot.crm import models as crm
from dealpilot.imports.engine import import_export
from dealpilot.imports.mapping import MappingError, load_mapping
from tests.exports import write_csv

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "doc,message",
    [
        ({}, "non-empty list of steps"),
        ({"steps": [{"target": "deal", "file": "x.csv", "fields": {"crm_id": "Id"}}]}, "target must be one of"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"name": "Name"}}]}, "fields must include crm_id"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id"}}]}, "account needs field(s) ['name']"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id", "name": "N", "colour": "C"}}]},
         "Account has no field 'colour'"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id", "name": {"colum": "N"}}}]},
         "unknown option(s) ['colum']"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id", "name": {"column": "N", "value": "x"}}}]},
         "exactly one of"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id", "name": {"column": "N", "transform": "rot13"}}}]},
         "unknown transform 'rot13'"),
        ({"steps": [{"target": "account", "fields": {"crm_id": "Id", "name": "N"}}]}, "file is missing"),
        ({"date_order": "YMD", "steps": [{"target": "account", "file": "x", "fields": {"crm_id": "Id", "name": "N"}}]}, "MDY or DMY"),
        ({"steps": [{"target": "account", "file": "x.csv", "fields": {"crm_id": "Id", "name": "N", "created_at": "C"}}]},
         "cannot be set by an import"),
    ],
)
def test_mapping_mistakes_are_explained(doc, message):
    with pytest.raises(MappingError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        load_mapping(doc)


def test_a_mapping_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("steps: [\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(path)


def test_a_plain_csv_with_a_mapping_semicolons_and_decimal_commas(tmp_path):
    (tmp_path / "mapping.yaml").write_text(
        "name: ERP accounts\ndate_order: DMY\ndecimal_comma: true\nsteps:\n"
        "  - target: account\n    file: kunden.csv\n    fields:\n"
        "      crm_id: Nr\n      name: Firma\n      annual_revenue: Umsatz\n      industry: {column: Branche, map: {Handel: Retail}}\n"
    )
    (tmp_path / "kunden.csv").write_bytes("Nr;Firma;Umsatz;Branche\r\n1;Bäckerei Schmidt;1.234.567,89;Handel\r\n2;Ölwerk;;\r\n".encode("cp1252"))

    result = import_export("csv", tmp_path / "kunden.csv", mapping_path=tmp_path / "mapping.yaml")

    assert not result.rejections
    baker = crm.Account.objects.get(crm_id="1")
    assert (baker.name, str(baker.annual_revenue), baker.industry) == ("Bäckerei Schmidt", "1234567.89", "Retail")
    assert crm.Account.objects.get(crm_id="2").annual_revenue is None


def test_choice_fields_refuse_values_outside_their_choices(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "steps:\n  - target: opportunity\n    file: o.csv\n    fields: {crm_id: id, name: name, stage: stage, source: source}\n")
    write_csv(tmp_path / "o.csv", ["id", "name", "stage", "source"], [["1", "A", "Prospecting", "inbound"], ["2", "B", "Prospecting", "telepathy"]])
    result = import_export("csv", tmp_path / "o.csv", mapping_path=tmp_path / "m.yaml")
    assert [r.reason for r in result.rejections] == [
        "source: 'telepathy' is not one of ['blind_rfp', 'existing', 'inbound', 'other', 'outbound', 'partner', 'referral']"]


def test_unique_usernames_are_checked_in_the_file_and_against_the_database(tmp_path):
    (tmp_path / "m.yaml").write_text("steps:\n  - target: user\n    file: u.csv\n    fields: {crm_id: id, username: login}\n")
    crm.User.objects.create(username="taken")
    write_csv(tmp_path / "u.csv", ["id", "login"], [["1", "ann"], ["2", "ann"], ["3", "taken"]])
    result = import_export("csv", tmp_path / "u.csv", mapping_path=tmp_path / "m.yaml")
    assert sorted((r.row, r.reason) for r in result.rejections) == [
        (3, "same username as row 2"), (4, "another user already has this username")]
    assert crm.User.objects.filter(crm_id="1").exists()


def test_amounts_beyond_what_every_database_gives_back_exactly_are_rejected_with_the_reason(tmp_path):
    """A numeric(18, 2) column would take 16 integer digits, but SQLite keeps a decimal as a double:
    past 15 significant digits the value read back no longer fits the column and every read of the
    record failed. Such a row is refused; the largest exact amount is kept to the cent."""
    (tmp_path / "m.yaml").write_text(
        "steps:\n  - target: account\n    file: a.csv\n    fields: {crm_id: id, name: name, annual_revenue: revenue}\n")
    write_csv(tmp_path / "a.csv", ["id", "name", "revenue"],
              [["1", "Largest", "9999999999999.99"], ["2", "Too large", "1234567890123456"]])
    result = import_export("csv", tmp_path / "a.csv", mapping_path=tmp_path / "m.yaml")
    assert [(r.row, r.reason) for r in result.rejections] == [(3, "annual_revenue: too large: '1234567890123456'")]
    assert str(crm.Account.objects.get(crm_id="1").annual_revenue) == "9999999999999.99"
