import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="module")
def maven_files() -> Path:
    folder = Path(os.environ.get("DEALPILOT_SHARED", SHARED)) / "datasets" / "maven-crm"
    if not folder.is_dir():
        pytest.fail(f"the shared Maven dataset is missing at {folder}")
    return folder


@pytest.fixture(scope="module")
def maven_db(django_db_setup, django_db_blocker, maven_files):
    """The real Maven dataset imported once for the module (committed), removed after it."""
    from django.core.management import call_command

    from dealpilot.imports.engine import import_export
    from dealpilot.imports.mapping import MAPPINGS_DIR

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        result = import_export("csv", maven_files, mapping_path=MAPPINGS_DIR / "maven-crm.yaml")
        assert result.committed and not result.rejections
        yield maven_files
        call_command("flush", interactive=False, verbosity=0)
