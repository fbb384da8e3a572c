import pytest


@pytest.fixture(autouse=True)
def fresh_dashboard_cache():
    """Each test's records are new: no dashboard computed by an earlier test may be reused
    (SQLite reuses ids after a rollback, so a data version could repeat)."""
    from dealpilot.performance.selectors import dashboard_cache

    dashboard_cache.clear()
    yield
    dashboard_cache.clear()
