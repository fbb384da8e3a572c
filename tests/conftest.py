import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def maven_dir() -> Path:
    folder = Path(os.environ.get("DEALPILOT_SHARED", SHARED)) / "datasets" / "maven-crm"
    if not folder.is_dir():
        pytest.fail(f"the shared Maven dataset is missing at {folder}")
    return folder


# ---- shared by the web and CRM tests -----------------------------------------------------------


@pytest.fixture
def org(db):
    """A small organisation with every role and a few records each (see tests/factories.py)."""
    from tests.factories import build_sample_org

    return build_sample_org()

