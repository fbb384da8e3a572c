"""schemathesis over the whole OpenAPI schema: bad input is refused with a clear 4xx, never a 500.

Every operation of `dealpilot.api` (writes included: the test database is thrown away) is called
in-process through the WSGI app with requests generated from the schema, both valid and invalid
ones, as a rep, a manager, a leader and an enablement author, each with a real personal API token.
Path ids are sometimes swapped for ids that exist (and that the caller may or may not see), so the
handlers behind the 404 are reached too.

Checks: no 5xx; every status is one the schema declares, and a response it describes has that shape;
every 4xx carries a JSON body with a human message. Bounded and reproducible for CI: a fixed number of examples per operation,
derandomized, no deadline.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from dealpilot.api import api
from dealpilot.cadence import models as cadence
from dealpilot.cadence.services import create_default_cadence
from dealpilot.crm.models import Account, Activity, Contact, Opportunity, PlanUnit, Team, User
from dealpilot.crm.services import create_api_token
from dealpilot.deals import models as deals
from dealpilot.enablement import models as enablement
from dealpilot.enablement import services as enablement_services
from dealpilot.planning import models as planning
from dealpilot.planning import services as planning_services

# x 87 operations: about a minute per database (see docs/security.md). DEALPILOT_FUZZ_EXAMPLES=200 for a deeper
# hunt on one's own machine.
EXAMPLES_PER_OPERATION = int(os.environ.get("DEALPILOT_FUZZ_EXAMPLES", 20))
ROLES = ("rep_emea", "manager_emea", "leader", "enablement")

CONFIG = SchemathesisConfig.from_dict({
    "generation": {
        "max-examples": EXAMPLES_PER_OPERATION,
        "deterministic": True,  # the same requests on every run and machine
        "with-security-parameters": False,  # auth is the real token of the drawn role, sent below
    },
    # The coverage phase sends each parameter's and field's boundaries and just past them (an id of 2**63, a
    # text one character over its maxLength, a negative page), the fuzzing phase the rest; max-examples bounds
    # both together. No unexpected methods (Django answers 405 to those) and no stateful sequences (the
    # schema declares no links between operations).
    "phases": {"coverage": {"enabled": True, "unexpected-methods": []}, "stateful": {"enabled": False}},
})

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"), config=CONFIG)
schema.app = get_wsgi_application()
# Trains the win model synchronously in tests (tasks run inline): seconds per call, and its input is a
# fixed-shape empty body; tests/deals/test_winmodel.py covers it.
schema = schema.exclude(method="POST", path="/api/deals/model/train")


def _ids(model, **filters):
    return lambda: list(model.objects.filter(**filters).order_by("pk").values_list("pk", flat=True)[:20])


# Path parameters that name a record: the ids that exist, one of which replaces the generated id half the time.
EXISTING = {
    "account_id": _ids(Account),
    "contact_id": _ids(Contact),
    "opportunity_id": _ids(Opportunity),
    "pk": _ids(Opportunity),
    "activity_id": _ids(Activity),
    "team_id": _ids(Team),
    "unit_id": _ids(planning.PlanScope),
    "objective_id": _ids(planning.Objective),
    "strategy_id": _ids(planning.Strategy),
    "action_id": _ids(planning.Action),
    "item_id": _ids(planning.ResearchNote),
    "influence_id": _ids(planning.Influence),
    "lead_id": _ids(planning.AccountLead),
    "plan_id": _ids(deals.CallPlan),
    "module_id": _ids(enablement.ContentModule),
    "entry_id": _ids(enablement.KnowledgeEntry),
    "meeting_id": _ids(cadence.Meeting),
    "user_id": _ids(User),
    "element_key": lambda: list(planning.ScoringElement.objects.order_by("pk").values_list("key", flat=True)[:20]),
}


def clear_4xx(ctx, response, case):
    """A refusal says why: a JSON body with a non-empty `detail` or `message`, or ninja's list of field errors."""
    if not 400 <= response.status_code < 500:
        return True
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from None
    detail = body.get("detail", body.get("message")) if isinstance(body, dict) else None
    if isinstance(detail, str) and detail.strip():
        return True
    if isinstance(detail, list) and detail and all(isinstance(e, dict) and e.get("msg") for e in detail):
        return True
    raise AssertionError(f"{response.status_code} without a message: {body!r}")


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance, clear_4xx]


@pytest.fixture
def wsgi_in_test_transaction():
    """Django closes the database connection at the end of each request; the test client turns that off,
    and so must a WSGI client, or on PostgreSQL the test's transaction is gone after the first call."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(org, wsgi_in_test_transaction):
    """A personal API token per role, on the sample organisation plus a record of each kind the API addresses."""
    rep = org.rep_emea
    account = org.accounts["rep_emea"]
    unit = PlanUnit.objects.create(account=account, name="Operations")
    planning_services.create_plan(rep, account.pk, title="Fuzzed plan")
    scope = planning_services.add_unit(rep, account.pk, unit.pk)
    planning_services.add_research(rep, account.pk, "customer", "Expanding into two plants")
    objective = planning_services.add_objective(rep, account.pk, "revenue", "Land the second plant", unit_id=scope.pk,
                                                 target_amount=250000)
    strategy = planning_services.add_strategy(rep, objective.pk, "Reference the first plant")
    planning_services.add_action(rep, strategy.pk, "Site visit", due_date=date.today() + timedelta(days=7))
    other = Contact.objects.create(account=account, first_name="Olga", last_name="Other")
    planning_services.add_influence(rep, account.pk, org.contacts["rep_emea"].pk, other.pk, "reports to")
    planning_services.create_lead(rep, account.pk, title="Second plant")
    enablement_services.save_module(org.enablement, fields={"title": "Downtime playbook", "kind": "playbook",
                                                           "status": "published", "body": "Downtime costs output."},
                                    tags={"industry": ["Manufacturing"]})
    enablement_services.save_knowledge(rep, kind="win_loss", title="Why we won", body="Fast pilot",
                                       opportunity_id=org.opportunities["rep_emea"][0].pk)
    create_default_cadence(org.teams["emea"], by=org.manager_emea, starts_on=date.today() - timedelta(days=35),
                           time_zone="Europe/Berlin")
    return {role: create_api_token(org.user(role), "fuzz")[1] for role in ROLES}


@schema.given(data=st.data())
@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_bad_input_gets_a_clear_4xx_never_a_5xx(case, data, tokens):
    role = data.draw(st.sampled_from(ROLES), label="role")
    for name in list(case.path_parameters or {}):
        existing = EXISTING.get(name, list)()
        if existing and data.draw(st.booleans(), label=f"existing {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(existing), label=name)
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)


def test_every_operation_declares_its_refusals():
    """422 (ninja's field errors), 401 and 404 were answered but not declared: clients generated from the
    schema did not know them."""
    schema = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))  # as served: string status keys
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert "400" in declared, (method, path)
            if operation.get("security"):
                assert {"401", "404"} <= declared, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in declared, (method, path)
    assert set(schema["paths"]["/api/health"]["get"]["responses"]) == {"200", "400"}  # no login, no input
