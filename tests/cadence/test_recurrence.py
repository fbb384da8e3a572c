"""Recurrence rules to dates, and the .ics feed parsed back with icalendar, on fixed dates."""

from datetime import date, datetime, time, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from dealpilot.cadence.ics import build_calendar
from dealpilot.cadence.models import Cadence, Frequency, Meeting, MeetingType, Occurrence, OccurrenceStatus
from dealpilot.cadence.recurrence import occurrence_key, parse_occurrence_key, scheduled_starts, slots
from tests.factories import make_team

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt_timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def cadence(db):
    return Cadence.objects.create(team=make_team("Berlin team"), time_zone="Europe/Berlin")


def meeting(cadence, **fields) -> Meeting:
    values = dict(kind=MeetingType.PIPELINE, title="Pipeline", frequency=Frequency.WEEKLY, weekday=1, start_time=time(9),
                  duration_minutes=60, time_zone="Europe/Berlin", starts_on=date(2026, 10, 13))
    values.update(fields)
    return Meeting.objects.create(cadence=cadence, **values)


def test_weekly_tuesday_keeps_9am_berlin_across_the_dst_change(cadence):
    m = meeting(cadence)
    starts = scheduled_starts(m, utc(2026, 10, 1), utc(2026, 11, 5))
    # summer time (UTC+2) until 25 October 2026, then winter time (UTC+1)
    assert starts == [utc(2026, 10, 13, 7), utc(2026, 10, 20, 7), utc(2026, 10, 27, 8), utc(2026, 11, 3, 8)]
    assert {s.astimezone(BERLIN).time() for s in starts} == {time(9)}


def test_every_two_weeks_counts_from_the_start(cadence):
    m = meeting(cadence, frequency=Frequency.EVERY_N_WEEKS, interval_weeks=2, weekday=2, starts_on=date(2026, 1, 5),
                time_zone="UTC")
    days = [s.date() for s in scheduled_starts(m, utc(2026, 1, 1), utc(2026, 2, 20))]
    assert days == [date(2026, 1, 7), date(2026, 1, 21), date(2026, 2, 4), date(2026, 2, 18)]


def test_monthly_first_tuesday_and_last_friday(cadence):
    first_tuesday = meeting(cadence, frequency=Frequency.MONTHLY, weekday=1, week_of_month=1, starts_on=date(2026, 1, 10),
                            time_zone="UTC")
    # January's first Tuesday (the 6th) is before the series starts: February is the first
    assert [s.date() for s in scheduled_starts(first_tuesday, utc(2026, 1, 1), utc(2026, 5, 1))] == [
        date(2026, 2, 3), date(2026, 3, 3), date(2026, 4, 7)]
    last_friday = meeting(cadence, frequency=Frequency.MONTHLY, weekday=4, week_of_month=-1, starts_on=date(2026, 1, 1),
                          time_zone="UTC")
    assert [s.date() for s in scheduled_starts(last_friday, utc(2026, 1, 1), utc(2026, 4, 1))] == [
        date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_monthly_day_of_month_and_quarterly(cadence):
    fifteenth = meeting(cadence, frequency=Frequency.MONTHLY, day_of_month=15, starts_on=date(2026, 1, 20), time_zone="UTC")
    assert [s.date() for s in scheduled_starts(fifteenth, utc(2026, 1, 1), utc(2026, 4, 1))] == [date(2026, 2, 15), date(2026, 3, 15)]
    quarterly = meeting(cadence, frequency=Frequency.QUARTERLY, weekday=2, week_of_month=1, starts_on=date(2026, 1, 1),
                        time_zone="UTC", ends_on=date(2026, 12, 31))
    assert [s.date() for s in scheduled_starts(quarterly, utc(2026, 1, 1), utc(2027, 6, 1))] == [
        date(2026, 1, 7), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 7)]


def test_occurrence_keys_round_trip():
    when = utc(2026, 10, 27, 8)
    assert occurrence_key(when) == "20261027T080000Z"
    assert parse_occurrence_key("20261027T080000Z") == when
    assert parse_occurrence_key("not-a-date") is None


def test_rescheduled_occurrence_moves_and_cancelled_stays(cadence):
    m = meeting(cadence)
    Occurrence.objects.create(meeting=m, scheduled_start=utc(2026, 10, 20, 7), status=OccurrenceStatus.RESCHEDULED,
                              new_start=utc(2026, 10, 22, 12))
    Occurrence.objects.create(meeting=m, scheduled_start=utc(2026, 10, 27, 8), status=OccurrenceStatus.CANCELLED)
    found = slots([m], utc(2026, 10, 21), utc(2026, 10, 28))
    assert [(s.start, s.status) for s in found] == [(utc(2026, 10, 22, 12), "rescheduled"), (utc(2026, 10, 27, 8), "cancelled")]


def test_ics_feed_parses_with_exact_dtstart_across_dst_and_stable_uids(cadence):
    m = meeting(cadence)
    Occurrence.objects.create(meeting=m, scheduled_start=utc(2026, 10, 20, 7), status=OccurrenceStatus.RESCHEDULED,
                              new_start=utc(2026, 10, 21, 13))
    Occurrence.objects.create(meeting=m, scheduled_start=utc(2026, 11, 3, 8), status=OccurrenceStatus.CANCELLED)
    body = build_calendar("Test", [m], start=utc(2026, 10, 1), end=utc(2026, 11, 5))
    cal = Calendar.from_ical(body)
    events = sorted(cal.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    starts = [e.decoded("dtstart") for e in events]
    assert [s.astimezone(UTC) for s in starts] == [utc(2026, 10, 13, 7), utc(2026, 10, 21, 13), utc(2026, 10, 27, 8),
                                                   utc(2026, 11, 3, 8)]
    assert str(events[0]["dtstart"].params["TZID"]) == "Europe/Berlin"
    assert starts[0].replace(tzinfo=None) == datetime(2026, 10, 13, 9) and starts[2].replace(tzinfo=None) == datetime(2026, 10, 27, 9)
    assert [e.decoded("dtend") - e.decoded("dtstart") for e in events] == [events[0].decoded("dtend") - starts[0]] * 4
    # the rescheduled one keeps the UID of its scheduled start; the cancelled one is marked so
    assert str(events[1]["uid"]) == f"cadence-{m.pk}-20261020T070000Z@dealpilot"
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert len({str(e["uid"]) for e in events}) == 4
    assert [tz["tzid"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    # the same feed again: the same UIDs
    again = Calendar.from_ical(build_calendar("Test", [m], start=utc(2026, 10, 1), end=utc(2026, 11, 5)))
    assert sorted(str(e["uid"]) for e in again.walk("VEVENT")) == sorted(str(e["uid"]) for e in events)
