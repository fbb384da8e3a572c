import os
import uuid
from pathlib import Path

import dj_database_url
import psycopg
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



# ---- the real `dealpilot` command in a subprocess ---------------------------------------------


@pytest.fixture
def cli_env(tmp_path):
    """An environment for the CLI with its own fresh database, of the kind the suite runs on."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DEALPILOT_DATA_DIR"] = str(tmp_path / "data")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
        yield env
        return
    cfg = dj_database_url.parse(url)
    name = f"dp_cli_{uuid.uuid4().hex[:10]}"
    server = dict(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"], password=cfg["PASSWORD"] or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    yield env
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
