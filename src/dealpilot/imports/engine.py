"""Import a CRM export: stream each file into a staging table, check it in SQL, upsert it.

One import is one transaction: a crash, Ctrl-C or kill leaves the database as it was. Rows that
cannot be imported (missing required field, bad value, unknown parent, duplicate id) are left
out and written to an error CSV with their row number and reason; the rest are imported.

Why staging tables: parents are resolved and duplicates found by the database itself, so memory
stays flat however big the export, and PostgreSQL can be fed with COPY.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone as dj_timezone

from dealpilot.crm.visibility import forget_team_tree
from dealpilot.exports import safe_cell

from .mapping import ENGINE_FIELDS, LOGIN_GUARDED_FIELDS, VERSION_FIELD, FieldRule, Mapping, MappingError, RowConverter, Step, load_mapping
from . import sync
from .parsing import BadValue
from .sources import ExportError, ExportSource

STAGE = "dp_import_stage"
SILENT = "~"  # reject reasons starting with this are merged duplicates, not errors
BATCH = 5000

Progress = Callable[[int, int, str], None]


class StrictModeRejected(Exception):
    """Raised inside the transaction to roll back a --strict import that had rejected rows."""


@dataclass
class Rejection:
    file: str
    row: int
    crm_id: str
    reason: str


@dataclass
class StepResult:
    label: str
    target: str
    file: str | None
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    in_recycle_bin: int = 0  # rows whose record was deleted in dealpilot: updated, and kept in the bin
    unchanged_skipped: int = 0  # rows identical to the last import's: skipped before conversion (in `unchanged` too)
    conflicts: int = 0  # fields both the CRM and dealpilot changed (SyncConflict rows)
    kept: int = 0  # fields whose value from dealpilot the import left as it was
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportResult:
    mapping: str
    steps: list[StepResult]
    rejections: list[Rejection]
    rows_read: int
    committed: bool
    error_path: Path | None = None

    @property
    def rows_rejected(self) -> int:
        return len({(r.file, r.row) for r in self.rejections})

    @property
    def rows_imported(self) -> int:
        return self.rows_read - self.rows_rejected if self.committed else 0

    @property
    def records_written(self) -> int:
        return sum(s.created + s.updated for s in self.steps) if self.committed else 0

    def summary(self, *, error_file: str | None = None) -> str:
        """One line on the outcome; the error file is named by its path (the CLI) or by `error_file` (the web
        page, which links to it and never shows a server path)."""
        text = f"{self.rows_read:,} rows read, {self.rows_imported:,} imported, {self.rows_rejected:,} rejected"
        if not self.committed:
            text += " (nothing imported: --strict)"
        skipped = sum(s.unchanged_skipped for s in self.steps)
        if skipped:
            text += f"; {skipped:,} unchanged since the last import (skipped)"
        kept = sum(s.kept for s in self.steps) if self.committed else 0
        if kept:
            text += f"; {kept:,} field(s) edited in dealpilot kept"
        conflicts = sum(s.conflicts for s in self.steps) if self.committed else 0
        if conflicts:
            text += f"; {conflicts:,} conflict(s) for an admin (changed in the CRM and in dealpilot)"
        binned = sum(s.in_recycle_bin for s in self.steps) if self.committed else 0
        if binned:
            text += f"; {binned:,} in the recycle bin (updated, but kept there: restore them in dealpilot)"
        if self.error_path:
            text += f"; rejected rows in {error_file or self.error_path}"
        return text


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class _Dialect:
    """What differs between SQLite and PostgreSQL when loading and upserting."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    def stage_type(self, rule: FieldRule, model_field: models.Field) -> str:
        if rule.kind in ("link", "json", "text"):
            return "text"
        return model_field.db_type(connection)

    def store(self, kind: str) -> Callable[[Any], Any] | None:
        """How a typed value of `kind` is handed to the driver; None when as it is."""
        if self.postgres or kind in ("text", "link", "json", "int"):
            return None
        if kind == "date":
            return date.isoformat
        if kind == "datetime":
            return lambda v: str(v.astimezone(timezone.utc).replace(tzinfo=None))  # Django's SQLite format
        if kind == "decimal":
            return str
        if kind == "bool":
            return int
        raise AssertionError(kind)

    def json_expr(self, expr: str) -> str:
        return f"CAST({expr} AS jsonb)" if self.postgres else expr

    def now(self):
        now = dj_timezone.now()
        return now if self.postgres else str(now.astimezone(timezone.utc).replace(tzinfo=None))

    def default(self, model_field: models.Field) -> Any:
        value = model_field.get_default()
        if isinstance(model_field, models.JSONField):
            return json.dumps(value if value is not None else {})
        if value is None or self.postgres:
            return value
        if isinstance(value, datetime):
            return str(value.astimezone(timezone.utc).replace(tzinfo=None))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return str(value) if not isinstance(value, (int, float, str)) else value


class _StageWriter:
    """Streams rows into the staging table: COPY on PostgreSQL, batched inserts on SQLite."""

    def __init__(self, cursor, columns: list[str], dialect: _Dialect):
        self.cursor, self.columns, self.dialect = cursor, columns, dialect
        self.batch: list[tuple] = []
        self._copy_cm = self._copy = None

    def __enter__(self):
        if self.dialect.postgres:
            cols = ", ".join(_quote(c) for c in self.columns)
            self._copy_cm = self.cursor.cursor.copy(f"COPY {STAGE} ({cols}) FROM STDIN")
            self._copy = self._copy_cm.__enter__()
        return self

    def write(self, row: tuple) -> None:
        if self._copy is not None:
            self._copy.write_row(row)
            return
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            marks = ", ".join(["%s"] * len(self.columns))
            self.cursor.executemany(f"INSERT INTO {STAGE} VALUES ({marks})", self.batch)
            self.batch = []

    def __exit__(self, *exc):
        if self._copy_cm is not None:
            return self._copy_cm.__exit__(*exc)
        if exc[0] is None:
            self.flush()
        return False


class _Progress:
    def __init__(self, callback: Progress | None, total: int):
        self.callback, self.total, self.done, self.label = callback, total, 0, ""

    def add(self, n: int) -> None:
        self.done += n
        if self.callback:
            self.callback(min(self.done, self.total), self.total, self.label)


def import_export(
    kind: str,
    path: Path,
    *,
    mapping_path: Path | None = None,
    strict: bool = False,
    error_path: Path | None = None,
    progress: Progress | None = None,
    date_order: str | None = None,
    run_id: int | None = None,
) -> ImportResult:
    """Import an export of `kind` (salesforce, hubspot, or csv with a mapping). Raises ExportError /
    MappingError for a fatal problem (nothing imported); rejected rows are reported, not raised.
    `run_id`: the ImportRun the conflicts and baselines are recorded against (the web page's)."""
    if kind == "csv":
        if mapping_path is None:
            raise MappingError("a csv import needs --mapping MAPPING.yaml")
        mapping = load_mapping(mapping_path)
    elif kind in ("salesforce", "hubspot"):
        mapping = load_mapping(kind)
    else:
        raise MappingError(f"unknown import kind {kind!r}: salesforce, hubspot or csv")
    if date_order:
        if date_order.upper() not in ("MDY", "DMY"):
            raise MappingError("--date-order must be MDY or DMY")
        mapping.date_order = date_order.upper()
    source = ExportSource(Path(path))
    plan = [(step, source.find(step.files)) for step in mapping.steps]
    missing = [step.files[0] for step, name in plan if name is None and not step.optional]
    if missing or all(name is None for _, name in plan):
        expected = sorted({s.files[0] for s in mapping.steps})
        raise ExportError(
            f"{path} is missing {', '.join(sorted(set(missing))) or 'every file'} for a {mapping.name} import "
            f"(expected files: {', '.join(expected)})"
        )
    tracker = _Progress(progress, sum(source.size(name) for _, name in plan if name))
    encodings: dict[str, str] = {}
    rejections: list[Rejection] = []
    rows_per_file: dict[str, int] = {}
    results: list[StepResult] = []
    committed = True
    try:
        with transaction.atomic():
            for step, name in plan:
                if name is None:
                    results.append(StepResult(step.label, step.target, None))
                    continue
                if name not in encodings:
                    encodings[name] = mapping.encoding or source.detect_encoding(name)
                tracker.label = f"{step.label} from {source.display_name(name)}"
                result = _run_step(step, mapping, source, name, encodings[name], tracker, rejections, run_id)
                rows_per_file[name] = max(rows_per_file.get(name, 0), result.read)
                results.append(result)
            if strict and rejections:
                raise StrictModeRejected
    except StrictModeRejected:
        committed = False
    result = ImportResult(mapping.name, results, rejections, sum(rows_per_file.values()), committed)
    if rejections:
        result.error_path = _write_error_file(source, rejections, error_path, kind)
    return result


def _run_step(step: Step, mapping: Mapping, source: ExportSource, name: str, encoding: str,
              tracker: _Progress, rejections: list[Rejection], run_id: int | None = None) -> StepResult:
    display = source.display_name(name)
    result = StepResult(step.label, step.target, display)
    model = step.model
    dialect = _Dialect()
    rules = step.rules
    names = [r.name for r in rules]
    columns = ["row_no", "reject", "row_hash", "baseline", "keep"] + names
    tracked = sync.tracks_fields(step)
    step_rejects: list[Rejection] = []

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        col_defs = ", ".join(
            f"{_quote(r.name)} {dialect.stage_type(r, model._meta.get_field(r.name))}" for r in rules
        )
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} (row_no integer, reject text, row_hash text, baseline text, "
                       f"keep text, {col_defs})")
        hashes = sync.stored_hashes(cursor, step)  # crm id -> the row's hash at the last import

        with source.rows(name, encoding, on_read=tracker.add) as (header, reader):
            try:
                converter = RowConverter(step, mapping, header, display, store=dialect.store)
            except BadValue as exc:
                raise ExportError(str(exc)) from None
            width = len(header)
            convert, skip, explode_at = converter.convert, converter.skip_positions, converter.explode_position
            hasher = sync.RowHasher(step, mapping, header)
            crm_id_of = converter.fields[names.index("crm_id")]
            link_at = next((header.index(c) for c in LINK_COLUMNS if c in header), None) if hasattr(model, "crm_id") else None
            born: list[tuple[str, str]] = []  # (the CRM's new id, the dealpilot id it carries back)
            seen: dict[str, tuple[int, bool]] = {}  # crm id -> (first row, skipped as unchanged)
            with _StageWriter(cursor, columns, dialect) as writer:
                for row_no, cells in _numbered(reader, display):
                    if len(cells) != width:
                        if len(cells) > width and "".join(cells[width:]).strip():
                            result.read += 1
                            step_rejects.append(Rejection(display, row_no, cells[0] if cells else "",
                                                          f"{len(cells)} cells but the header has {width} (a stray delimiter or quote?)"))
                            continue
                        cells = (cells + [""] * width)[:width]  # spreadsheets drop trailing empty cells
                    if not "".join(cells).strip():
                        continue  # a blank line
                    result.read += 1
                    if (skip or converter.skip_all) and converter.skip(cells):
                        result.skipped += 1
                        continue
                    for cells in _exploded(cells, explode_at):
                        row_hash = hasher(cells)
                        try:
                            crm_id = crm_id_of(cells)
                        except BadValue:
                            crm_id = None  # converting the row says what is wrong
                        if link_at is not None and crm_id and cells[link_at].strip().startswith("dealpilot-"):
                            born.append((crm_id, cells[link_at].strip()))
                        if crm_id is not None:
                            first = seen.get(crm_id)
                            if first is None:
                                if hashes.get(crm_id) == row_hash:  # as at the last import: nothing to do
                                    seen[crm_id] = (row_no, True)
                                    result.unchanged_skipped += 1
                                    continue
                                seen[crm_id] = (row_no, False)
                            elif first[1]:  # a later row with the id of a skipped one: a duplicate, as in SQL
                                if step.dedupe:
                                    result.skipped += 1
                                else:
                                    step_rejects.append(Rejection(display, row_no, crm_id,
                                                                  f"duplicate id {crm_id} (first on row {first[0]})"))
                                continue
                        try:
                            values = convert(cells)
                        except BadValue as exc:
                            step_rejects.append(Rejection(display, row_no, converter.crm_id_of(cells), str(exc)))
                            continue
                        baseline = sync.baseline_json(names, values) if tracked else None
                        writer.write((row_no, None, row_hash, baseline, None, *values))
        for note, count in converter.notes.items():
            result.notes[note] = result.notes.get(note, 0) + count
        if born:
            linked = _link_born_records(cursor, model, born)
            if linked:
                result.notes["records born in dealpilot linked to their new CRM id"] = linked

        _check_in_sql(cursor, step, result)
        cursor.execute(f"SELECT row_no, crm_id, reject FROM {STAGE} WHERE reject IS NOT NULL")
        for row_no, crm_id, reason in cursor.fetchall():
            if reason.startswith(SILENT):
                result.skipped += 1
            else:
                step_rejects.append(Rejection(display, row_no, crm_id or "", reason))
        reconciled = sync.reconcile(cursor, step, STAGE, run_id) if tracked else None
        _upsert(cursor, step, dialect, result, keeps=bool(reconciled and reconciled.keep_rows))
        sync.store_baselines(cursor, step, STAGE, run_id, dialect.json_expr)
        result.unchanged += result.unchanged_skipped
        if reconciled:
            result.conflicts, result.kept = reconciled.conflicts, reconciled.kept
        cursor.execute(f"DROP TABLE {STAGE}")
    if step.target == "team":
        forget_team_tree()  # written with SQL: no signal tells the request's copy of the tree
    for hook in step.after:
        AFTER_STEP[hook]()
    result.rejected = len(step_rejects)
    rejections.extend(step_rejects)
    return result


# A CRM export carries back the id dealpilot gave a record it wrote back (docs/crm-sync.md): Salesforce's
# external id field, HubSpot's unique property.
LINK_COLUMNS = ("Dealpilot_Id__c", "Dealpilot ID")


def _link_born_records(cursor, model: type[models.Model], born: list[tuple[str, str]]) -> int:
    """Give records born in dealpilot the id the CRM made for them, so the upsert updates them instead of
    creating a second copy. `dealpilot-<model>-<pk>` names a record of this database that has no CRM id yet
    (or carries that dealpilot id as its CRM id: imported from write-back files). A CRM id some record
    already has is left alone."""
    table, prefix = _quote(model._meta.db_table), f"dealpilot-{model.__name__.lower()}-"
    linked = 0
    for crm_id, dealpilot_id in born:
        if not dealpilot_id.startswith(prefix) or not dealpilot_id[len(prefix):].isdigit() or len(dealpilot_id) - len(prefix) > 18:
            continue
        cursor.execute(f"UPDATE {table} SET crm_id = %s WHERE (crm_id = %s OR (id = %s AND (crm_id IS NULL OR crm_id = ''))) "
                       f"AND NOT EXISTS (SELECT 1 FROM {table} other WHERE other.crm_id = %s)",
                       [crm_id, dealpilot_id, int(dealpilot_id[len(prefix):]), crm_id])
        linked += cursor.rowcount
    return linked


def _numbered(reader, display: str):
    """(row number, cells); the header is row 1, as a spreadsheet shows it. A file the CSV reader
    cannot follow is a fatal error: guessing where its rows begin would import garbage."""
    row_no = 1
    try:
        for row_no, cells in enumerate(reader, start=2):
            yield row_no, cells
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ExportError(f"{display}: unreadable after row {row_no}: {exc}") from None


def _exploded(cells: list[str], position: int | None):
    """The row once, or once per value of a list cell ('1;2;3') when the step explodes a column."""
    if position is None:
        yield cells
        return
    if position < 0:
        return
    for value in re.split(r"[;,]", cells[position]):
        if value.strip():
            yielded = list(cells)
            yielded[position] = value.strip()
            yield yielded


def _reject(cursor, reason_sql: str, condition: str, params: tuple = ()) -> int:
    cursor.execute(f"UPDATE {STAGE} SET reject = {reason_sql} WHERE reject IS NULL AND ({condition})", params)
    return cursor.rowcount


def _check_in_sql(cursor, step: Step, result: StepResult) -> None:
    model = step.model
    table = _quote(model._meta.db_table)
    cursor.execute(f"CREATE INDEX dp_import_stage_crm ON {STAGE} (crm_id)")
    # Duplicate ids are rare: find whether there are any before paying for the row-by-row check.
    cursor.execute(f"SELECT 1 FROM {STAGE} GROUP BY crm_id HAVING COUNT(*) > 1 LIMIT 1")
    if cursor.fetchone():
        first = f"(SELECT MIN(s2.row_no) FROM {STAGE} s2 WHERE s2.crm_id = {STAGE}.crm_id)"
        if step.dedupe:
            _reject(cursor, f"'{SILENT}duplicate'", f"row_no > {first}")
        else:
            _reject(cursor, f"'duplicate id ' || crm_id || ' (first on row ' || CAST({first} AS text) || ')'", f"row_no > {first}")

    for rule in step.links:
        col = _quote(rule.name)
        parent = _quote(rule.link_model._meta.db_table)
        label = rule.name.replace("_", " ")
        in_parent = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.crm_id = {STAGE}.{col})"
        if rule.link_model is model:
            # A parent of the same kind may come later in the same file: look in the valid staged rows too.
            _reject(cursor, f"'is its own {label}'", f"{col} = crm_id")
            while _reject(
                cursor, f"'unknown {label} ' || {col}",
                f"{col} IS NOT NULL AND NOT {in_parent} AND NOT EXISTS "
                f"(SELECT 1 FROM {STAGE} s2 WHERE s2.crm_id = {STAGE}.{col} AND s2.reject IS NULL)",
            ):
                pass
        elif rule.unknown == "null":
            # no hash nor baseline for these rows: the next import links them once the parent is there
            cursor.execute(f"UPDATE {STAGE} SET {col} = NULL, row_hash = NULL, baseline = NULL "
                           f"WHERE {col} IS NOT NULL AND NOT {in_parent}")
            if cursor.rowcount:
                result.notes[f"{label} not found, left empty"] = cursor.rowcount
        else:
            _reject(cursor, f"'unknown {label} ' || {col}", f"{col} IS NOT NULL AND NOT {in_parent}")

    # Other unique fields (a username, a plan unit's name within its account): one row per value,
    # and no clash with a record that has another CRM id.
    mapped = {r.name: r for r in step.rules}
    for fields in _unique_sets(model):
        if not all(f in mapped for f in fields):
            continue
        same_in_stage = " AND ".join(f"s2.{_quote(f)} = {STAGE}.{_quote(f)}" for f in fields)
        names = " and ".join(f.replace("_", " ") for f in fields)
        _reject(cursor, f"'same {names} as row ' || CAST((SELECT MIN(s2.row_no) FROM {STAGE} s2 WHERE {same_in_stage}) AS text)",
                f"EXISTS (SELECT 1 FROM {STAGE} s2 WHERE s2.reject IS NULL AND s2.row_no < {STAGE}.row_no AND {same_in_stage})")
        joins, conds = [], []
        for i, f in enumerate(fields):
            rule = mapped[f]
            model_field = model._meta.get_field(f)
            if rule.kind == "link":
                joins.append(f"JOIN {_quote(rule.link_model._meta.db_table)} p{i} ON p{i}.id = t.{_quote(model_field.column)}")
                conds.append(f"p{i}.crm_id = {STAGE}.{_quote(f)}")
            else:
                conds.append(f"t.{_quote(model_field.column)} = {STAGE}.{_quote(f)}")
        _reject(cursor, f"'another {step.target.replace('_', ' ')} already has this {names}'",
                f"EXISTS (SELECT 1 FROM {table} t {' '.join(joins)} WHERE {' AND '.join(conds)} "
                f"AND (t.crm_id IS NULL OR t.crm_id <> {STAGE}.crm_id))")


def _unique_sets(model: type[models.Model]) -> list[tuple[str, ...]]:
    sets = [(f.name,) for f in model._meta.concrete_fields if f.unique and f.name not in ("id", "crm_id")]
    for constraint in model._meta.constraints:
        if (isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None
                and tuple(constraint.fields) != ("crm_id",)):
            sets.append(tuple(constraint.fields))
    return sets


NEW_IDS = "dp_import_new"  # the CRM ids a step creates, while guarded self-links are set


def _guard(step: Step, table: str) -> str | None:
    """SQL true for an existing row whose guarded fields an import may change (see
    mapping.LOGIN_GUARDED_FIELDS): a person who cannot log in (imported people get the unusable
    password '!'; Django's unusable passwords start with it too), a team this import created."""
    if step.target == "user":
        return f"{table}.{_quote('password')} LIKE '!%%'"
    if step.target == "team":
        return f"{table}.crm_id IN (SELECT crm_id FROM {NEW_IDS})"
    return None


def _count_kept(cursor, step: Step, table: str, joins: list[str], diffs: list[str], result: StepResult) -> None:
    """Count (and name, for people) the existing records whose guarded fields the export would
    change but the import keeps, so the summary tells the admin what to look at."""
    if not diffs:
        return
    guard = _guard(step, "t")
    cursor.execute(
        f"SELECT t.crm_id FROM {STAGE} s JOIN {table} t ON t.crm_id = s.crm_id {' '.join(joins)} "
        f"WHERE s.reject IS NULL AND NOT ({guard}) AND ({' OR '.join(diffs)})"
    )
    kept = [row[0] for row in cursor.fetchall()]
    if kept:
        names = sorted(LOGIN_GUARDED_FIELDS[step.target] & {r.name for r in step.rules})
        who = "people who log in to dealpilot" if step.target == "user" else "teams that already existed"
        result.notes[f"kept the {', '.join(names)} of {who} (an admin changes those in Admin; "
                     f"first: {', '.join(kept[:5])})"] = len(kept)


def _upsert(cursor, step: Step, dialect: _Dialect, result: StepResult, keeps: bool = False) -> None:
    """Insert new records, update changed ones. `keeps`: some staged rows name (in `keep`) fields
    whose value from dealpilot stays (sync.reconcile): those take the record's own value."""
    model = step.model
    table = _quote(model._meta.db_table)
    field_of = {r.name: model._meta.get_field(r.name) for r in step.rules}
    direct = [r for r in step.rules if not (r.kind == "link" and r.link_model is model)]
    self_links = [r for r in step.rules if r.kind == "link" and r.link_model is model]
    mapped = {r.name for r in step.rules}
    guarded = LOGIN_GUARDED_FIELDS.get(step.target, frozenset()) & mapped
    guard = _guard(step, table) if guarded else None
    guarded_cols, kept_diffs, kept_joins = set(), [], []
    if guarded and step.target == "team":
        cursor.execute(f"DROP TABLE IF EXISTS {NEW_IDS}")
        cursor.execute(f"CREATE TEMPORARY TABLE {NEW_IDS} AS SELECT s.crm_id FROM {STAGE} s WHERE s.reject IS NULL "
                       f"AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.crm_id = s.crm_id)")

    insert_cols, select_exprs, params, joins = [], [], [], []
    for i, rule in enumerate(direct):
        model_field = field_of[rule.name]
        insert_cols.append(model_field.column)
        if rule.kind == "link":
            joins.append(f"LEFT JOIN {_quote(rule.link_model._meta.db_table)} j{i} ON j{i}.crm_id = s.{_quote(rule.name)}")
            select_exprs.append(f"j{i}.id")
        elif rule.kind == "json":
            select_exprs.append(dialect.json_expr(f"s.{_quote(rule.name)}"))
        else:
            select_exprs.append(f"s.{_quote(rule.name)}")
        if keeps and rule.name != "crm_id":
            select_exprs[-1] = (f"CASE WHEN s.keep LIKE '%%,{rule.name},%%' THEN k.{_quote(model_field.column)} "
                                f"ELSE {select_exprs[-1]} END")
        if rule.name in guarded:
            guarded_cols.add(model_field.column)
            kept_diffs.append(f"t.{_quote(model_field.column)} IS DISTINCT FROM {select_exprs[-1]}")
            if rule.kind == "link":
                kept_joins.append(joins[-1])
    for rule in self_links:
        if rule.name in guarded:
            kept_joins.append(f"LEFT JOIN {table} p_{rule.name} ON p_{rule.name}.crm_id = s.{_quote(rule.name)}")
            kept_diffs.append(f"t.{_quote(field_of[rule.name].column)} IS DISTINCT FROM p_{rule.name}.id")
    _count_kept(cursor, step, table, kept_joins, kept_diffs, result)
    if keeps:
        joins.append(f"LEFT JOIN {table} k ON k.crm_id = s.crm_id")
    update_cols = list(insert_cols)
    now = dialect.now()
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.name in mapped:
            continue
        if model_field.name == "password":
            value = "!"  # an unusable password: imported people log in once an admin sets one
        elif getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            value = now
        elif model_field.name == VERSION_FIELD:
            value = 1
        elif model_field.name in ENGINE_FIELDS:
            continue
        else:
            value = dialect.default(model_field)
        insert_cols.append(model_field.column)
        select_exprs.append(dialect.json_expr("%s") if isinstance(model_field, models.JSONField) else "%s")
        params.append(value)

    cursor.execute(
        f"SELECT COUNT(*) FROM {STAGE} s WHERE s.reject IS NULL AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.crm_id = s.crm_id)"
    )
    created = cursor.fetchone()[0]
    def differs(c: str) -> str:
        test = f"{table}.{_quote(c)} IS DISTINCT FROM excluded.{_quote(c)}"
        return f"({guard} AND {test})" if c in guarded_cols else test

    def new_value(c: str) -> str:
        if c in guarded_cols:
            return f"CASE WHEN {guard} THEN excluded.{_quote(c)} ELSE {table}.{_quote(c)} END"
        return f"excluded.{_quote(c)}"

    changed = " OR ".join(differs(c) for c in update_cols if c != "crm_id")
    set_list = [f"{_quote(c)} = {new_value(c)}" for c in update_cols if c != "crm_id"]
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        set_list.append(f"{_quote('updated_at')} = excluded.{_quote('updated_at')}")
    if any(f.name == VERSION_FIELD for f in model._meta.concrete_fields):
        # a changed record gets a new version, so a form opened before the import is stale (same statement, no extra query)
        set_list.append(f"{_quote(VERSION_FIELD)} = {table}.{_quote(VERSION_FIELD)} + 1")
    on_conflict = f"DO UPDATE SET {', '.join(set_list)} WHERE {changed}" if changed else "DO NOTHING"
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(_quote(c) for c in insert_cols)}) "
        f"SELECT {', '.join(select_exprs)} FROM {STAGE} s {' '.join(joins)} WHERE s.reject IS NULL "
        f"ON CONFLICT (crm_id) {on_conflict}",
        params,
    )
    written = max(cursor.rowcount, created)
    cursor.execute(f"SELECT COUNT(*) FROM {STAGE} WHERE reject IS NULL")
    valid = cursor.fetchone()[0]
    result.created, result.updated = created, written - created
    result.unchanged = valid - written
    result.in_recycle_bin = _count_in_recycle_bin(cursor, model, table)

    for rule in self_links:
        col = _quote(field_of[rule.name].column)
        only_guarded = f" AND {guard}" if rule.name in guarded else ""
        cursor.execute(
            f"UPDATE {table} SET {col} = x.parent_pk FROM (SELECT s.crm_id AS child, p.id AS parent_pk FROM {STAGE} s "
            f"LEFT JOIN {table} p ON p.crm_id = s.{_quote(rule.name)} WHERE s.reject IS NULL "
            f"AND (s.keep IS NULL OR s.keep NOT LIKE '%,{rule.name},%')) AS x "
            f"WHERE {table}.crm_id = x.child AND {table}.{col} IS DISTINCT FROM x.parent_pk{only_guarded}"
        )
    if guarded and step.target == "team":
        cursor.execute(f"DROP TABLE {NEW_IDS}")


def _count_in_recycle_bin(cursor, model: type[models.Model], table: str) -> int:
    """Imported rows whose record is in dealpilot's recycle bin. The upsert finds them by CRM id like
    any other and updates their fields, but never touches `deleted_at`: a deleted record stays
    deleted (a re-import must not bring back what someone deleted) until it is restored or purged."""
    if not any(f.name == "deleted_at" for f in model._meta.concrete_fields):
        return 0
    cursor.execute(f"SELECT 1 FROM {table} WHERE deleted_at IS NOT NULL LIMIT 1")  # indexed: free while the bin is empty
    if cursor.fetchone() is None:
        return 0
    cursor.execute(f"SELECT COUNT(*) FROM {STAGE} s JOIN {table} t ON t.crm_id = s.crm_id "
                   f"WHERE s.reject IS NULL AND t.deleted_at IS NOT NULL")
    return cursor.fetchone()[0]


def _infer_roles() -> None:
    from dealpilot.crm.services import infer_roles_from_hierarchy

    infer_roles_from_hierarchy()


AFTER_STEP: dict[str, Callable[[], None]] = {"infer_roles": _infer_roles}


def _write_error_file(source: ExportSource, rejections: list[Rejection], error_path: Path | None, kind: str) -> Path:
    """One CSV of every rejected row: file, row, id, reason, and the row as it was in the export."""
    if error_path is None:
        folder = Path(settings.IMPORT_ERRORS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        error_path = folder / f"{kind}-{dj_timezone.now():%Y%m%d-%H%M%S}-errors.csv"
    error_path = Path(error_path)
    error_path.parent.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, set[int]] = {}
    for r in rejections:
        wanted.setdefault(r.file, set()).add(r.row)
    originals: dict[tuple[str, int], str] = {}
    names = {source.display_name(n): n for n in source._files}
    for display, rows in wanted.items():
        name = names.get(display)
        if name is None:
            continue
        with source.rows(name) as (header, reader):
            for row_no, cells in enumerate(reader, start=2):
                if row_no in rows:
                    line = io.StringIO()
                    csv.writer(line).writerow(cells)
                    originals[(display, row_no)] = line.getvalue().rstrip("\r\n")
    with open(error_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "row", "id", "reason", "original_row"])
        for r in sorted(rejections, key=lambda r: (r.file, r.row)):
            writer.writerow([safe_cell(str(v)) for v in (r.file, r.row, r.crm_id, r.reason, originals.get((r.file, r.row), ""))])
    return error_path

