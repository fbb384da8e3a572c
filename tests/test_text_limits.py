"""Every text a user can write has a maximum length (dealpilot.validation): the API answers 422 with the reason,
a form says why at the field, and nothing is written.

Generated, so a new field without a limit fails here:
- every string of every request body and query in the OpenAPI schema declares a maxLength, and one character
  past it is a 422 naming the field, on every write operation, with nothing written;
- every text field of every form class of every app has a max_length, and one character past it is that
  field's error.
Then the texts that were found accepted at 2 MB (a knowledge entry, occurrence, coaching, outcome notes) are
walked through their pages.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from datetime import timedelta

import pytest
from django import forms
from django.apps import apps
from django.test import Client
from django.utils import timezone

from dealpilot.api import api
from dealpilot.cadence.models import CoachingSession, DealNote, Occurrence
from dealpilot.cadence.services import create_default_cadence
from dealpilot.crm.services import create_api_token
from dealpilot.deals.models import CallPlan
from dealpilot.enablement.models import ContentModule, KnowledgeEntry
from dealpilot.planning.models import PlanComment
from dealpilot.validation import DOCUMENT_MAX, NOTE_MAX
from tests.test_access_walk import VALUE_PARAMS, _minimal, _reachable_home, _snapshot, build_world

pytestmark = pytest.mark.django_db

SCHEMA = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))
COMPONENTS = SCHEMA["components"]["schemas"]
NOT_TEXT_FORMATS = {"date", "date-time", "time", "partial-time"}


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def unbounded_strings(schema: dict, where: str, seen: tuple = ()):
    """Where a string without a maxLength can go in `schema` (enums, constants, dates and decimals aside)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from unbounded_strings(COMPONENTS[name], where, seen + (name,))
        return
    options = schema.get("anyOf") or schema.get("oneOf") or []
    numeric = any(o.get("type") in ("number", "integer") for o in options)  # a Decimal: a number or its string
    for option in options:
        if not (numeric and option.get("type") == "string"):
            yield from unbounded_strings(option, where, seen)
    kind = schema.get("type")
    if kind == "string" and not {"enum", "const", "maxLength"} & set(schema) and schema.get("format") not in NOT_TEXT_FORMATS:
        yield where
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from unbounded_strings(sub, f"{where}.{name}", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            yield from unbounded_strings(schema["additionalProperties"], f"{where}.<value>", seen)
            yield from unbounded_strings(schema.get("propertyNames", {"type": "string"}), f"{where}.<key>", seen)
    if kind == "array":
        yield from unbounded_strings(schema.get("items", {}), f"{where}[]", seen)


def _operations():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_string_of_every_request_body_and_query_has_a_maximum_length():
    unbounded, strings = [], 0
    for path, method, operation in _operations():
        for param in operation.get("parameters", []):
            if param["in"] == "query":
                unbounded += unbounded_strings(param["schema"], f"{method.upper()} {path} ?{param['name']}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            unbounded += unbounded_strings(body, f"{method.upper()} {path} body")
            strings += len(list(too_long_bodies(body)))
    assert not unbounded, "strings without a maxLength:\n" + "\n".join(unbounded)
    assert strings > 80, strings  # the walk really reached the bodies' texts


# ---- one character too many: 422, nothing written ----------------------------------------------------


def too_long_bodies(schema: dict):
    """(field path, body) for each bounded string of a body: the smallest valid body with that one string one
    character past its maxLength (nested objects, list items, dict keys and values included)."""
    schema = _resolve(schema)
    for option in schema.get("anyOf", []):
        if option.get("type") not in ("null", "number"):
            yield from too_long_bodies(option)
        return
    if schema.get("type") == "string" and "maxLength" in schema:
        yield (), "x" * (schema["maxLength"] + 1)
    elif schema.get("type") == "object":
        base = _minimal(schema, COMPONENTS)
        for name, sub in schema.get("properties", {}).items():
            for where, value in too_long_bodies(sub):
                yield (name, *where), {**base, name: value}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for where, value in too_long_bodies(extra):
                yield ("key", *where), {**base, "key": value}
            limit = schema.get("propertyNames", {}).get("maxLength")
            if limit:
                yield ("<key>",), {**base, "k" * (limit + 1): _minimal(extra, COMPONENTS)}
    elif schema.get("type") == "array":
        for where, value in too_long_bodies(schema.get("items", {})):
            yield (0, *where), [value]


def _path_values(world, path: str) -> dict:
    from tests.test_access_walk import SEGMENT_KINDS

    values, segments = {}, [s for s in path.split("/") if s]
    for i, segment in enumerate(segments):
        if segment.startswith("{"):
            name = segment.strip("{}")
            if name == "kind":
                values[name] = "research"
            elif name in VALUE_PARAMS:
                values[name] = VALUE_PARAMS[name](world, values)
            else:
                before = segments[i - 1]
                before = values.get(before.strip("{}"), before) if before.startswith("{") else before
                kind = SEGMENT_KINDS[before]
                home = _reachable_home(world, "leader", kind)
                # admin-only records (import conflicts): the body is checked before any lookup, so any id does
                values[name] = world.records[kind][home] if home is not None else 999_999_999
    return values


def test_one_character_past_any_body_text_s_limit_is_a_422_naming_it_and_nothing_is_written(capsys):
    world = build_world()
    _, raw = create_api_token(world.org.leader, "limits")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = _snapshot()
    wrong, tried = [], 0
    for path, method, operation in _operations():
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if not body:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(_path_values(world, path)[m.group(1)]), path)
        for where, value in too_long_bodies(body):
            response = client.generic(method.upper(), url, json.dumps(value), content_type="application/json")
            tried += 1
            errors = response.json().get("detail") if response.status_code == 422 else None
            field = next((str(w) for w in reversed(where) if isinstance(w, str) and w != "<key>"), None)
            if not errors or (field and not any(field in map(str, e["loc"]) for e in errors)):
                wrong.append(f"{method.upper()} {path} {'.'.join(map(str, where))}: {response.status_code} {response.content[:200]!r}")
            elif not any("at most" in e["msg"] for e in errors):
                wrong.append(f"{method.upper()} {path} {'.'.join(map(str, where))}: no reason in {errors}")
    after = _snapshot()
    changed = [label for label in before if label != "crm.ApiToken" and before[label] != after[label]]  # a token notes its use
    assert not changed, changed
    with capsys.disabled():
        print(f"\ntext limits, API: {tried} bodies with one text one character too long, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong)
    assert tried > 80


def test_a_2_mb_knowledge_entry_is_a_422_with_the_reason(org):
    _, raw = create_api_token(org.rep_emea, "tests")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"kind": "best_practice", "title": "Everything I know", "body": "x" * 2_000_000}
    response = client.post("/api/enablement/knowledge", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"][-1] == "body" and f"at most {DOCUMENT_MAX} characters" in error["msg"]
    assert not KnowledgeEntry.objects.exists()


# ---- forms -------------------------------------------------------------------------------------------


def _form_classes():
    """Every form class defined in an app of dealpilot (its forms and views modules)."""
    found = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("dealpilot."):
            continue
        for module_name in ("forms", "views"):
            try:
                module = importlib.import_module(f"{config.name}.{module_name}")
            except ModuleNotFoundError:
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__ and not cls.__name__.startswith("_"):
                    found[f"{cls.__module__}.{cls.__name__}"] = cls
    return found


def _bound_form(cls, data: dict, org):
    """The form bound to `data`, with the arguments each form takes; a new form class must be added here."""
    from dealpilot.crm.models import Opportunity

    deal = org.opportunities["rep_emea"][0]
    makers = {
        "AccountFilterForm": lambda: cls(data, user=org.leader), "OpportunityFilterForm": lambda: cls(data, user=org.leader),
        "PriorityFilterForm": lambda: cls(data, user=org.leader),
        "OpportunityEditForm": lambda: cls(data, user=org.leader, opportunity=deal),
        "CallPlanForm": lambda: cls(data, opportunity=deal), "KnowledgeForm": lambda: cls(data, user=org.leader),
        "MutualStepForm": lambda: cls(data, user=org.rep_emea, opportunity=deal),
        "MeetingForm": lambda: cls(data), "CoachingForm": lambda: cls(data, reps=[org.rep_emea],
                                                                      deals=Opportunity.objects.all()),
        "LibraryFilterForm": lambda: cls(data, show_status=True),
        "AccountForm": lambda: cls(data, user=org.leader), "ContactForm": lambda: cls(data, user=org.leader),
        "OpportunityCreateForm": lambda: cls(data, user=org.leader), "NextStepForm": lambda: cls(data, user=org.leader),
        "WebhookForm": lambda: cls(org.leader, data),
    }
    return makers.get(cls.__name__, lambda: cls(data))()


def test_every_text_field_of_every_form_has_a_maximum_length_and_says_so_one_character_past_it(org):
    unbounded, checked = [], 0
    for name, cls in _form_classes().items():
        form = _bound_form(cls, {}, org)
        for field_name, field in form.fields.items():
            if not isinstance(field, forms.CharField):
                continue
            if field.max_length is None:
                unbounded.append(f"{name}.{field_name}")
                continue
            form = _bound_form(cls, {form.add_prefix(field_name): "x" * (field.max_length + 1)}, org)
            form.is_valid()
            assert any(f"at most {field.max_length:,}" in e or f"at most {field.max_length}" in e
                       for e in form.errors.get(field_name, [])), (name, field_name, form.errors.get(field_name))
            checked += 1
    assert not unbounded, "form text fields without a max_length:\n" + "\n".join(unbounded)
    assert checked > 40, checked


# ---- the pages of the texts found accepted at 2 MB ---------------------------------------------------


@pytest.fixture
def cadence(org):
    return create_default_cadence(org.teams["emea"], by=org.manager_emea, starts_on=timezone.localdate() - timedelta(days=35),
                                  time_zone="Europe/Berlin")


def test_a_knowledge_entry_longer_than_its_limit_is_a_form_error_and_nothing_is_saved(org, client):
    client.force_login(org.rep_emea)
    response = client.post("/enablement/knowledge/new/", {"kind": "best_practice", "title": "Everything I know",
                                                           "body": "x" * (DOCUMENT_MAX + 1), "authors": [org.rep_emea.pk]})
    assert response.status_code == 200 and f"at most {DOCUMENT_MAX:,} characters".replace(",", "") in response.content.decode()
    assert not KnowledgeEntry.objects.exists()


def test_occurrence_notes_and_decisions_longer_than_the_limit_are_refused_with_the_reason(org, client, cadence):
    from dealpilot.cadence.recurrence import slots

    meeting = cadence.meetings.order_by("pk").first()
    now = timezone.now()
    key = slots([meeting], now - timedelta(days=14), now + timedelta(days=14))[0].key
    client.force_login(org.manager_emea)
    for field in ("notes", "decisions"):
        response = client.post(f"/cadence/meetings/{meeting.pk}/{key}/record/", {"status": "held", field: "x" * (NOTE_MAX + 1)},
                               follow=True)
        assert f"at most {NOTE_MAX}" in response.content.decode(), field
    assert not Occurrence.objects.exists()
    deal = org.opportunities["rep_emea"][0]
    response = client.post(f"/cadence/meetings/{meeting.pk}/{key}/deal-note/", {"opportunity": deal.pk, "note": "x" * (NOTE_MAX + 1)},
                           follow=True)
    assert response.status_code == 200 and not DealNote.objects.exists()


def test_coaching_and_outcome_notes_longer_than_the_limit_are_form_errors_and_nothing_is_saved(org, client, cadence):
    client.force_login(org.manager_emea)
    response = client.post("/cadence/coaching/", {"rep": org.rep_emea.pk, "held_on": timezone.localdate().isoformat(),
                                                  "topic": "skill", "skill": "Discovery", "minutes": 30,
                                                  "notes": "x" * (NOTE_MAX + 1)})
    assert response.status_code == 400 and f"at most {NOTE_MAX}" in response.content.decode()
    assert not CoachingSession.objects.exists()
    response = client.post(f"/cadence/teams/{org.teams['emea'].pk}/settings/",
                           {"time_zone": "Europe/Berlin", "coaching_target_minutes": 60, "outcome": "x" * (NOTE_MAX + 1)}, follow=True)
    assert f"at most {NOTE_MAX}" in response.content.decode()
    cadence.refresh_from_db()
    assert cadence.outcome == ""
    deal = org.opportunities["rep_emea"][0]
    client.force_login(org.rep_emea)
    response = client.post(f"/deals/opportunities/{deal.pk}/call-plans/", {
        "call_date": timezone.localdate().isoformat(), "objective": "Agree the pilot", "our_outcomes": "x" * (NOTE_MAX + 1)})
    assert response.status_code == 400 and f"at most {NOTE_MAX}" in response.content.decode()
    assert not CallPlan.objects.exists()


def test_hand_read_texts_of_the_plan_and_module_pages_are_refused_past_their_limit(org, client):
    from dealpilot.planning import services as plans

    account = org.accounts["rep_emea"]
    plans.create_plan(org.rep_emea, account.pk, title="Plan")
    client.force_login(org.rep_emea)
    response = client.post(f"/planning/accounts/{account.pk}/plan/comment/", {"text": "x" * (NOTE_MAX + 1)})
    assert response.status_code == 400 and f"longer than {NOTE_MAX:,} characters" in response.content.decode()
    assert not PlanComment.objects.exists()
    client.force_login(org.enablement)
    response = client.post("/enablement/modules/new/", {"title": "Playbook", "kind": "playbook", "status": "draft",
                                                        "language": "en", "body": "x" * (DOCUMENT_MAX + 1)})
    assert response.status_code in (200, 400) and f"at most {DOCUMENT_MAX}" in response.content.decode()
    assert not ContentModule.objects.exists()


def test_an_api_token_name_longer_than_its_column_is_refused_with_the_reason(org, client):
    from dealpilot.crm.models import ApiToken

    client.force_login(org.rep_emea)
    response = client.post("/account/tokens/", {"name": "x" * 101})
    assert response.status_code == 400 and "longer than 100 characters" in response.content.decode()
    assert not ApiToken.objects.exists()
