"""Small pieces the pages share: money formatting, safe upload names, the upload size limit."""

from decimal import Decimal

import pytest
from django.core.files.uploadhandler import StopUpload

from dealpilot.web.templatetags.dealpilot import money, money0, percent, progress_percent
from dealpilot.web.uploads import UploadLimitHandler, safe_filename


@pytest.mark.parametrize("value,currency,expected", [
    (Decimal("1234567.5"), "USD", "USD 1,234,567.50"),
    (Decimal("0"), "EUR", "EUR 0.00"),
    (Decimal("-42.125"), "GBP", "GBP -42.12"),  # banker's rounding of Decimal's format
    ("980", "", "980.00"),
    (None, "USD", "\u2014"),
    ("not money", "USD", "\u2014"),
])
def test_money_has_currency_and_thousands_separators(value, currency, expected):
    assert money(value, currency) == expected


def test_money0_rounds_to_whole_units():
    assert money0(Decimal("1234567.5"), "USD") == "USD 1,234,568"
    assert money0(Decimal("999.49"), "JPY") == "JPY 999"


@pytest.mark.parametrize("value,expected", [(Decimal("60.00"), "60%"), (Decimal("12.5"), "12.5%"), (None, "\u2014"), (0, "0%")])
def test_percent(value, expected):
    assert percent(value) == expected


@pytest.mark.parametrize("progress,expected", [(None, 0), ({"done": 0, "total": 0}, 0), ({"done": 5, "total": 20}, 25),
                                               ({"done": 30, "total": 20}, 100)])
def test_progress_percent(progress, expected):
    assert progress_percent(progress) == expected


@pytest.mark.parametrize("name,expected", [
    ("Salesforce Export.ZIP", "Salesforce_Export.zip"),
    ("../../etc/passwd.csv", "passwd.csv"),
    ("C:\\Users\\me\\deals.csv", "deals.csv"),
    (".hidden.zip", "hidden.zip"),
    ("..", "upload"),
    ("", "upload"),
    ("x" * 300 + ".zip", "x" * 100 + ".zip"),
    ("deals;rm -rf.csv", "dealsrm_-rf.csv"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_upload_limit_handler_stops_past_the_limit():
    handler = UploadLimitHandler(limit=10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    assert handler.receive_data_chunk(b"12345", 5) == b"12345"
    assert not handler.exceeded
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"1", 10)
    assert handler.exceeded
