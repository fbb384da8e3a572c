"""The OpenAPI schema names each request and response shape once: django-ninja files schemas under
their class name, so two different classes of one name would silently share one entry, and
clients (and schemathesis) would be told the wrong fields for one of the routes."""

from collections import defaultdict

from ninja import Schema

import dealpilot.api  # noqa: F401  (imports every app's API module)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_two_different_api_schemas_share_a_name():
    shapes = defaultdict(set)
    for schema in _subclasses(Schema):
        if schema.__module__.startswith("dealpilot."):
            shapes[schema.__name__].add(repr(schema.model_json_schema()))
    clashes = sorted(name for name, found in shapes.items() if len(found) > 1)
    assert not clashes, f"different API schemas share these names (rename one): {clashes}"
