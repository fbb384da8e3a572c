"""The bounds every input is checked against where it enters: the API's schemas (`dealpilot.api_types`),
the forms and the pages' query strings (the form fields below), and the CLI's options (`cli_day`,
`cli_id`). The code behind them may then compute without checking again.

- A record id is 1..2**63-1: the databases' ids are 64-bit, and SQLite cannot even compare with a
  larger integer (an OverflowError: a 500).
- A day is 1900-01-01..2999-12-31: every report, week and calendar adds or subtracts weeks, periods
  and years, and Python's dates end at 9999-12-31 and begin at 0001-01-01 (the edges were 500s).
- A text has a maximum length (characters), one of the limits below; the API says 422 with the reason,
  a form says why at the field. Docs: docs/security.md, "Bad input".
"""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

MAX_ID = 2**63 - 1
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
DAYS_MESSAGE = f"a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"

# ---- text limits (characters) ---------------------------------------------------------------------------
# A limit never exceeds the column it is stored in; long texts live in TextFields (no database limit),
# so these are the only thing between a 2 MB paste and every page that shows it.

SEARCH_MAX = 200  # a search or a filter value in a query string
CODE_MAX = 60  # a key, a code or a choice typed as text: a level, an answer, a forecast category, a time zone
STAGE_MAX = 120  # a stage's name (the column)
LANGUAGE_MAX = 10  # a content module's language code (the column)
NAME_MAX = 200  # a name or a title: meetings, content modules, knowledge entries, plans, scoring models, skills, tags
LINE_MAX = 255  # one line stored in a 255 column: a call's objective and next step, a lost reason, a lead's title
SHORT_MAX = 300  # a one-line summary or note stored in a 300 column: summaries, objectives, actions, influences
COMMENT_MAX = 500  # a short comment: a rating's, a strategy, a level's definition in the scoring model
NOTE_MAX = 10_000  # notes, decisions, descriptions and comments typed in meetings, plans, coaching, call plans
DESCRIPTION_MAX = 32_000  # an opportunity's description (Salesforce's own limit, so an imported one fits)
DOCUMENT_MAX = 50_000  # the longest texts people write: knowledge entries, content module bodies and templates
YAML_MAX = 256 * 1024  # a YAML file of rules or of a scoring model (bytes, checked as characters too)

def day_problem(value: date | datetime) -> str | None:
    """Why a day (or a moment's day) is out of bounds, or None."""
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        return f"{day.isoformat()} is out of range: give {DAYS_MESSAGE}"
    return None


def id_problem(value: int) -> str | None:
    if not 1 <= value <= MAX_ID:
        return f"{value} is not a record id (1 to {MAX_ID})"
    return None


def text_problem(value: str, limit: int, label: str = "the text") -> str | None:
    if len(value) > limit:
        return f"{label} is longer than {limit:,} characters ({len(value):,})"
    return None


# ---- form fields -------------------------------------------------------------------------------------------


class DayField(forms.DateField):
    """A date within FIRST_DAY..LAST_DAY: outside, the form shows why at the field (never a 500 later)."""

    default_error_messages = {"out_of_range": f"Give {DAYS_MESSAGE}."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators += [MinValueValidator(FIRST_DAY, message=self.error_messages["out_of_range"]),
                            MaxValueValidator(LAST_DAY, message=self.error_messages["out_of_range"])]

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if "date" in (getattr(widget, "input_type", ""), widget.attrs.get("type")):  # the browser's picker, bounded too
            attrs.update(min=FIRST_DAY.isoformat(), max=LAST_DAY.isoformat())
        return attrs


class MomentField(forms.DateTimeField):
    """A date and time whose day is within FIRST_DAY..LAST_DAY (a time zone then never overflows it)."""

    def validate(self, value):
        super().validate(value)
        if value is not None and (problem := day_problem(value)):
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".", code="out_of_range")


class IdField(forms.IntegerField):
    """A record id, 1..MAX_ID, in a form (a hidden field, a query string)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


# ---- parsing for the pages that read their POST by hand ---------------------------------------------------


def parse_day(raw: str | None) -> date | None:
    """'' -> None; a day within bounds; else ValueError with the reason (shown as the page's message)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if problem := day_problem(value):
        raise ValueError(problem)
    return value


def parse_id(raw: str | None) -> int | None:
    """'' -> None; a record id; else ValueError with the reason."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if problem := id_problem(value):
        raise ValueError(problem)
    return value


def id_or_none(raw) -> int | None:
    """A record id from a query string, or None for anything else (a filter that is ignored when wrong)."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if id_problem(value) is None else None


# ---- the CLI -----------------------------------------------------------------------------------------------


def cli_day(value: datetime | None) -> datetime | None:
    """A typer callback for a --from/--to option: out of bounds is a usage error (exit status 2)."""
    import typer

    if value is not None and (problem := day_problem(value)):
        raise typer.BadParameter(problem)
    return value


def validation_message(exc: ValidationError) -> str:
    """A model's validation errors in one line for a 400 or a form: "field: what is wrong; field: ..."."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)
