import pytest


@pytest.fixture(autouse=True)
def fresh_measures():
    """Measures are cached per data version; tests that roll back may repeat a version."""
    from dealpilot.planning.scoring import measure_cache
    from dealpilot.planning.selectors import _ratings, _scores

    for cache in (measure_cache, _ratings, _scores):
        cache.clear()
    yield
    for cache in (measure_cache, _ratings, _scores):
        cache.clear()
