"""The fast paths of the DuckDB engine's record copies, on committed data (a transactional test):
ADBC reads give exactly the cursor's Arrow tables; a warm call reads nothing; a commit is seen."""

from datetime import date

import pytest
from django.db import connection, transaction

from dealpilot.analytics import frames as fr
from dealpilot.analytics import metrics as m
from dealpilot.crm.models import Role, SalesTarget
from tests.factories import add_line_item, add_stage_change, make_account, make_activity, make_opportunity, make_product, make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def records():
    team = make_team("Nordics")
    ann = make_user(Role.REP, team=team, username="ann", full_name="Ann Rep")
    acc = make_account(ann, region="EMEA")
    won = make_opportunity(ann, acc, status="won", amount="12345.67", created_date=date(2025, 1, 2), close_date=date(2025, 2, 3),
                           stage="won", probability=35)
    add_stage_change(won, "Qualification", date(2025, 1, 10), probability=10)
    add_line_item(won, make_product("Widget"))
    make_opportunity(ann, acc, amount=None, created_date=None, close_date=None)  # nulls everywhere they may be
    make_activity(ann, opportunity=won, activity_date=date(2025, 1, 20))
    make_activity(None, account=acc, activity_date=date(2025, 1, 21))
    SalesTarget.objects.create(owner=ann, period_start=date(2025, 1, 1), period_end=date(2025, 3, 31), amount="50000.10")
    fr.arrow_cache.clear()
    yield ann


def test_adbc_copies_equal_the_cursor_copies(records):
    assert not connection.in_atomic_block
    fast = {name: fr.read_arrow_adbc(*fr.SOURCES[name]) for name in fr.SOURCES}
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        assert all(t is None for t in fast.values())  # no second connection to an in-memory database
        return
    for name, table in fast.items():
        assert table is not None, name
        assert table.equals(fr.read_arrow(*fr.SOURCES[name])), name


def test_copies_read_in_a_transaction_see_its_changes(records):
    with transaction.atomic():
        make_opportunity(records, status="won", created_date=date(2025, 1, 1), close_date=date(2025, 1, 31), amount=10)
        assert fr.read_arrow_adbc(*fr.SOURCES["opportunities"]) is None  # the cursor path, inside the transaction
        rows = m.velocity(fr.frames_for(None), "owner")
        assert sum(r["opportunities"] for r in rows) == 2


def test_a_warm_call_reads_nothing_and_a_commit_is_seen(records):
    before = m.velocity(fr.frames_for(None), "owner", "month")
    loads = fr.arrow_cache.loads
    assert m.velocity(fr.frames_for(None), "owner", "month") == before
    assert fr.arrow_cache.loads == loads
    make_opportunity(records, status="lost", created_date=date(2025, 2, 1), close_date=date(2025, 2, 20), amount=5)
    after = m.velocity(fr.frames_for(None), "owner", "month")
    assert fr.arrow_cache.loads == loads + 1  # the opportunities only
    assert [r["opportunities"] for r in after] == [2]
