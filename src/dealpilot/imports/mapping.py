"""The mapping language: how the columns of an export's files become dealpilot records.

A mapping is YAML (see docs/imports.md). Salesforce and HubSpot imports are mappings shipped in
`mappings/`; `dealpilot import csv --mapping` takes the user's own. A mapping is a list of
steps, each reading one file into one kind of record:

    steps:
      - target: opportunity          # team user account plan_unit contact product opportunity
        file: Opportunity.csv        #   line_item stage_history contact_role activity target
        fields:
          crm_id: Id                 # a column name ...
          name: {template: "{Name}"} # ... or a rule: column/columns, template, value, map,
          account: AccountId         #   prefix, transform, required; links (foreign keys)
          extra: {columns_matching: "*__c"}   # hold the CRM's id of the parent record

Field types come from the record's model, so a date column is parsed as a date without saying so.
"""

from __future__ import annotations

import fnmatch
import json
import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from decimal import ROUND_HALF_UP, Decimal

import yaml
from django.db import models

from dealpilot.crm import models as crm

from .parsing import BadValue, parse_bool, parse_date, parse_datetime, parse_decimal, parse_int

MAPPINGS_DIR = Path(__file__).parent / "mappings"

TARGETS: dict[str, type[models.Model]] = {
    "team": crm.Team,
    "user": crm.User,
    "account": crm.Account,
    "plan_unit": crm.PlanUnit,
    "contact": crm.Contact,
    "product": crm.Product,
    "opportunity": crm.Opportunity,
    "line_item": crm.LineItem,
    "stage_history": crm.StageHistory,
    "contact_role": crm.OpportunityContactRole,
    "activity": crm.Activity,
    "next_step": crm.NextStep,  # a seller's to-do; dealpilot's own write-back files carry them (CRM tasks)
    "target": crm.SalesTarget,
}

MAX_INT = 2_147_483_647  # the largest value of an integer column on every database

# What a mapping may write, per target: the CRM's own data and nothing else. A field that is not
# listed (privileges, login identity, dealpilot's own bookkeeping such as the recycle bin) is
# refused by name before any file is read. A new model field is refused until it is listed here
# (tests/imports/test_import_privileges.py classifies every field of every target).
IMPORTABLE_FIELDS: dict[str, frozenset[str]] = {
    "team": frozenset({"crm_id", "extra", "name", "parent"}),
    "user": frozenset({"crm_id", "extra", "username", "first_name", "last_name", "full_name", "email",
                       "is_active", "team", "manager"}),
    "account": frozenset({"crm_id", "extra", "name", "industry", "employees", "size", "region", "country",
                          "annual_revenue", "currency", "parent", "owner"}),
    "plan_unit": frozenset({"crm_id", "extra", "account", "name"}),
    "contact": frozenset({"crm_id", "extra", "account", "plan_unit", "first_name", "last_name", "title", "email",
                          "phone", "reports_to", "owner", "has_left"}),
    "product": frozenset({"crm_id", "extra", "name", "code", "family", "list_price", "is_active"}),
    "opportunity": frozenset({"crm_id", "extra", "name", "account", "owner", "stage", "amount", "currency",
                              "created_date", "close_date", "is_closed", "is_won", "source", "source_detail",
                              "probability", "forecast_category", "lost_reason", "competitor", "close_comment",
                              "description"}),
    "line_item": frozenset({"crm_id", "extra", "opportunity", "product", "quantity", "unit_price", "total_price"}),
    "stage_history": frozenset({"crm_id", "extra", "opportunity", "stage", "amount", "close_date", "probability",
                                "changed_at", "changed_by"}),
    "contact_role": frozenset({"crm_id", "extra", "opportunity", "contact", "role", "role_detail", "is_primary"}),
    "activity": frozenset({"crm_id", "extra", "kind", "direction", "activity_date", "subject", "status", "owner",
                           "account", "contact", "opportunity", "outcome", "notes"}),
    "next_step": frozenset({"crm_id", "extra", "subject", "owner", "due_date", "status", "opportunity", "account",
                            "contact", "activity"}),
    "target": frozenset({"crm_id", "extra", "owner", "period_start", "period_end", "amount", "currency"}),
}

AFTER_HOOKS = frozenset({"infer_roles"})  # what a step may run when it is done (engine.AFTER_STEP)

# A person's fields that grant rights or identify a login: never from an import, whatever the mapping says.
# Roles and rights are an admin's (Admin > Users, recorded in the user's field history); an import
# infers roles only for people who do not log in (`after: infer_roles`).
PRIVILEGE_FIELDS = frozenset({"is_staff", "is_superuser", "password", "groups", "user_permissions", "last_login",
                              "date_joined", "role"})

# Fields an import sets only on records that grant nobody anything yet: a person's login name,
# e-mail (password resets), active flag, team and manager (who sees whose deals) change by import
# only for people who cannot log in to dealpilot; a team's place in the hierarchy only when the
# import creates the team. Otherwise the record keeps its value and the import says so.
LOGIN_GUARDED_FIELDS: dict[str, frozenset[str]] = {
    "user": frozenset({"username", "email", "is_active", "team", "manager"}),
    "team": frozenset({"parent"}),
}

# Columns the engine fills itself: never mapped, never updated from an export. `version`
# (optimistic concurrency) starts at 1 and is bumped by every import that changes the record.
ENGINE_FIELDS = {"id", "created_at", "updated_at", "version"}
VERSION_FIELD = "version"


class MappingError(Exception):
    """The mapping file is wrong (fatal, before anything is read)."""


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", text.lower()).strip(".")


def _size_band(text: str) -> str:
    employees = parse_int(text)
    for limit, band in ((50, "small"), (250, "medium"), (1000, "large")):
        if employees < limit:
            return band
    return "enterprise"


# Country -> sales region, for the regions reports group by; anything else keeps its own name.
_REGIONS = {
    "Americas": ["united states", "usa", "us", "canada", "mexico", "brazil", "argentina", "chile", "colombia", "peru"],
    "EMEA": ["united kingdom", "uk", "germany", "france", "spain", "italy", "netherlands", "belgium", "switzerland",
             "austria", "sweden", "norway", "denmark", "finland", "ireland", "poland", "portugal", "czech republic",
             "israel", "south africa", "kenya", "nigeria", "egypt", "united arab emirates", "uae", "saudi arabia",
             "turkey", "greece", "jordan"],
    "APAC": ["australia", "new zealand", "japan", "china", "india", "singapore", "korea", "south korea",
             "hong kong", "taiwan", "indonesia", "philippines", "philipines", "malaysia", "thailand", "vietnam"],
}
_COUNTRY_REGION = {country: region for region, countries in _REGIONS.items() for country in countries}


def _region(text: str) -> str:
    return _COUNTRY_REGION.get(text.strip().lower(), text.strip())


def _millions(text: str) -> str:
    return str(parse_decimal(text) * 1_000_000)


def _first_of_list(text: str) -> str:
    """HubSpot writes several associated ids in one cell: '123;456' -> '123'."""
    return re.split(r"[;,]", text, maxsplit=1)[0].strip()


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "first_of_list": _first_of_list,
    "millions": _millions,
    "slug": _slug,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "size_band": _size_band,
    "region": _region,
}


@dataclass
class FieldRule:
    name: str
    kind: str  # text date datetime decimal int bool json link
    columns: list[str] = field(default_factory=list)
    template: str | None = None
    template_columns: list[str] = field(default_factory=list)
    value: Any = None
    mapping: dict[str, Any] | None = None
    fallback: Any = None  # the map's "*" entry; None keeps unmapped values
    prefix: str | None = None
    transform: str | None = None
    required: bool = False
    max_length: int | None = None
    choices: set[str] | None = None
    columns_matching: str | None = None
    unknown: str = "reject"  # for links: reject the row, or leave the link empty ("null")
    link_model: type[models.Model] | None = None
    partial: bool = False  # a template with some columns empty still yields text
    max_digits: int | None = None
    decimal_places: int | None = None
    default: Any = None  # the model's default, used when the cell is empty

    def raw(self, row: dict[str, str]) -> str:
        if self.template is not None:
            filled = [bool(row.get(c, "").strip()) for c in self.template_columns]
            if not any(filled) or (not self.partial and not all(filled)):
                return ""
            values = {c: row.get(c, "").replace("\x00", "").strip() for c in self.template_columns}
            return " ".join(self.template.format_map(values).split())
        for column in self.columns:
            value = row.get(column, "").replace("\x00", "").strip()  # NUL: junk PostgreSQL cannot store
            if value:
                return value
        return ""


@dataclass
class Step:
    target: str
    model: type[models.Model]
    files: list[str]
    rules: list[FieldRule]
    optional: bool = False
    dedupe: bool = False
    skip_if_empty: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    explode: str | None = None  # a column holding several values ("1;2;3"): one record per value
    label: str = ""

    @property
    def links(self) -> list[FieldRule]:
        return [r for r in self.rules if r.kind == "link"]

    @property
    def columns_used(self) -> set[str]:
        used = set(self.skip_if_empty) | ({self.explode} if self.explode else set())
        for rule in self.rules:
            used.update(rule.columns)
            used.update(rule.template_columns)
        return used


@dataclass
class Mapping:
    name: str
    steps: list[Step]
    date_order: str = "MDY"
    decimal_comma: bool = False
    encoding: str | None = None


def _kind_of(model_field: models.Field) -> str:
    if isinstance(model_field, models.ForeignKey):
        return "link"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.DateField):
        return "date"
    if isinstance(model_field, models.DecimalField):
        return "decimal"
    if isinstance(model_field, (models.IntegerField, models.BigIntegerField)):
        return "int"
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.JSONField):
        return "json"
    return "text"


def is_required(model_field: models.Field) -> bool:
    return not model_field.null and not model_field.blank and not model_field.has_default()


def check_importable(target: str, name: str, where: str) -> None:
    """Refuse a field an import must not write, naming it and saying why."""
    if target == "user" and name in PRIVILEGE_FIELDS:
        raise MappingError(
            f"{where}: {target} field {name!r} cannot be set by an import: it grants rights or identifies a login. "
            f"An admin changes it (Admin > Users), and the change is recorded in the person's history"
        )
    if name not in IMPORTABLE_FIELDS[target]:
        model = TARGETS[target]
        if not any(f.name == name for f in model._meta.get_fields()):
            raise MappingError(f"{where}: {model.__name__} has no field {name!r}")
        raise MappingError(
            f"{where}: {target} field {name!r} cannot be set by an import; "
            f"importable fields of {target}: {', '.join(sorted(IMPORTABLE_FIELDS[target]))}"
        )


def _compile_rule(target: str, model: type[models.Model], name: str, spec: Any, where: str) -> FieldRule:
    check_importable(target, name, where)
    model_field = model._meta.get_field(name)
    if name in ENGINE_FIELDS or not model_field.concrete or model_field.many_to_many:
        raise MappingError(f"{where}: {name!r} cannot be set by an import")
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: field {name!r} must be a column name or a rule (a mapping of options)")
    known = {"column", "columns", "template", "partial", "value", "map", "prefix", "transform", "required",
             "columns_matching", "unknown"}
    if unknown := set(spec) - known:
        raise MappingError(f"{where}: field {name!r} has unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
    rule = FieldRule(name=name, kind=_kind_of(model_field))
    if "column" in spec:
        rule.columns = [str(spec["column"])]
    if "columns" in spec:
        rule.columns = [str(c) for c in spec["columns"]]
    if "template" in spec:
        rule.template = str(spec["template"])
        rule.template_columns = [f for _, f, _, _ in string.Formatter().parse(rule.template) if f]
    if "value" in spec:
        rule.value = spec["value"]
    if "map" in spec:
        mapping = {str(k).strip().lower(): v for k, v in (spec["map"] or {}).items()}
        rule.fallback = mapping.pop("*", None)
        rule.mapping = mapping
    rule.partial = bool(spec.get("partial", False))
    if model_field.has_default() and not callable(model_field.default):
        rule.default = model_field.default
    rule.prefix = spec.get("prefix")
    rule.transform = spec.get("transform")
    if rule.transform and rule.transform not in TRANSFORMS:
        raise MappingError(f"{where}: unknown transform {rule.transform!r}; known: {sorted(TRANSFORMS)}")
    rule.columns_matching = spec.get("columns_matching")
    if rule.columns_matching and rule.kind != "json":
        raise MappingError(f"{where}: columns_matching is for JSON fields such as extra")
    sources = [bool(rule.columns), rule.template is not None, "value" in spec, bool(rule.columns_matching)]
    if sum(sources) != 1:
        raise MappingError(f"{where}: field {name!r} needs exactly one of column(s), template, value, columns_matching")
    rule.required = bool(spec.get("required", is_required(model_field) or name == "crm_id"))
    rule.unknown = spec.get("unknown", "reject")
    if rule.unknown not in ("reject", "null"):
        raise MappingError(f"{where}: unknown: must be reject or null")
    if rule.unknown == "null" and rule.required:
        raise MappingError(f"{where}: {name!r} is required, so an unknown one cannot be left empty (unknown: null)")
    rule.max_length = getattr(model_field, "max_length", None) if rule.kind in ("text", "link") else None
    if rule.kind == "decimal":
        rule.max_digits, rule.decimal_places = model_field.max_digits, model_field.decimal_places
    if model_field.choices:
        rule.choices = {str(value) for value, _ in model_field.flatchoices}
    if rule.kind == "link":
        rule.link_model = model_field.related_model
        if not any(f.name == "crm_id" for f in rule.link_model._meta.fields):
            raise MappingError(f"{where}: {name!r} links to {rule.link_model.__name__}, which has no CRM id")
    return rule


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def parse_mapping_text(text: str, origin: str = "mapping") -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{origin} is not valid YAML: {exc}") from None


def load_mapping(source: Path | str | dict) -> Mapping:
    """Read and check a mapping; every mistake is reported before any data is read."""
    if isinstance(source, dict):
        doc, origin = source, "mapping"
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            path = MAPPINGS_DIR / f"{source}.yaml"
        origin = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MappingError(f"mapping file {path} not found") from None
        except UnicodeDecodeError:
            raise MappingError(f"{origin} is not UTF-8 text") from None
        doc = parse_mapping_text(text, origin)
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise MappingError(f"{origin}: a mapping needs a non-empty list of steps")
    date_order = str(doc.get("date_order", "MDY")).upper()
    if date_order not in ("MDY", "DMY"):
        raise MappingError(f"{origin}: date_order must be MDY or DMY")
    steps = []
    for i, raw in enumerate(doc["steps"], start=1):
        where = f"{origin} step {i}"
        if not isinstance(raw, dict):
            raise MappingError(f"{where}: a step must be a mapping with target, file and fields")
        target = raw.get("target")
        if target not in TARGETS:
            raise MappingError(f"{where}: target must be one of {sorted(TARGETS)}, not {target!r}")
        model = TARGETS[target]
        fields_spec = raw.get("fields")
        if not isinstance(fields_spec, dict) or "crm_id" not in fields_spec:
            raise MappingError(f"{where}: fields must include crm_id (the CRM's own id, which imports upsert by)")
        rules = [_compile_rule(target, model, str(name), spec, where) for name, spec in fields_spec.items()]
        mapped = {r.name for r in rules}
        missing = [f.name for f in model._meta.concrete_fields
                   if f.name not in mapped and f.name in IMPORTABLE_FIELDS[target] and is_required(f)]
        if missing:
            raise MappingError(f"{where}: {target} needs field(s) {missing}")
        steps.append(Step(
            target=target, model=model, files=_as_list(raw.get("file")), rules=rules,
            optional=bool(raw.get("optional", False)), dedupe=bool(raw.get("dedupe", False)),
            skip_if_empty=_as_list(raw.get("skip_if_empty")), after=_as_list(raw.get("after")),
            label=str(raw.get("label") or f"{target.replace('_', ' ')}s"),
            explode=raw.get("explode"),
        ))
        if unknown_hooks := [h for h in steps[-1].after if h not in AFTER_HOOKS]:
            raise MappingError(f"{where}: unknown after: {unknown_hooks}; known: {sorted(AFTER_HOOKS)}")
        if not steps[-1].files:
            raise MappingError(f"{where}: file is missing")
    return Mapping(name=str(doc.get("name", origin)), steps=steps, date_order=date_order,
                   decimal_comma=bool(doc.get("decimal_comma", False)), encoding=doc.get("encoding"))


class RowConverter:
    """Turns one row (the list of a CSV line's cells) into the values of a step's record.

    Each field rule is compiled once into a small function over column positions, so the
    per-row work is only what that field needs: imports run to millions of rows.
    `store` optionally turns a typed value into what the database driver takes (per kind).
    """

    def __init__(self, step: Step, mapping: Mapping, header: list[str], file_name: str,
                 store: Callable[[str], Callable[[Any], Any] | None] = lambda kind: None):
        self.step, self.date_order, self.decimal_comma = step, mapping.date_order, mapping.decimal_comma
        present = set(header)
        for rule in step.rules:
            if rule.template is not None:
                absent = [c for c in rule.template_columns if c not in present]
                if absent and rule.required:
                    raise BadValue(f"{file_name} has no column {absent[0]!r} (needed for {rule.name})")
            elif rule.columns and rule.required and not present.intersection(rule.columns):
                raise BadValue(f"{file_name} has no column {' or '.join(map(repr, rule.columns))} (needed for {rule.name})")
        self.header = header
        self.position = {}
        for i, column in enumerate(header):
            self.position.setdefault(column, i)
        self.notes: dict[str, int] = {}
        self.fields = [self._compile(rule, store(rule.kind)) for rule in step.rules]
        self.crm_id_of = self._source(next(r for r in step.rules if r.name == "crm_id"))
        # A skip_if_empty column the file lacks is empty on every row: every row is skipped.
        self.skip_all = any(c not in self.position for c in step.skip_if_empty)
        self.skip_positions = [self.position[c] for c in step.skip_if_empty if c in self.position]
        # An exploded column the file lacks holds no values: the step writes nothing.
        self.explode_position = self.position.get(step.explode, -1) if step.explode else None

    def _note(self, text: str) -> None:
        self.notes[text] = self.notes.get(text, 0) + 1

    def convert(self, cells: list[str]) -> list[Any]:
        """The field values in the order of the step's rules; raises BadValue with a reason."""
        return [get(cells) for get in self.fields]

    def skip(self, cells: list[str]) -> bool:
        return self.skip_all or any(not cells[i].strip() for i in self.skip_positions)

    def _source(self, rule: FieldRule) -> Callable[[list[str]], str]:
        """The rule's text from a row: first non-empty column, or the filled template."""
        if rule.template is not None:
            places = [(c, self.position.get(c)) for c in rule.template_columns]

            def template(cells):
                values = {c: (cells[i].replace("\x00", "").strip() if i is not None else "") for c, i in places}
                return rule.raw(values)
            return template
        positions = [self.position[c] for c in rule.columns if c in self.position]
        if not positions:
            return lambda cells: ""
        if len(positions) == 1:
            i = positions[0]

            def column(cells):
                text = cells[i]
                return (text.replace("\x00", "") if "\x00" in text else text).strip()  # NUL: junk PostgreSQL cannot store
            return column

        def first_filled(cells):
            for i in positions:
                text = cells[i].replace("\x00", "").strip()
                if text:
                    return text
            return ""
        return first_filled

    def _compile(self, rule: FieldRule, store: Callable[[Any], Any] | None) -> Callable[[list[str]], Any]:
        if rule.columns_matching:
            columns = [(h, i) for i, h in enumerate(self.header) if fnmatch.fnmatchcase(h, rule.columns_matching)]

            def extra(cells):
                found = {h: cells[i] for h, i in columns if cells[i].strip()}
                return json.dumps(found, ensure_ascii=False, sort_keys=True) if found else "{}"
            return extra
        if rule.value is not None:
            constant = rule.value
            if rule.kind == "bool" and isinstance(constant, str):
                constant = parse_bool(constant)
            constant = store(constant) if store and constant is not None else constant
            return lambda cells: constant

        raw, typed, name = self._source(rule), self._typer(rule), rule.name
        if store is not None:
            typed = (lambda plain: lambda text: store(plain(text)))(typed)
        empty_value = rule.default if rule.default is not None else ("" if rule.kind == "text" else None)
        if store is not None and empty_value is not None:
            empty_value = store(empty_value)
        required, note = rule.required, self._note
        plain = (rule.prefix is None and rule.mapping is None and rule.transform is None
                 and not (rule.kind == "link" and rule.link_model is not self.step.model))

        if plain:  # most fields: one column, typed as the model says
            def get(cells):
                text = raw(cells)
                if not text:
                    if required:
                        raise BadValue(f"missing {name}")
                    return empty_value
                try:
                    return typed(text)
                except BadValue as exc:
                    raise BadValue(f"{name}: {exc}") from None
            return get

        prefix, mapping, fallback = rule.prefix, rule.mapping, rule.fallback
        transform = TRANSFORMS[rule.transform] if rule.transform else None
        note_corrections = rule.kind in ("text", "link") and rule.choices is None
        note_empty = rule.kind == "link" and rule.link_model is not self.step.model

        def get(cells):
            text = raw(cells)
            if prefix is not None and text and not text.startswith(prefix):
                text = ""
            if mapping is not None and text:
                mapped = mapping.get(text.lower(), fallback)
                if mapped is not None:
                    if isinstance(mapped, bool):
                        mapped = "true" if mapped else "false"
                    elif note_corrections and str(mapped) != text:
                        note(f"{name}: {text!r} read as {mapped!r}")  # a corrected typo or renamed product: say so
                    text = str(mapped)
            if not text:
                if required:
                    raise BadValue(f"missing {name}")
                if note_empty:
                    note(f"no {name}")
                return empty_value
            try:
                return typed(transform(text) if transform else text)
            except BadValue as exc:
                raise BadValue(f"{name}: {exc}") from None
        return get

    def _typer(self, rule: FieldRule) -> Callable[[str], Any]:
        kind, order, comma = rule.kind, self.date_order, self.decimal_comma
        if kind in ("text", "link"):
            max_length, choices = rule.max_length, rule.choices

            def text(value: str) -> str:
                if max_length and len(value) > max_length:
                    raise BadValue(f"longer than {max_length} characters ({len(value)})")
                if choices is not None and value not in choices:
                    raise BadValue(f"{value!r} is not one of {sorted(c for c in choices if c)}")
                return value
            return text
        if kind == "date":
            return lambda value: parse_date(value, order)
        if kind == "datetime":
            return lambda value: parse_datetime(value, order)
        if kind == "decimal":
            # what the column holds, and never more digits than SQLite gives back exactly
            limit = Decimal(10) ** (min(rule.max_digits, crm.SAFE_DECIMAL_DIGITS) - rule.decimal_places)
            step = Decimal(1).scaleb(-rule.decimal_places)

            def decimal(value: str) -> Decimal:
                number = parse_decimal(value, comma)
                if abs(number) >= limit:
                    raise BadValue(f"too large: {value!r}")
                return number.quantize(step, ROUND_HALF_UP)
            return decimal
        if kind == "int":
            def integer(value: str) -> int:
                number = parse_int(value, comma)
                if not 0 <= number <= MAX_INT:
                    raise BadValue(f"out of range: {value!r}")
                return number
            return integer
        if kind == "bool":
            return parse_bool
        if kind == "json":
            return json.dumps
        raise AssertionError(kind)
