"""Re-imports that respect the work done in dealpilot, and skip what has not changed.

For every record an import writes it keeps an `ImportedRecord`: the hash of the export's row and,
for the records people edit in dealpilot (those with a `version`: accounts, contacts, opportunities,
activities), the values of the CRM fields as imported. A re-import then:

1. skips a row whose hash equals the stored one *before* converting it (the expensive part): the
   hash covers the row's cells that the step reads and a fingerprint of the mapping and engine, so a
   changed mapping or transform imports every row again;
2. compares, for each field of each remaining row that has a baseline, three values: as imported
   last time (`before`), in the export now (`crm`), in dealpilot now (`dealpilot`):
   - only dealpilot changed it: dealpilot's value stays;
   - only the CRM changed it: the CRM's value is written;
   - both changed it, to different values: a `SyncConflict` is recorded and the field's owner
     (`FieldOwner`, default: the CRM) decides which value the import leaves; the other one waits in
     the conflict for an admin (imports/conflicts/).
   A record without a baseline (imported before this existed) is the CRM's, as before; the
   baseline is stored then.

Data only dealpilot holds (next steps, qualification answers, plans, exit-criteria checks) lives in
models no mapping can target: an import never touches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from django.db import connection, models

from .mapping import TRANSFORMS, VERSION_FIELD, Mapping, Step
from .models import FieldOwner, ImportedRecord, Owner, SyncConflict

# Bump when the engine writes a row differently from the same cells: every stored hash goes stale.
ENGINE_REVISION = "1"
RECORD_TABLE = ImportedRecord._meta.db_table
MISSING = object()


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def tracks_fields(step: Step) -> bool:
    """Whether the step's records are edited in dealpilot (they carry a version): then field owners apply."""
    return any(f.name == VERSION_FIELD for f in step.model._meta.concrete_fields)


def tracked_rules(step: Step):
    return [r for r in step.rules if r.name != "crm_id"]


def _code_of(function) -> str:
    """A transform's code (a built-in such as str.lower: its name), so that changing it invalidates the hashes."""
    code = getattr(function, "__code__", None)
    if code is None:
        return getattr(function, "__qualname__", repr(function))
    return hashlib.sha1(code.co_code + repr(code.co_consts).encode()).hexdigest()


def fingerprint(step: Step, mapping: Mapping, columns: list[str]) -> str:
    """What makes the same cells give the same record: the step's rules, the mapping's formats, the
    transforms' code, the engine's revision and the columns the hash covers."""
    rules = []
    for r in step.rules:
        rules.append((
            r.name, r.kind, r.columns, r.template, repr(r.value), sorted((str(k), repr(v)) for k, v in (r.mapping or {}).items()),
            repr(r.fallback), r.prefix, r.transform, r.required, r.max_length, sorted(r.choices or ()), r.columns_matching,
            r.unknown, r.link_model._meta.label if r.link_model else None, r.partial, r.max_digits, r.decimal_places,
            repr(r.default),
            _code_of(TRANSFORMS[r.transform]) if r.transform else None,
        ))
    text = repr((ENGINE_REVISION, step.target, rules, step.skip_if_empty, step.explode, step.dedupe,
                 mapping.date_order, mapping.decimal_comma, columns))
    return hashlib.sha1(text.encode()).hexdigest()


class RowHasher:
    """The hash of the cells a step reads (in a fixed order, whatever the column order of the file)."""

    def __init__(self, step: Step, mapping: Mapping, header: list[str]):
        import fnmatch

        position: dict[str, int] = {}
        for i, column in enumerate(header):
            position.setdefault(column, i)
        used = set(step.columns_used)
        for rule in step.rules:
            if rule.columns_matching:
                used.update(h for h in header if fnmatch.fnmatchcase(h, rule.columns_matching))
        columns = sorted(c for c in used if c in position)
        self.positions = [position[c] for c in columns]
        self.prefix = fingerprint(step, mapping, columns).encode()

    def __call__(self, cells: list[str]) -> str:
        key = "\x1f".join([cells[i] for i in self.positions])
        return hashlib.blake2b(self.prefix + key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def stored_hashes(cursor, step: Step) -> dict[str, str]:
    """crm id -> row hash of the last import, for the step's records that still exist (one query)."""
    table = _quote(step.model._meta.db_table)
    cursor.execute(
        f"SELECT ir.crm_id, ir.row_hash FROM {RECORD_TABLE} ir JOIN {table} t ON t.crm_id = ir.crm_id "
        f"WHERE ir.target = %s AND ir.row_hash IS NOT NULL", [step.target])
    return dict(cursor.fetchall())


def owners(target: str) -> dict[str, str]:
    return dict(FieldOwner.objects.filter(target=target).values_list("field", "owner"))


# ---- comparing values ------------------------------------------------------------------------------


def canon(kind: str, value: Any) -> str | None:
    """One text per value, whichever way it was read (the export's converted value, a database
    column on SQLite or PostgreSQL, the JSON of a baseline), so that equal values compare equal."""
    if value is None:
        return None
    if kind in ("text", "link"):
        return str(value)
    if kind in ("decimal", "int"):
        if value == "":
            return None
        number = Decimal(str(value)).normalize()
        return format(number, "f")
    if kind == "bool":
        if isinstance(value, str):
            return "1" if value.strip().lower() in ("1", "true", "t", "yes") else "0"
        return "1" if value else "0"
    if kind == "date":
        return str(value)[:10]
    if kind == "datetime":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "json":
        data = json.loads(value) if isinstance(value, str) else value
        return json.dumps(data, sort_keys=True, ensure_ascii=False)
    raise AssertionError(kind)


def baseline_json(names: list[str], values: list[Any]) -> str:
    """The baseline of one converted row (values in the driver's form), stored as JSON."""
    return json.dumps(dict(zip(names, values)), default=str, ensure_ascii=False)


@dataclass
class Reconciled:
    conflicts: int = 0
    kept: int = 0  # fields whose dealpilot value the import left as it was
    keep_rows: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def reconcile(cursor, step: Step, stage: str, run_id: int | None) -> Reconciled:
    """Compare the staged rows that have a baseline with the record in dealpilot; mark in the stage's
    `keep` column the fields the upsert must leave as they are, and record the conflicts."""
    out = Reconciled()
    model = step.model
    table = _quote(model._meta.db_table)
    rules = tracked_rules(step)
    selects, joins = [], []
    for i, rule in enumerate(rules):
        column = _quote(model._meta.get_field(rule.name).column)
        if rule.kind == "link":
            parent = _quote(rule.link_model._meta.db_table)
            joins.append(f"LEFT JOIN {parent} cur{i} ON cur{i}.id = t.{column}")
            joins.append(f"LEFT JOIN {parent} inc{i} ON inc{i}.crm_id = s.{_quote(rule.name)}")
            selects += [f"s.{_quote(rule.name)}", f"cur{i}.crm_id", f"t.{column}", f"inc{i}.id"]
        else:
            selects += [f"s.{_quote(rule.name)}", f"t.{column}", "NULL", "NULL"]
    label = "t.name" if any(f.name == "name" for f in model._meta.concrete_fields) else "t.crm_id"
    cursor.execute(
        f"SELECT s.crm_id, t.id, {label}, ir.{_quote('values')}, {', '.join(selects)} FROM {stage} s "
        f"JOIN {table} t ON t.crm_id = s.crm_id "
        f"JOIN {RECORD_TABLE} ir ON ir.target = %s AND ir.crm_id = s.crm_id {' '.join(joins)} "
        f"WHERE s.reject IS NULL AND ir.{_quote('values')} IS NOT NULL",
        [step.target],
    )
    owner_of = owners(step.target)
    keeps: list[tuple[str, str]] = []
    conflicts: list[SyncConflict] = []
    for row in cursor.fetchall():
        crm_id, pk, record_label, stored = row[0], row[1], row[2], row[3]
        before_values = json.loads(stored) if isinstance(stored, str) else (stored or {})
        kept_fields = []
        for i, rule in enumerate(rules):
            incoming_raw, current_raw, current_pk, incoming_pk = row[4 + 4 * i: 8 + 4 * i]
            if rule.name not in before_values:
                continue  # a field this baseline does not hold (a mapping that grew): the CRM's
            kind = rule.kind
            if kind == "link":
                current = canon(kind, current_raw) if current_raw is not None else (f"#{current_pk}" if current_pk is not None else None)
            else:
                current = canon(kind, current_raw)
            before = canon(kind, before_values[rule.name])
            incoming = canon(kind, incoming_raw)
            if current == before or incoming == current:
                continue  # dealpilot did not change it (the CRM's value goes in), or both agree
            if incoming == before:
                kept_fields.append(rule.name)  # only dealpilot changed it: keep the edit
                continue
            owner = owner_of.get(rule.name, Owner.CRM)
            if owner == Owner.DEALPILOT:
                kept_fields.append(rule.name)
            if kind == "link":
                raw = {"crm": incoming_pk, "dealpilot": current_pk}
            else:
                raw = {"crm": incoming, "dealpilot": current}
            conflicts.append(SyncConflict(
                target=step.target, record_id=pk, crm_id=crm_id, record_label=str(record_label or crm_id)[:300],
                field=rule.name, imported_before=before, crm_value=incoming, dealpilot_value=current, raw=raw,
                kept=owner, import_run_id=run_id,
            ))
        if kept_fields:
            out.kept += len(kept_fields)
            keeps.append(("," + ",".join(kept_fields) + ",", crm_id))
    if keeps:
        cursor.executemany(f"UPDATE {stage} SET keep = %s WHERE crm_id = %s AND reject IS NULL", keeps)
        out.keep_rows = len(keeps)
    if conflicts:
        SyncConflict.objects.bulk_create(conflicts, batch_size=500)
    out.conflicts = len(conflicts)
    return out


def store_baselines(cursor, step: Step, stage: str, run_id: int | None, json_expr) -> None:
    """Remember what this import wrote for every valid staged row (its hash and baseline)."""
    values = _quote("values")
    cursor.execute(
        f"INSERT INTO {RECORD_TABLE} (target, crm_id, row_hash, {values}, import_run_id) "
        f"SELECT %s, s.crm_id, s.row_hash, {json_expr('s.baseline')}, %s FROM {stage} s WHERE s.reject IS NULL "
        f"ON CONFLICT (target, crm_id) DO UPDATE SET row_hash = excluded.row_hash, {values} = excluded.{values}, "
        f"import_run_id = excluded.import_run_id",
        [step.target, run_id],
    )


def field_kind(model: type[models.Model], name: str) -> str:
    from .mapping import _kind_of

    return _kind_of(model._meta.get_field(name))
