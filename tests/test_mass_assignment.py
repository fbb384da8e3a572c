"""No mass assignment: every API write lists the fields it reads (its request body schema), and none
of them sets who owns a record, which team it belongs to, who created it, its id, its version or
anyone's rights, except the few allowed below, each with the reason and the test that holds it.

The walk covers every write operation of the OpenAPI schema, so a new endpoint is checked the day
it is added."""

from __future__ import annotations

import json

import pytest

from dealpilot.api import api

WRITE_METHODS = ("post", "put", "patch", "delete")
FORBIDDEN = {"owner", "owner_id", "team", "team_id", "created_by", "created_by_id", "id", "version", "is_staff",
             "is_superuser", "role"}

# (method, path, field) -> why it is allowed, and where that is enforced and tested
ALLOWED = {
    ("put", "/api/imports/field-owners", "owner"):
        "who wins a field on re-import (the CRM or dealpilot), not a record's owner: administrators only, others 403 "
        "(imports.services.set_field_owner; tests/imports/test_reimport.py)",
    ("post", "/api/notifications/webhooks", "team_id"):
        "the team whose chat channel the webhook is: it grants nothing, and only a leader, an administrator or that "
        "team's manager may name it, others 404 (notifications.services.add_webhook; tests/notifications/test_alerts.py)",
    ("patch", "/api/crm/opportunities/{opportunity_id}", "owner_id"):
        "reassigning a deal: only managers (to people in their team subtree), sales leaders and admins; a rep gets "
        "403, an owner out of reach 400 (crm.services.update_opportunity; tests/crm/test_opportunity_edit.py)",
    ("post", "/api/planning/accounts/{account_id}/plan/strategies/{strategy_id}/actions", "owner_id"):
        "who carries out a plan action (an assignee): it grants no access, actions are seen through their plan's "
        "account (planning.services._owner)",
    ("patch", "/api/planning/accounts/{account_id}/plan/actions/{action_id}", "owner_id"):
        "the same assignee of a plan action",
    **{(method, path, "owner_id"): "the owner of a record the caller creates or changes: the caller by default, else someone "
       "in their scope (a rep only themselves; crm.records.owner_for; tests/crm/test_recording.py)"
       for method, path in (("post", "/api/crm/accounts"), ("patch", "/api/crm/accounts/{account_id}"),
                            ("post", "/api/crm/contacts"), ("patch", "/api/crm/contacts/{contact_id}"),
                            ("post", "/api/crm/opportunities"), ("post", "/api/crm/activities"),
                            ("post", "/api/crm/next-steps"), ("patch", "/api/crm/next-steps/{step_id}"))},
    **{(method, path, "role"): "a contact's role in a deal's buying group (economic buyer, champion...), not a person's "
       "role in dealpilot: it grants nothing"
       for method, path in (("post", "/api/crm/contacts"), ("put", "/api/crm/opportunities/{opportunity_id}/contact-roles"))},
}


def _properties(schema: dict, components: dict, seen: frozenset = frozenset()) -> set[str]:
    """Every property name a body schema accepts, nested objects and lists included."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _properties(components[name], components, seen | {name})
    names = set()
    for name, sub in schema.get("properties", {}).items():
        names.add(name)
        names |= _properties(sub, components, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            names |= _properties(sub, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= _properties(schema[key], components, seen)
    return names


def write_operations() -> list[tuple[str, str, set[str]]]:
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS:
                continue
            fields: set[str] = set()
            for content in operation.get("requestBody", {}).get("content", {}).values():
                fields |= _properties(content["schema"], components)
            found.append((method, path, fields))
    return found


def test_no_api_write_sets_owner_team_creator_id_version_or_rights():
    operations = write_operations()
    assert len(operations) >= 40, "the walk found fewer write operations than the API has"
    offending = sorted((m, p, f) for m, p, fields in operations for f in fields & FORBIDDEN if (m, p, f) not in ALLOWED)
    assert offending == [], "these API writes accept a field nobody may set (or add it to ALLOWED with the reason):\n" + \
        "\n".join(f"{m.upper()} {p}: {f}" for m, p, f in offending)
    # the allow-list names only what exists: a stale entry would hide a future endpoint's problem
    present = {(m, p, f) for m, p, fields in operations for f in fields}
    assert set(ALLOWED) <= present


@pytest.mark.django_db
def test_a_rep_cannot_reassign_an_opportunity_nor_sneak_in_owner_or_team(client, org):
    deal = org.opportunities["rep_emea"][0]
    url = f"/api/crm/opportunities/{deal.pk}"
    client.force_login(org.rep_emea)
    before = (deal.owner_id, deal.stage, deal.amount, deal.version)

    refused = client.patch(url, json.dumps({"owner_id": org.rep_dach.pk, "amount": "1"}), content_type="application/json")
    assert refused.status_code == 403
    assert "Only managers, sales leaders and administrators reassign opportunities" in refused.json()["detail"]
    for sneaky in ({"owner": org.rep_dach.pk}, {"team_id": org.teams["dach"].pk}, {"version": 99}, {"is_won": True}):
        response = client.patch(url, json.dumps({**sneaky, "amount": "1"}), content_type="application/json")
        assert response.status_code == 422, sneaky  # an unknown field is refused, not ignored

    deal.refresh_from_db()
    assert (deal.owner_id, deal.stage, deal.amount, deal.version) == before
