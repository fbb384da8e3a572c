"""Cell parsers: the formats CRM exports really use, and no surprise exception on any text."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealpilot.imports.parsing import BadValue, parse_bool, parse_date, parse_datetime, parse_decimal, parse_int


@pytest.mark.parametrize("text,expected", [
    ("2024-03-15", date(2024, 3, 15)),
    ("2024-03-15T23:30:00.000Z", date(2024, 3, 15)),
    ("2024-03-15T23:30:00.000+0000", date(2024, 3, 15)),
    ("2024-03-15 10:20", date(2024, 3, 15)),
    ("3/15/2024", date(2024, 3, 15)),
    ("03/15/24", date(2024, 3, 15)),
    ("3/15/2024 10:20 PM", date(2024, 3, 15)),
    ("15.03.2024", date(2024, 3, 15)),
    ("2024/03/15", date(2024, 3, 15)),
    ("1710460800000", date(2024, 3, 15)),
])
def test_dates(text, expected):
    assert parse_date(text) == expected


def test_day_first_order():
    assert parse_date("04/03/2024", "DMY") == date(2024, 3, 4)
    assert parse_date("04/03/2024", "MDY") == date(2024, 4, 3)


def test_datetimes_are_timezone_aware():
    assert parse_datetime("2024-03-15T10:20:30.000Z") == datetime(2024, 3, 15, 10, 20, 30, tzinfo=timezone.utc)
    assert parse_datetime("3/15/2024 12:05 AM") == datetime(2024, 3, 15, 0, 5, tzinfo=timezone.utc)
    assert parse_datetime("2024-03-15 10:20").tzinfo is not None


@pytest.mark.parametrize("text,expected", [
    ("1234.5", Decimal("1234.5")), ("1,234.50", Decimal("1234.50")), ("$1,234.50", Decimal("1234.50")),
    ("USD 1234.50", Decimal("1234.50")), ("1234.50 EUR", Decimal("1234.50")), ("(1,000)", Decimal("-1000")),
    ("€ 99", Decimal("99")), ("1e3", Decimal("1e3")),
])
def test_numbers(text, expected):
    assert parse_decimal(text) == expected


def test_decimal_comma():
    assert parse_decimal("1.234,56", True) == Decimal("1234.56")


@pytest.mark.parametrize("text", ["abc", "1,2,3x", "NaN", "Infinity", "--1"])
def test_bad_numbers(text):
    with pytest.raises(BadValue):
        parse_decimal(text)


def test_ints_and_bools():
    assert parse_int("1,200") == 1200
    with pytest.raises(BadValue, match="whole number"):
        parse_int("1.5")
    assert parse_bool("TRUE") is True and parse_bool("0") is False
    with pytest.raises(BadValue):
        parse_bool("maybe")


@given(st.text(min_size=1).map(str.strip).filter(bool))
def test_any_text_is_a_value_or_a_bad_value(text):
    for parse in (parse_date, parse_datetime, parse_decimal, parse_int, parse_bool):
        try:
            parse(text)
        except BadValue:
            pass
