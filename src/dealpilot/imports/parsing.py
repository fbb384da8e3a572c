"""Turn the text of CRM export cells into typed values.

Each parser takes a stripped, non-empty string and returns a value or raises BadValue with a
reason a sales-ops analyst understands. Parsers are cached: exports repeat the same dates and
flags millions of times.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache


class BadValue(ValueError):
    """A cell that cannot be read as the type its field needs."""


_SLASHED = re.compile(r"^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?)?$")
_EPOCH_MS = re.compile(r"^\d{12,13}$")


def _from_parts(a: str, b: str, c: str, dotted: bool, date_order: str) -> date:
    if len(a) == 4:  # 2024/03/15
        year, month, day = int(a), int(b), int(c)
    else:
        year = int(c)
        if len(c) == 2:
            year += 2000 if year < 70 else 1900
        # Dotted dates (15.03.2024) are day-first everywhere they are used.
        if dotted or date_order == "DMY":
            day, month = int(a), int(b)
        else:
            month, day = int(a), int(b)
    return date(year, month, day)


@lru_cache(maxsize=65536)
def parse_datetime(text: str, date_order: str = "MDY") -> datetime:
    """ISO 8601 (Salesforce: 2024-03-15T10:20:30.000Z), US/EU slashed dates with times, epoch ms."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None:
        if _EPOCH_MS.match(text):
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        m = _SLASHED.match(text)
        if not m:
            raise BadValue(f"not a date/time: {text!r}")
        a, b, c, hh, mm, ss, ampm = m.groups()
        try:
            d = _from_parts(a, b, c, "." in text[:10], date_order)
            hour = int(hh or 0)
            if ampm:
                if not 1 <= hour <= 12:
                    raise BadValue(f"not a date/time: {text!r}")
                hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
            value = datetime(d.year, d.month, d.day, hour, int(mm or 0), int(ss or 0))
        except ValueError as exc:
            raise BadValue(f"not a date/time: {text!r} ({exc})") from None
    if value.tzinfo is None:  # exports without an offset are in UTC (Salesforce, HubSpot)
        value = value.replace(tzinfo=timezone.utc)
    return value


@lru_cache(maxsize=65536)
def parse_date(text: str, date_order: str = "MDY") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if _EPOCH_MS.match(text):
        return parse_datetime(text).date()
    m = _SLASHED.match(text)
    if m and m.group(4) is None:
        try:
            return _from_parts(*m.groups()[:3], "." in text, date_order)
        except ValueError as exc:
            raise BadValue(f"not a date: {text!r} ({exc})") from None
    # A date-time where a date is expected: keep the (UTC) day.
    try:
        return parse_datetime(text, date_order).astimezone(timezone.utc).date()
    except BadValue:
        raise BadValue(f"not a date: {text!r}") from None


_MONEY_NOISE = re.compile(r"[\s\u00a0$€£¥]|^[A-Z]{3}\s*|\s*[A-Z]{3}$")


@lru_cache(maxsize=65536)
def parse_decimal(text: str, decimal_comma: bool = False) -> Decimal:
    """1234.5, 1,234.50, $1,234.50, USD 1234.50, (1,234.50), and 1.234,50 with decimal_comma."""
    try:
        value = Decimal(text)
        if value.is_finite():
            return value
        raise BadValue(f"not a number: {text!r}")
    except InvalidOperation:
        pass
    cleaned = _MONEY_NOISE.sub("", text)
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace("'", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "").replace("'", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadValue(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise BadValue(f"not a number: {text!r}")
    return -value if negative else value


def parse_int(text: str, decimal_comma: bool = False) -> int:
    value = parse_decimal(text, decimal_comma)
    if abs(value) >= 10**18:  # also keeps int() away from 1e999999999
        raise BadValue(f"too large: {text!r}")
    if value != value.to_integral_value():
        raise BadValue(f"not a whole number: {text!r}")
    return int(value)


_TRUE = {"true", "t", "yes", "y", "1", "x", "won"}
_FALSE = {"false", "f", "no", "n", "0", ""}


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(f"not true/false: {text!r}")
