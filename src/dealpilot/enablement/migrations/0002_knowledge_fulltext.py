"""Full-text search of win/loss knowledge: an FTS5 table on SQLite, a GIN index on the stored
tsvector on PostgreSQL (services keep both in sync through enablement/fulltext.py)."""

from django.db import migrations

SQLITE_FORWARD = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS enablement_knowledge_fts USING fts5(title, body, tokenize = 'porter unicode61')"
)
SQLITE_BACKWARD = "DROP TABLE IF EXISTS enablement_knowledge_fts"
PG_FORWARD = "CREATE INDEX IF NOT EXISTS enablement_knowledge_search_gin ON enablement_knowledgeentry USING gin (search_vector)"
PG_BACKWARD = "DROP INDEX IF EXISTS enablement_knowledge_search_gin"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)
    elif vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)
    elif vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("enablement", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
