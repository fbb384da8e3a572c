"""The calendar feeds (iCalendar, RFC 5545) that Outlook and Google Calendar subscribe to.

Occurrences are written out one by one (expanded, no RRULE) over a window around today, each
with a UID that never changes (`<meeting>-<scheduled start in UTC>@dealpilot`): a rescheduled
occurrence keeps its UID and moves (a higher SEQUENCE tells clients it changed), a cancelled one
stays with STATUS:CANCELLED so subscribed calendars take it off. Times carry the meeting's time
zone (TZID, with its VTIMEZONE), so clients show 09:00 Berlin time across daylight-saving changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from icalendar import Calendar, Event

from .models import Meeting, OccurrenceStatus
from .recurrence import Slot, slots

FEED_PAST_DAYS = 56
FEED_FUTURE_DAYS = 183
UID_DOMAIN = "dealpilot"


def slot_uid(slot: Slot) -> str:
    return f"cadence-{slot.meeting.pk}-{slot.key}@{UID_DOMAIN}"


def feed_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now - timedelta(days=FEED_PAST_DAYS), now + timedelta(days=FEED_FUTURE_DAYS)


def build_calendar(name: str, meetings: list[Meeting], *, start: datetime, end: datetime, base_url: str = "") -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//dealpilot//cadence//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-published-ttl", "PT1H")  # how often clients should fetch again
    stamp = timezone.now().replace(microsecond=0)
    for slot in slots(meetings, start, end):
        m = slot.meeting
        event = Event()
        event.add("uid", slot_uid(slot))
        event.add("dtstamp", stamp)
        event.add("dtstart", slot.local_start)
        event.add("dtend", slot.local_start + timedelta(minutes=m.duration_minutes))
        event.add("summary", f"{m.title} ({m.cadence.team.name})")
        description = [m.get_kind_display()]
        if base_url:
            description.append(f"Agenda: {base_url}/cadence/meetings/{m.pk}/{slot.key}/")
        event.add("description", "\n".join(description))
        if slot.status == OccurrenceStatus.CANCELLED:
            event.add("status", "CANCELLED")
            event.add("sequence", 1)
        elif slot.status == OccurrenceStatus.RESCHEDULED:
            event.add("status", "CONFIRMED")
            event.add("sequence", 1)
        else:
            event.add("status", "CONFIRMED")
            event.add("sequence", 0)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
