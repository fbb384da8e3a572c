"""Full-text search of win/loss knowledge: PostgreSQL's own (a stored tsvector with a GIN index,
SearchQuery in websearch syntax, ranked by ts_rank) or SQLite's FTS5 (a virtual table created by
migration 0002 and kept in sync here, ranked by bm25). Other databases fall back to a substring
match."""

from __future__ import annotations

import re

from django.db import connection

FTS_TABLE = "enablement_knowledge_fts"
CONFIG = "english"
_WORD = re.compile(r"\w+", re.UNICODE)


def index_entry(entry) -> None:
    """Bring the search index up to date with one saved entry (inside the caller's transaction)."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchVector

        type(entry).objects.filter(pk=entry.pk).update(
            search_vector=SearchVector("title", weight="A", config=CONFIG) + SearchVector("body", weight="B", config=CONFIG))
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [entry.pk])
            cursor.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)", [entry.pk, entry.title, entry.body])


def unindex_entry(entry_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [entry_id])


def fts5_query(text: str) -> str:
    """User words as an FTS5 query: each word quoted (no operators from the user), all required,
    the last one as a prefix so search-as-you-type finds words being typed."""
    words = _WORD.findall(text.lower())[:20]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search(queryset, text: str, limit: int = 100) -> list:
    """The entries of `queryset` that match `text`, best first."""
    text = (text or "").strip()
    if not text:
        return list(queryset.order_by("-created_at")[:limit])
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank
        from django.db.models import F

        query = SearchQuery(text, search_type="websearch", config=CONFIG)
        return list(queryset.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
                    .order_by("-rank", "-created_at")[:limit])
    if connection.vendor == "sqlite":
        match = fts5_query(text)
        if not match:
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s ORDER BY bm25({FTS_TABLE}, 2.0, 1.0) LIMIT %s",
                           [match, limit * 20 if queryset.query.has_filters() else limit])
            ids = [row[0] for row in cursor.fetchall()]
        # the queryset may filter (e.g. by kind): keep the best `limit` it allows, then load only those
        if queryset.query.has_filters():
            allowed = set(queryset.filter(pk__in=ids).values_list("pk", flat=True))
            best = [i for i in ids if i in allowed][:limit]
        else:
            best = ids[:limit]
        by_id = {e.pk: e for e in queryset.filter(pk__in=best)}
        return [by_id[i] for i in best if i in by_id]
    from django.db.models import Q

    return list(queryset.filter(Q(title__icontains=text) | Q(body__icontains=text)).order_by("-created_at")[:limit])
