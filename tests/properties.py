"""Hypothesis strategies for tiny and odd sales data, and the checks every score and metric must pass
on them. Shared by the property tests of deals, planning, analytics (performance) and enablement.

Each example writes rows: `rolled_back()` undoes them, so one test's examples never see each other's."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.factories import add_stage_change, make_activity, make_opportunity

# Each example builds rows in the database: a few dozen examples, the same ones on every run.
DB_EXAMPLES = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

STAGES = ["Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost", "A stage nobody uses"]
AMOUNTS = [None, Decimal(0), Decimal("0.01"), Decimal(1), Decimal(25000), Decimal("999999999999.99")]  # up to a trillion: SQLite keeps 15 digits

deal = st.fixed_dictionaries({
    "stage": st.sampled_from(STAGES),
    "status": st.sampled_from(["open", "won", "lost"]),
    "amount": st.sampled_from(AMOUNTS),
    "created_ago": st.integers(0, 800),
    "length": st.integers(-30, 400),  # days to the close date; negative: it closes before it was created
    "history": st.lists(st.tuples(st.sampled_from(STAGES), st.integers(0, 400)), max_size=3),
    "activities": st.lists(st.tuples(st.sampled_from(["call", "email", "meeting", "task"]), st.integers(-5, 400)), max_size=3),
})
deals = st.lists(deal, max_size=5)  # empty included


def build_deals(owner, account, data: list[dict]) -> list:
    today = timezone.localdate()
    made = []
    for d in data:
        created = today - timedelta(days=d["created_ago"])
        opp = make_opportunity(owner, account, stage=d["stage"], status=d["status"], amount=d["amount"], created_date=created,
                               close_date=created + timedelta(days=d["length"]))
        for stage, offset in d["history"]:
            add_stage_change(opp, stage, created + timedelta(days=offset))
        for kind, offset in d["activities"]:
            make_activity(owner, kind=kind, opportunity=opp, activity_date=created + timedelta(days=offset))
        made.append(opp)
    return made


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def strict_json(response) -> object:
    """The body as JSON, refusing NaN and Infinity (Python writes them; no JSON reader accepts them)."""
    def refuse(constant):
        raise AssertionError(f"{constant} in the JSON of {response.request['PATH_INFO']}")
    return json.loads(response.content, parse_constant=refuse)


def walk(value, key=""):
    """Every (key, number) in a JSON document, nested keys included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


def assert_sane_numbers(body) -> None:
    """Finite numbers; probabilities in [0, 1]; counts, deal numbers and days never negative."""
    for key, number in walk(body):
        assert math.isfinite(number), (key, number)
        if key in ("probability", "win_probability", "model_probability") or key.endswith("_probability"):
            assert 0 <= number <= 1, (key, number)
        if key == "count" or key.endswith("_count") or key.startswith(("n_", "count_")) or key in ("deals", "won", "lost"):
            assert number >= 0, (key, number)
