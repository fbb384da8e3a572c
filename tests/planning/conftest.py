import pytest


@pytest.fixture(autouse=True)
def fresh_measures():
    """Measures are cached per data version; tests that roll back may repeat a version."""
    from dealpilot.planning.scoring import measure_cache
    from dealpilot.planning.selectors import _ratings

    measure_cache.clear()
    _ratings.clear()
    yield
    measure_cache.clear()
    _ratings.clear()
