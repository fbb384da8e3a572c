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
    "target": crm.SalesTarget,
}

MAX_INT = 2_147_483_647  # the largest value of an integer column on every database

# Columns the engine fills itself: never mapped, never updated from an export.
ENGINE_FIELDS = {"id", "created_at", "updated_at"}


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


def _compile_rule(model: type[models.Model], name: str, spec: Any, where: str) -> FieldRule:
    try:
        model_field = model._meta.get_field(name)
    except Exception:
        raise MappingError(f"{where}: {model.__name__} has no field {name!r}") from None
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
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping file {path} not found") from None
        except yaml.YAMLError as exc:
            raise MappingError(f"{origin} is not valid YAML: {exc}") from None
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
        rules = [_compile_rule(model, name, spec, where) for name, spec in fields_spec.items()]
        mapped = {r.name for r in rules}
        missing = [f.name for f in model._meta.concrete_fields
                   if f.name not in mapped and f.name not in ENGINE_FIELDS and is_required(f) and f.name != "password"]
        if missing:
            raise MappingError(f"{where}: {target} needs field(s) {missing}")
        steps.append(Step(
            target=target, model=model, files=_as_list(raw.get("file")), rules=rules,
            optional=bool(raw.get("optional", False)), dedupe=bool(raw.get("dedupe", False)),
            skip_if_empty=_as_list(raw.get("skip_if_empty")), after=_as_list(raw.get("after")),
            label=str(raw.get("label") or f"{target.replace('_', ' ')}s"),
            explode=raw.get("explode"),
        ))
        if not steps[-1].files:
            raise MappingError(f"{where}: file is missing")
    return Mapping(name=str(doc.get("name", origin)), steps=steps, date_order=date_order,
                   decimal_comma=bool(doc.get("decimal_comma", False)), encoding=doc.get("encoding"))


class RowConverter:
    """Turns one row (a dict of column -> text) into field values for a step's record."""

    def __init__(self, step: Step, mapping: Mapping, header: list[str], file_name: str):
        self.step, self.date_order, self.decimal_comma = step, mapping.date_order, mapping.decimal_comma
        present = set(header)
        for rule in step.rules:
            if rule.template is not None:
                absent = [c for c in rule.template_columns if c not in present]
                if absent and rule.required:
                    raise BadValue(f"{file_name} has no column {absent[0]!r} (needed for {rule.name})")
            elif rule.columns and rule.required and not present.intersection(rule.columns):
                raise BadValue(f"{file_name} has no column {' or '.join(map(repr, rule.columns))} (needed for {rule.name})")
        self.matching_columns = {
            rule.name: [h for h in header if fnmatch.fnmatchcase(h, rule.columns_matching)]
            for rule in step.rules if rule.columns_matching
        }
        self.notes: dict[str, int] = {}

    def _note(self, text: str) -> None:
        self.notes[text] = self.notes.get(text, 0) + 1

    def convert(self, row: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for rule in self.step.rules:
            values[rule.name] = self._value(rule, row)
        return values

    def _value(self, rule: FieldRule, row: dict[str, str]) -> Any:
        if rule.columns_matching:
            extra = {c: row[c] for c in self.matching_columns[rule.name] if row.get(c, "").strip()}
            return json.dumps(extra, ensure_ascii=False, sort_keys=True)
        if rule.value is not None:
            return rule.value
        text = rule.raw(row)
        if rule.prefix is not None and text and not text.startswith(rule.prefix):
            text = ""
        if rule.mapping is not None and text:
            mapped = rule.mapping.get(text.lower(), rule.fallback)
            if mapped is not None:
                if str(mapped) != text and rule.kind in ("text", "link") and rule.choices is None:
                    # a correction of free text (a typo, a renamed product): say so
                    self._note(f"{rule.name}: {text!r} read as {mapped!r}")
                text = str(mapped) if not isinstance(mapped, bool) else ("true" if mapped else "false")
        if not text:
            if rule.required:
                raise BadValue(f"missing {rule.name}")
            if rule.kind == "link" and rule.link_model is not self.step.model:
                self._note(f"no {rule.name}")
            if rule.default is not None:
                return rule.default
            return "" if rule.kind == "text" else None
        if rule.transform:
            try:
                text = TRANSFORMS[rule.transform](text)
            except BadValue as exc:
                raise BadValue(f"{rule.name}: {exc}") from None
        try:
            return self._typed(rule, text)
        except BadValue as exc:
            raise BadValue(f"{rule.name}: {exc}") from None

    def _typed(self, rule: FieldRule, text: str) -> Any:
        kind = rule.kind
        if kind in ("text", "link"):
            if rule.max_length and len(text) > rule.max_length:
                raise BadValue(f"longer than {rule.max_length} characters ({len(text)})")
            if rule.choices is not None and text not in rule.choices:
                raise BadValue(f"{text!r} is not one of {sorted(c for c in rule.choices if c)}")
            return text
        if kind == "date":
            return parse_date(text, self.date_order)
        if kind == "datetime":
            return parse_datetime(text, self.date_order)
        if kind == "decimal":
            value = parse_decimal(text, self.decimal_comma)
            if abs(value) >= Decimal(10) ** (rule.max_digits - rule.decimal_places):
                raise BadValue(f"too large: {text!r}")
            return value.quantize(Decimal(1).scaleb(-rule.decimal_places), ROUND_HALF_UP)
        if kind == "int":
            value = parse_int(text, self.decimal_comma)
            if not 0 <= value <= MAX_INT:
                raise BadValue(f"out of range: {text!r}")
            return value
        if kind == "bool":
            return parse_bool(text)
        if kind == "json":
            return json.dumps(text)
        raise AssertionError(kind)
