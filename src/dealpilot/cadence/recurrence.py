"""From a meeting's rule to its dates, with `dateutil.rrule`.

The rule runs on the *wall clock* of the meeting's time zone (naive local datetimes), and each
date is then placed in that zone: a weekly Tuesday 09:00 Europe/Berlin meeting stays at 09:00
Berlin time across a daylight-saving change (its UTC time moves by an hour).

- weekly: every week on the weekday; every N weeks: the same, every N weeks from `starts_on`;
- monthly: the Nth (or last) weekday of the month, or a day of the month;
- quarterly: the same as monthly, every third month from the month of `starts_on`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo, available_timezones

from dateutil import rrule

from .models import Frequency, Meeting, Occurrence, OccurrenceStatus

WEEKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)


def valid_time_zone(name: str) -> bool:
    return name in available_timezones()


def build_rule(meeting: Meeting) -> rrule.rrule:
    """The meeting's rule over naive local datetimes (the wall clock of its time zone)."""
    start = datetime.combine(meeting.starts_on, meeting.start_time.replace(tzinfo=None, microsecond=0))
    until = datetime.combine(meeting.ends_on, datetime.max.time()) if meeting.ends_on else None
    weekday = WEEKDAYS[meeting.weekday]
    if meeting.frequency in (Frequency.WEEKLY, Frequency.EVERY_N_WEEKS):
        interval = meeting.interval_weeks if meeting.frequency == Frequency.EVERY_N_WEEKS else 1
        return rrule.rrule(rrule.WEEKLY, interval=max(interval, 1), byweekday=weekday, dtstart=start, until=until)
    interval = 3 if meeting.frequency == Frequency.QUARTERLY else 1
    # the rule counts months from dtstart's month, so a series starting mid-month still falls in it
    month_start = start.replace(day=1)
    if meeting.day_of_month:
        rule = rrule.rrule(rrule.MONTHLY, interval=interval, bymonthday=meeting.day_of_month, dtstart=month_start, until=until)
    else:
        nth = meeting.week_of_month or 1
        rule = rrule.rrule(rrule.MONTHLY, interval=interval, byweekday=weekday(nth), dtstart=month_start, until=until)
    return _FromDay(rule, start)


class _FromDay:
    """A monthly rule anchored on the first of the month, with the dates before `starts_on` dropped."""

    def __init__(self, rule: rrule.rrule, first: datetime):
        self.rule, self.first = rule, first

    def between(self, after: datetime, before: datetime, inc: bool = False) -> list[datetime]:
        return [d for d in self.rule.between(max(after, self.first - timedelta(seconds=1)), before, inc=inc) if d >= self.first]

    def after(self, dt: datetime, inc: bool = False) -> datetime | None:
        found = self.rule.after(max(dt, self.first - timedelta(seconds=1)), inc=inc)
        while found is not None and found < self.first:
            found = self.rule.after(found)
        return found


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    return naive.replace(tzinfo=zone)


def scheduled_starts(meeting: Meeting, start: datetime, end: datetime) -> list[datetime]:
    """The scheduled starts (aware, in UTC) in [start, end)."""
    zone = ZoneInfo(meeting.time_zone)
    # compare on the local wall clock, with a day's margin for the offset; then filter exactly
    lo = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    hi = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    out = []
    for naive in build_rule(meeting).between(lo, hi, inc=True):
        aware = _localize(naive, zone).astimezone(dt_timezone.utc)
        if start <= aware < end:
            out.append(aware)
    return out


def is_scheduled_start(meeting: Meeting, when: datetime) -> bool:
    return when in scheduled_starts(meeting, when - timedelta(minutes=1), when + timedelta(minutes=1))


@dataclass
class Slot:
    """One occurrence of a meeting: its scheduled start, what was recorded, and when it takes place."""

    meeting: Meeting
    scheduled_start: datetime
    record: Occurrence | None = None

    @property
    def status(self) -> str:
        return self.record.status if self.record else OccurrenceStatus.PLANNED

    @property
    def status_label(self) -> str:
        if not self.status and self.scheduled_start > datetime.now(dt_timezone.utc):
            return "Planned"
        return OccurrenceStatus(self.status).label

    @property
    def start(self) -> datetime:
        """When it takes place: the new start if rescheduled."""
        if self.record and self.record.status == OccurrenceStatus.RESCHEDULED and self.record.new_start:
            return self.record.new_start
        return self.scheduled_start

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.meeting.duration_minutes)

    @property
    def key(self) -> str:
        """The occurrence's id in URLs and calendar UIDs: its scheduled start in UTC."""
        return occurrence_key(self.scheduled_start)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.meeting.time_zone))


def occurrence_key(when: datetime) -> str:
    return when.astimezone(dt_timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_occurrence_key(key: str) -> datetime | None:
    """The scheduled start a key names, or None (a 404) for a key that is not one; a key's day is within
    dealpilot.validation's bounds, so the minutes around it never leave the calendar (00010101T000000Z was a 500)."""
    from dealpilot.validation import day_problem

    try:
        when = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt_timezone.utc)
    except ValueError:
        return None
    return None if day_problem(when) else when


def slots(meetings: list[Meeting], start: datetime, end: datetime, *, by_actual_start: bool = True) -> list[Slot]:
    """Every occurrence of the meetings in [start, end), with its record, in time order.

    With `by_actual_start` a rescheduled occurrence counts where it now takes place (it may move
    in or out of the window); without, by its scheduled start (what adherence counts)."""
    margin = timedelta(days=92) if by_actual_start else timedelta(0)
    ids = [m.pk for m in meetings]
    records = {(r.meeting_id, r.scheduled_start): r for r in Occurrence.objects.filter(
        meeting_id__in=ids, scheduled_start__gte=start - margin, scheduled_start__lt=end + margin)}
    out = []
    for meeting in meetings:
        for when in scheduled_starts(meeting, start - margin, end + margin):
            slot = Slot(meeting, when, records.get((meeting.pk, when)))
            moment = slot.start if by_actual_start else slot.scheduled_start
            if start <= moment < end:
                out.append(slot)
    out.sort(key=lambda s: (s.start, s.meeting.pk))
    return out


def previous_start(meeting: Meeting, before: datetime) -> datetime | None:
    """The scheduled start before `before` (for the default window of a pipeline meeting)."""
    found = scheduled_starts(meeting, before - timedelta(days=400), before)
    return found[-1] if found else None

