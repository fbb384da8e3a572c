"""Frames: Ibis tables over the CRM records, limited to what one user may see.

`frames_for(user, engine=...)` returns a `Frames` whose tables are Ibis expressions on one engine:

- ``duckdb`` (default): each record table is read from the app database with one plain SQL query
  (by an ADBC driver, straight into Arrow, outside transactions; else through Django's cursor) and
  registered in an in-process DuckDB. The Arrow copy is cached per data version (row count, highest
  id and latest ``updated_at`` of the table), so a warm call reads nothing but the versions (not
  even those on SQLite while no commit happened) and reuses the copy; the enriched frames are kept
  as DuckDB temporary tables per data version and scope, and compiled SQL is cached.
- ``postgres``: when the app runs on PostgreSQL, Ibis's postgres backend is put on Django's own
  connection (the same transaction, no copy) and every metric is compiled to SQL and pushed down.
- ``spark``: the same Arrow copies handed to a SparkSession (local mode, or the cluster that
  ``DEALPILOT_SPARK_MASTER`` names) as temporary views; Ibis compiles the metrics to Spark SQL.

The enriched tables (owner, team, region, product on each opportunity) are built here with Ibis
joins over the raw record tables, so every engine runs the same definition.

Scope: `owner_scope(user)` decides whose records are in the frames (None: everyone's). Opportunities,
targets and stage history follow the opportunity's owner; activities are in scope when their owner
or their opportunity's owner is. Opportunities in the recycle bin (``deleted_at`` set) are left out
of every frame, with their stage history and activities, on every engine.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from django.db import connections, models

from dealpilot.crm import models as crm

ENGINES = ("duckdb", "postgres", "spark")
DEFAULT_ENGINE = "duckdb"

# The record tables the frames read, and the columns of each (Django field names).
SOURCES: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "users": (crm.User, ("id", "username", "full_name", "role", "team", "is_active")),
    "teams": (crm.Team, ("id", "name", "parent")),
    "accounts": (crm.Account, ("id", "region")),
    "products": (crm.Product, ("id", "name")),
    "opportunities": (crm.Opportunity, ("id", "name", "account", "owner", "stage", "amount", "currency", "created_date",
                                        "close_date", "is_closed", "is_won", "source", "probability", "deleted_at")),
    "line_items": (crm.LineItem, ("id", "opportunity", "product")),
    "stage_history": (crm.StageHistory, ("id", "opportunity", "stage", "amount", "close_date", "probability", "changed_at")),
    "activities": (crm.Activity, ("id", "kind", "activity_date", "owner", "opportunity", "deleted_at")),
    "targets": (crm.SalesTarget, ("id", "owner", "period_start", "period_end", "amount")),
}


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (e.g. postgres while the app runs on SQLite)."""


@dataclass(frozen=True)
class Frames:
    """The record frames of one scope on one engine. All tables are Ibis expressions."""

    engine: str
    backend: Any
    opportunities: ir.Table   # one row per opportunity, with owner/team/region/product/source names
    stage_history: ir.Table   # one row per stage change, with the opportunity's owner and the day it happened
    activities: ir.Table      # one row per activity, with the owner it counts for
    targets: ir.Table         # one row per target (quota) of a person in scope
    people: ir.Table          # the people in scope: id, name, role, team_id, team

    def run(self, expr: ir.Table) -> list[dict]:
        """Execute an expression on this engine and return plain rows."""
        table = expr.to_pyarrow()
        for i, field in enumerate(table.schema):
            # moments are UTC everywhere (Spark hands them back without a zone)
            if pa.types.is_timestamp(field.type) and field.type.tz is None:
                table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit, tz="UTC")))
        return table.to_pylist()


# ---- reading the records as Arrow (DuckDB engine) ---------------------------------------------


def _column(model: type[models.Model], name: str) -> tuple[str, pa.DataType]:
    field = model._meta.get_field(name)
    column = field.column
    if isinstance(field, (models.ForeignKey, models.AutoField, models.BigAutoField, models.IntegerField,
                          models.PositiveIntegerField)):
        return column, pa.int64()
    if isinstance(field, models.DecimalField):
        return column, pa.decimal128(field.max_digits, field.decimal_places)
    if isinstance(field, models.DateTimeField):
        return column, pa.timestamp("us", tz="UTC")
    if isinstance(field, models.DateField):
        return column, pa.date32()
    if isinstance(field, models.BooleanField):
        return column, pa.bool_()
    return column, pa.string()


def _schema(model: type[models.Model], fields: tuple[str, ...]) -> pa.Schema:
    return pa.schema([_column(model, f) for f in fields])


def _convert(values: list, typ: pa.DataType) -> pa.Array:
    if pa.types.is_decimal(typ):
        from decimal import Decimal

        values = [v if v is None or isinstance(v, Decimal) else Decimal(str(v)) for v in values]
    elif pa.types.is_boolean(typ):
        values = [None if v is None else bool(v) for v in values]
    elif pa.types.is_timestamp(typ):
        from datetime import timezone

        # SQLite gives naive datetimes, stored in UTC (USE_TZ)
        values = [v if v is None or v.tzinfo is not None else v.replace(tzinfo=timezone.utc) for v in values]
    return pa.array(values, type=typ)


def _select(conn, model: type[models.Model], schema: pa.Schema, decimals_as_text: bool = False) -> str:
    qn = conn.ops.quote_name
    columns = [f"CAST({qn(f.name)} AS TEXT) AS {qn(f.name)}" if decimals_as_text and pa.types.is_decimal(f.type)
               else qn(f.name) for f in schema]
    return f"SELECT {', '.join(columns)} FROM {qn(model._meta.db_table)}"


def read_arrow(model: type[models.Model], fields: tuple[str, ...], using: str = "default") -> pa.Table:
    """One plain SELECT of the given columns through Django's connection, as an Arrow table."""
    schema = _schema(model, fields)
    conn = connections[using]
    with conn.cursor() as cursor:
        cursor.execute(_select(conn, model, schema))
        rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [[] for _ in schema.names]
    return pa.table([_convert(list(col), f.type) for col, f in zip(columns, schema)], schema=schema)


# ADBC (Arrow Database Connectivity) drivers read a query's result straight into Arrow, in C, without
# a Python object per value: several times faster than a cursor. They open a connection of their own,
# so they are used only where that connection sees what Django's sees: outside a transaction.
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "connect_timeout", "options",
                  "service", "passfile", "target_session_attrs")


def _adbc_connect(using: str):
    """An ADBC connection to the same database as Django's `using`, or None where none can be had."""
    conn = connections[using]
    if conn.in_atomic_block:
        return None  # a separate connection would not see this transaction's changes
    try:
        if conn.vendor == "sqlite":
            if conn.is_in_memory_db():
                return None
            import adbc_driver_sqlite.dbapi as adbc_sqlite

            return adbc_sqlite.connect(str(conn.settings_dict["NAME"]))
        if conn.vendor == "postgresql":
            import adbc_driver_postgresql.dbapi as adbc_postgres
            from psycopg.conninfo import make_conninfo

            s = conn.settings_dict
            params = {"dbname": s["NAME"], "user": s.get("USER"), "password": s.get("PASSWORD"), "host": s.get("HOST"),
                      "port": str(s["PORT"]) if s.get("PORT") else None}
            params.update({k: str(v) for k, v in (s.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS})
            return adbc_postgres.connect(make_conninfo(**{k: v for k, v in params.items() if v}))
    except ImportError:
        return None
    return None


def _fit(column: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    """A column as a driver returned it, in the type the frames use (e.g. SQLite's text dates)."""
    if column.type == typ:
        return column
    if pa.types.is_timestamp(typ) and (pa.types.is_string(column.type) or column.type == pa.timestamp(typ.unit)):
        return column.cast(pa.timestamp(typ.unit)).cast(typ)  # stored without a zone, in UTC
    return column.cast(typ)


def read_arrow_adbc(model: type[models.Model], fields: tuple[str, ...], using: str = "default",
                    adbc: Any = None) -> pa.Table | None:
    """The same table as read_arrow, read by an ADBC driver (on `adbc`, else a connection of its own);
    None where that cannot be done here."""
    own = adbc is None
    if own:
        adbc = _adbc_connect(using)
        if adbc is None:
            return None
    schema = _schema(model, fields)
    sqlite = connections[using].vendor == "sqlite"
    try:
        cursor = adbc.cursor()
        try:
            if sqlite:  # one batch: the driver infers each column's type from its first batch
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 22)})
            # SQLite: decimals as text, which is exact (its 15-digit rendering of the stored number)
            cursor.execute(_select(connections[using], model, schema, decimals_as_text=sqlite))
            table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
        if table.num_rows == 0:
            return schema.empty_table()
        return pa.table([_fit(table.column(i), f.type) for i, f in enumerate(schema)], schema=schema)
    except Exception:  # noqa: BLE001 - any surprise (a type the driver guessed otherwise): the cursor path
        return None
    finally:
        if own:
            adbc.close()


def _read_many_adbc(names: list[str], sizes: dict[str, int], using: str) -> dict[str, pa.Table | None]:
    """Several tables read by ADBC in parallel: two threads (or one per core, up to four), each with one
    connection, the biggest tables dealt out first."""
    from concurrent.futures import ThreadPoolExecutor

    workers = min(4, max(2, os.cpu_count() or 2), len(names))
    bins: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for name in sorted(names, key=lambda n: -sizes.get(n, 0)):
        i = load.index(min(load))
        bins[i].append(name)
        load[i] += sizes.get(name, 0) + 1

    def read(batch: list[str]) -> dict[str, pa.Table | None]:
        from django.db import connections as conns

        adbc = _adbc_connect(using)
        try:
            return {n: read_arrow_adbc(*SOURCES[n], using, adbc=adbc) if adbc is not None else None for n in batch}
        finally:
            if adbc is not None:
                adbc.close()
            conns.close_all()  # this thread's Django connections (opened to read settings), if any

    out: dict[str, pa.Table | None] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(read, bins):
            out.update(part)
    return out


def _versions_sql(conn, names: list[str]) -> str:
    qn = conn.ops.quote_name
    parts = []
    for name in names:
        model = SOURCES[name][0]
        has_updated = any(f.name == "updated_at" for f in model._meta.concrete_fields)
        latest = f"CAST(MAX({qn('updated_at')}) AS TEXT)" if has_updated else "NULL"
        parts.append(f"SELECT '{name}', COUNT(*), MAX({qn('id')}), {latest} FROM {qn(model._meta.db_table)}")
    return " UNION ALL ".join(parts)


def data_version(model: type[models.Model], using: str = "default") -> tuple:
    """What changes whenever the table's rows do: count, highest id, latest update."""
    conn = connections[using]
    qn = conn.ops.quote_name
    has_updated = any(f.name == "updated_at" for f in model._meta.concrete_fields)
    latest = f"MAX({qn('updated_at')})" if has_updated else "NULL"
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX({qn('id')}), {latest} FROM {qn(model._meta.db_table)}")
        count, max_id, updated = cursor.fetchone()
    return conn.settings_dict["NAME"], count, max_id, str(updated)


class _SqliteCommits:
    """SQLite's `PRAGMA data_version` on a connection of our own: it changes whenever any other
    connection (of this process or another) commits to the file. While it stays the same, nothing
    was written anywhere, and the tables' versions need no recount (which scans them)."""

    def __init__(self) -> None:
        self._conns: dict[str, Any] = {}
        self._lock = threading.Lock()

    def token(self, using: str) -> tuple | None:
        conn = connections[using]
        if conn.vendor != "sqlite" or conn.in_atomic_block or conn.is_in_memory_db():
            return None
        import sqlite3

        path = str(conn.settings_dict["NAME"])
        with self._lock:
            watch = self._conns.get(path)
            if watch is None:
                watch = self._conns[path] = sqlite3.connect(path, check_same_thread=False)
            return path, watch.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for c in self._conns.values():
                c.close()
            self._conns.clear()


_sqlite_commits = _SqliteCommits()


class _ArrowCache:
    """Arrow copies of the record tables, reloaded only when a table's data version changed."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], tuple[tuple, pa.Table]] = {}
        self._checked: dict[str, tuple[tuple, dict[str, tuple]]] = {}  # using -> (commit token, versions)
        self._lock = threading.Lock()
        self.loads = 0  # how many table reads happened (tests check warm calls read nothing)

    def versions(self, names: list[str], using: str = "default") -> dict[str, tuple]:
        """Every table's data version, counted in one query (skipped on SQLite while no commit happened)."""
        token = _sqlite_commits.token(using)
        with self._lock:
            seen = self._checked.get(using)
            if token is not None and seen is not None and seen[0] == token and all(n in seen[1] for n in names):
                return {n: seen[1][n] for n in names}
        conn = connections[using]
        with conn.cursor() as cursor:
            cursor.execute(_versions_sql(conn, names))
            rows = cursor.fetchall()
        versions = {name: (conn.settings_dict["NAME"], count, max_id, str(updated)) for name, count, max_id, updated in rows}
        if token is not None:
            with self._lock:
                self._checked[using] = (token, versions)
        return versions

    def get_many(self, names: list[str], using: str = "default") -> dict[str, pa.Table]:
        """The Arrow copies of these tables, reading again only those whose version changed; the
        reads run in parallel where ADBC can do them (each thread its own connection)."""
        versions = self.versions(names, using)
        out, stale = {}, []
        with self._lock:
            for name in names:
                hit = self._tables.get((using, name))
                if hit is not None and hit[0] == versions[name]:
                    out[name] = hit[1]
                else:
                    stale.append(name)
        if stale:
            fast = {}
            if _adbc_connect_possible(using):
                fast = _read_many_adbc(stale, {n: versions[n][1] or 0 for n in stale}, using)
            for name in stale:
                table = fast.get(name)
                if table is None:
                    table = read_arrow(*SOURCES[name], using)
                out[name] = table
                with self._lock:
                    self._tables[(using, name)] = (versions[name], table)
                    self.loads += 1
        return out

    def get(self, name: str, using: str = "default") -> pa.Table:
        return self.get_many([name], using)[name]

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()
            self._checked.clear()


def _adbc_connect_possible(using: str) -> bool:
    conn = connections[using]
    if conn.in_atomic_block or conn.vendor not in ("sqlite", "postgresql"):
        return False
    return not (conn.vendor == "sqlite" and conn.is_in_memory_db())


arrow_cache = _ArrowCache()


# ---- reusing backends and compiled queries ---------------------------------------------------------
# Compiling an Ibis expression to SQL costs more than running it on small data. An engine's backend
# (and its raw tables) is kept while its data is the same, so that the same metric builds an equal
# expression again, whose SQL is then taken from a cache instead of compiled again.

COMPILED_CACHE_SIZE = 512


def _cache_compiled(backend: Any) -> Any:
    compile_sql = backend.compile
    cache: OrderedDict = OrderedDict()
    lock = threading.Lock()

    def compile(expr, /, *, limit=None, params=None, pretty=False, **kwargs):
        if params or kwargs:
            return compile_sql(expr, limit=limit, params=params, pretty=pretty, **kwargs)
        key = (expr.op(), limit, pretty)
        with lock:
            sql = cache.get(key)
            if sql is not None:
                cache.move_to_end(key)
                return sql
        sql = compile_sql(expr, limit=limit, pretty=pretty)
        with lock:
            cache[key] = sql
            while len(cache) > COMPILED_CACHE_SIZE:
                cache.popitem(last=False)
        return sql

    backend.compile = compile
    return backend


_duckdb_state = threading.local()  # per thread (a DuckDB connection is not shared between threads)


def _duckdb_raw(using: str) -> tuple[Any, dict[str, ir.Table]]:
    tables = arrow_cache.get_many(list(SOURCES), using)
    state = getattr(_duckdb_state, "by_using", None)
    if state is None:
        state = _duckdb_state.by_using = {}
    held = state.get(using)
    if held is not None and all(held[0][name] is tables[name] for name in SOURCES):
        return held[1], held[2]
    backend = _cache_compiled(ibis.duckdb.connect())
    raw = {}
    for name in SOURCES:
        backend.con.register(name, tables[name])
        raw[name] = backend.table(name)
    state[using] = (tables, backend, raw)
    return backend, raw


_spark: dict[str, Any] = {}  # the session, and the DataFrames registered per data version


def spark_session():
    """A SparkSession: local mode by default; DEALPILOT_SPARK_MASTER points at a cluster
    (e.g. spark://host:7077); any other setting comes from Spark's own spark-defaults.conf."""
    import os
    import tempfile

    if "session" not in _spark:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineUnavailable("the spark engine needs PySpark: pip install 'dealpilot[spark]' (and Java 17+)") from None
        builder = (SparkSession.builder.appName("dealpilot")
                   .master(os.environ.get("DEALPILOT_SPARK_MASTER", "local[*]"))
                   .config("spark.ui.enabled", "false")
                   # the views are temporary: keep Spark's warehouse folder out of the working directory
                   .config("spark.sql.warehouse.dir", os.environ.get("DEALPILOT_SPARK_WAREHOUSE",
                                                                     tempfile.mkdtemp(prefix="dealpilot-spark-")))
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.shuffle.partitions", os.environ.get("DEALPILOT_SPARK_PARTITIONS", "4")))
        _spark["session"] = builder.getOrCreate()
    return _spark["session"]


def _spark_raw(using: str) -> tuple[Any, dict[str, ir.Table]]:
    """The same Arrow copies as DuckDB's, handed to Spark as temporary views (once per data version)."""
    session = spark_session()
    backend = ibis.pyspark.connect(session)
    raw = {}
    tables = arrow_cache.get_many(list(SOURCES), using)
    for name in SOURCES:
        table = tables[name]
        view = f"dealpilot_{name}"
        if _spark.get(view) is not table:
            session.createDataFrame(table).createOrReplaceTempView(view)
            _spark[view] = table
        raw[name] = backend.table(view)
    return backend, raw


def _postgres_raw(using: str) -> tuple[Any, dict[str, ir.Table]]:
    conn = connections[using]
    if conn.vendor != "postgresql":
        raise EngineUnavailable(f"the postgres engine needs the app on PostgreSQL; it runs on {conn.vendor}")
    conn.ensure_connection()
    # kept on Django's connection for as long as it holds the same database connection
    held = getattr(conn, "_dealpilot_ibis", None)
    if held is not None and held[0] is conn.connection:
        return held[1], held[2]
    backend = _cache_compiled(ibis.postgres.from_connection(conn.connection))
    raw = {}
    for name, (model, fields) in SOURCES.items():
        table = backend.table(model._meta.db_table)
        raw[name] = table.select(*[model._meta.get_field(f).column for f in fields])
    conn._dealpilot_ibis = (conn.connection, backend, raw)
    return backend, raw


# ---- the frames: one definition over the raw tables for every engine --------------------------


def _in_scope(column: ir.Column, ids: list[int] | None) -> ir.BooleanValue:
    if ids is None:
        return ibis.literal(True)
    if not ids:
        return ibis.literal(False)
    return column.isin(ids)


def scope_ids(user) -> list[int] | None:
    """The ids of the people whose records `user` may see; None: everyone's (also for no user)."""
    if user is None:
        return None
    from dealpilot.crm.visibility import owner_scope

    scope = owner_scope(user)
    return None if scope is None else sorted(scope.values_list("id", flat=True))


def build_frames(engine: str, backend: Any, raw: dict[str, ir.Table], ids: list[int] | None) -> Frames:
    users, teams = raw["users"], raw["teams"]
    people = users.left_join(teams, users.team_id == teams.id).select(
        id=users.id,
        name=ibis.coalesce(users.full_name.nullif(""), users.username),
        username=users.username,
        role=users.role,
        is_active=users.is_active,
        team_id=users.team_id,
        team=teams.name,
    )
    people = people.filter(_in_scope(people.id, ids))

    # One product per opportunity: the product of its first line item (none: null).
    items, products = raw["line_items"], raw["products"]
    first_item = items.group_by(items.opportunity_id).agg(item_id=items.id.min())
    first_product = (first_item.join(items, first_item.item_id == items.id)
                     .join(products, items.product_id == products.id)
                     .select(opportunity_id=first_item.opportunity_id, product=products.name))

    # Opportunities in the recycle bin count in no metric, and neither do their stage changes and activities.
    o_raw, a = raw["opportunities"], raw["accounts"]
    o = o_raw.filter(o_raw.deleted_at.isnull())
    opp = o.filter(_in_scope(o.owner_id, ids))
    opp = (opp.left_join(people, opp.owner_id == people.id)
           .left_join(a, opp.account_id == a.id)
           .left_join(first_product, opp.id == first_product.opportunity_id)
           .select(
               id=opp.id, name=opp.name, owner_id=opp.owner_id, owner=people.name, team_id=people.team_id,
               team=people.team, region=a.region.nullif(""), product=first_product.product, source=opp.source.nullif(""),
               stage=opp.stage, amount=opp.amount, currency=opp.currency, created_date=opp.created_date,
               close_date=opp.close_date, is_closed=opp.is_closed, is_won=opp.is_won, probability=opp.probability,
           ))

    sh = raw["stage_history"]
    o_all = o
    history = (sh.join(o_all, sh.opportunity_id == o_all.id)
               .filter(_in_scope(o_all.owner_id, ids))
               .select(id=sh.id, opportunity_id=sh.opportunity_id, owner_id=o_all.owner_id, stage=sh.stage,
                       amount=sh.amount, close_date=sh.close_date, probability=sh.probability, changed_at=sh.changed_at,
                       changed_on=sh.changed_at.date()))  # the day (UTC), computed once where the frame is kept

    act = raw["activities"]
    act = act.filter(act.deleted_at.isnull())  # an activity in the recycle bin counts nowhere (nor its contact's, account's)
    act = act.filter(act.kind != "note")  # a note is written down, not a touch with the buyer: no activity metric counts it
    act = (act.left_join(o_raw, act.opportunity_id == o_raw.id)
           .filter(o_raw.deleted_at.isnull())  # no opportunity, or one not in the recycle bin
           .select(id=act.id, kind=act.kind, activity_date=act.activity_date, opportunity_id=act.opportunity_id,
                   # an activity counts for its owner, else for its opportunity's owner
                   owner_id=ibis.coalesce(act.owner_id, o_raw.owner_id), deal_owner_id=o_raw.owner_id))
    act = act.filter(_in_scope(act.owner_id, ids) | _in_scope(act.deal_owner_id, ids))

    tg = raw["targets"]
    tg = tg.filter(_in_scope(tg.owner_id, ids))
    return Frames(engine=engine, backend=backend, opportunities=opp, stage_history=history, activities=act, targets=tg,
                  people=people)


def frames_for(user=None, engine: str | None = None, using: str = "default") -> Frames:
    """The frames of the records `user` may see (None: all records), on the chosen engine."""
    engine = engine or DEFAULT_ENGINE
    if engine == "duckdb":
        backend, raw = _duckdb_raw(using)
    elif engine == "postgres":
        backend, raw = _postgres_raw(using)
    elif engine == "spark":
        backend, raw = _spark_raw(using)
    else:
        raise EngineUnavailable(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    ids = scope_ids(user)
    if engine == "duckdb":
        return _materialized_frames(backend, raw, ids)
    return build_frames(engine, backend, raw, ids)


MATERIALIZED = ("people", "opportunities", "stage_history", "activities")
MATERIALIZED_SCOPES = 8  # the frames of this many scopes are kept per DuckDB backend (i.e. per data version)


def _materialized_frames(backend: Any, raw: dict[str, ir.Table], ids: list[int] | None) -> Frames:
    """DuckDB: the enriched frames computed once per data version and scope, as temporary tables,
    rather than joined again by every query that reads them; the same Frames object while the data
    is the same, so that the metrics' expressions (and their compiled SQL) repeat."""
    held = backend.__dict__.setdefault("_dealpilot_frames", OrderedDict())
    key = None if ids is None else tuple(ids)
    frames = held.get(key)
    if frames is not None:
        held.move_to_end(key)
        return frames
    frames = build_frames("duckdb", backend, raw, ids)
    number = backend.__dict__.setdefault("_dealpilot_frame_count", [0])
    number[0] += 1
    tables = {name: backend.create_table(f"dealpilot_{name}_{number[0]}", obj=getattr(frames, name), temp=True)
              for name in MATERIALIZED}
    frames = replace(frames, **tables)
    held[key] = frames
    while len(held) > MATERIALIZED_SCOPES:
        _, dropped = held.popitem(last=False)
        for name in MATERIALIZED:
            backend.drop_table(getattr(dropped, name).get_name(), force=True)
    return frames
