"""Field types shared by the API's input schemas and query parameters; the bounds are `dealpilot.validation`'s,
so the API, the forms and the CLI refuse the same values."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field
from pydantic import AfterValidator

from dealpilot.crm.models import SAFE_DECIMAL_DIGITS
from dealpilot.validation import (
    CODE_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    DOCUMENT_MAX,
    FIRST_DAY,
    LAST_DAY,
    LINE_MAX,
    MAX_ID,
    NAME_MAX,
    NOTE_MAX,
    SEARCH_MAX,
    SHORT_MAX,
    day_problem,
)

# A record id in a request body or a query parameter: the databases' ids are 64-bit, and SQLite cannot even
# compare with a larger integer (an OverflowError, a 500), so a larger one is refused up front (422) like any
# malformed field.
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]

# An amount of money in a request body. The columns are numeric(18, 2), but SQLite keeps only 15 significant
# digits (crm.models.SAFE_DECIMAL_DIGITS), and more than 18 failed on PostgreSQL. Ten trillion is ample.
Money = Annotated[Decimal, Field(ge=0, max_digits=SAFE_DECIMAL_DIGITS, decimal_places=2)]

# A day in a body or a query: reports, weeks and calendars add weeks, periods and years to it, and Python's
# dates end at 9999-12-31 (9999-12-31 and 0001-01-01 were 500s).
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY, description=f"YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}")]


def _moment_in_range(value: datetime) -> datetime:
    if problem := day_problem(value):
        raise ValueError(problem)
    return value


# A moment (date, time and offset) whose day is within the same bounds.
Moment = Annotated[datetime, AfterValidator(_moment_in_range),
                   Field(description=f"ISO 8601 with its offset, on a day from {FIRST_DAY} to {LAST_DAY}")]

# Texts: each has a maximum length (422 with the reason beyond it); the limits are dealpilot.validation's.
SearchText = Annotated[str, Field(max_length=SEARCH_MAX)]
Code = Annotated[str, Field(max_length=CODE_MAX)]
Name = Annotated[str, Field(max_length=NAME_MAX)]
Line = Annotated[str, Field(max_length=LINE_MAX)]
Short = Annotated[str, Field(max_length=SHORT_MAX)]
Comment = Annotated[str, Field(max_length=COMMENT_MAX)]
Note = Annotated[str, Field(max_length=NOTE_MAX)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
Document = Annotated[str, Field(max_length=DOCUMENT_MAX)]
