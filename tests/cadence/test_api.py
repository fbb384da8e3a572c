"""The cadence API under /api/cadence/: the same rules as the pages, per role."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from dealpilot.cadence.models import CoachingSession, DealNote, MeetingType, Occurrence
from dealpilot.cadence.recurrence import occurrence_key, scheduled_starts

API = "/api/cadence"
ROLES = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "enablement"]
READ_EMEA = {"leader", "admin", "manager_emea", "rep_emea"}
EDIT_EMEA = {"leader", "admin", "manager_emea"}
MANAGERS = {"leader", "admin", "manager_emea", "manager_amer"}


def put(client, url, data):
    return client.put(url, json.dumps(data), content_type="application/json")


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def past_key(meeting):
    now = timezone.now()
    return occurrence_key(scheduled_starts(meeting, now - timedelta(days=14), now)[-1])


MEETING = {"kind": "forecast", "title": "Friday forecast", "frequency": "weekly", "weekday": 4, "start_time": "16:00:00",
           "duration_minutes": 30, "starts_on": "2026-01-02", "time_zone": "Europe/Berlin"}


def test_anonymous_gets_401(client, org, emea_cadence):
    assert client.get(f"{API}/teams").status_code == 401
    assert client.get(f"{API}/teams/{org.teams['emea'].pk}").status_code == 401


@pytest.mark.parametrize("viewer", ROLES)
def test_reads_per_role(client, org, emea_cadence, viewer):
    client.force_login(org.user(viewer))
    emea = org.teams["emea"].pk
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    key = past_key(pipeline)
    reads_emea = viewer in READ_EMEA
    for url in (f"{API}/teams/{emea}", f"{API}/adherence?team={emea}"):
        assert client.get(url).status_code == (200 if reads_emea else 404), url
    # a meeting is also readable by its attendees (rep_dach, of DACH below EMEA, attends EMEA's pipeline meeting)
    for url in (f"{API}/meetings/{pipeline.pk}", f"{API}/meetings/{pipeline.pk}/occurrences",
                f"{API}/meetings/{pipeline.pk}/occurrences/{key}"):
        assert client.get(url).status_code == (200 if reads_emea or viewer == "rep_dach" else 404), url
    for url in (f"{API}/week", f"{API}/coaching", f"{API}/coaching/minutes"):
        assert client.get(url).status_code == (200 if viewer in MANAGERS else 404), url
    teams = {t["name"] for t in client.get(f"{API}/teams").json()}
    assert ("EMEA" in teams) == (viewer in READ_EMEA)


@pytest.mark.parametrize("viewer", ROLES)
def test_writes_per_role(client, org, emea_cadence, viewer):
    client.force_login(org.user(viewer))
    emea = org.teams["emea"].pk
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    key = past_key(pipeline)
    forecast = emea_cadence.meetings.get(kind=MeetingType.FORECAST).pk
    expected = 200 if viewer in EDIT_EMEA else 404
    assert post(client, f"{API}/teams/{emea}/default", {}).status_code == expected
    assert put(client, f"{API}/teams/{emea}/settings", {"time_zone": "Europe/Berlin", "coaching_target_minutes": 80}).status_code == expected
    assert post(client, f"{API}/teams/{emea}/meetings", MEETING).status_code == (201 if expected == 200 else 404)
    assert put(client, f"{API}/meetings/{pipeline.pk}/occurrences/{key}", {"status": "held"}).status_code == expected
    deal = org.opportunities["rep_emea"][0].pk
    assert put(client, f"{API}/meetings/{pipeline.pk}/occurrences/{key}/deals/{deal}", {"note": "x"}).status_code == expected
    assert put(client, f"{API}/meetings/{forecast}", dict(MEETING, title="Forecast, moved")).status_code == expected
    coached = post(client, f"{API}/coaching", {"rep_id": org.rep_dach.pk, "held_on": timezone.localdate().isoformat(),
                                               "topic": "activity", "minutes": 30}).status_code
    assert coached == {"leader": 201, "admin": 201, "manager_emea": 201, "manager_amer": 400}.get(viewer, 404)
    enablement = emea_cadence.meetings.get(kind=MeetingType.ENABLEMENT).pk
    assert client.delete(f"{API}/meetings/{enablement}").status_code == expected
    assert Occurrence.objects.exists() == (expected == 200)
    assert DealNote.objects.exists() == (expected == 200)


def test_api_flow_and_bad_input(client, org, emea_cadence):
    client.force_login(org.manager_emea)
    emea = org.teams["emea"].pk
    cadence = client.get(f"{API}/teams/{emea}").json()
    assert cadence["time_zone"] == "Europe/Berlin" and len(cadence["checklist"]) == 6
    assert {m["kind"] for m in cadence["meetings"]} == set(MeetingType.values)
    created = post(client, f"{API}/teams/{emea}/meetings", dict(MEETING, attendee_ids=[org.rep_emea.pk]))
    assert created.status_code == 201
    meeting = created.json()
    assert [a["name"] for a in meeting["attendees"]] == ["Erik Rep"]
    bad = [
        dict(MEETING, attendee_ids=[org.rep_amer.pk]),
        dict(MEETING, opportunity_ids=[org.opportunities["rep_amer"][0].pk]),
        dict(MEETING, time_zone="Nowhere/City"),
        dict(MEETING, frequency="daily"),
        dict(MEETING, weekday=9),
        dict(MEETING, title=""),
    ]
    for data in bad:
        assert post(client, f"{API}/teams/{emea}/meetings", data).status_code in (400, 422), data
    assert put(client, f"{API}/teams/{emea}/settings", {"time_zone": "Europe/Berlin", "coaching_target_minutes": 60,
                                                         "checklist_done": ["nonsense"]}).status_code in (400, 422)
    occurrences = client.get(f"{API}/meetings/{meeting['id']}/occurrences?days=28").json()
    assert all(o["status"] == "not_recorded" for o in occurrences) and occurrences
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    key = past_key(pipeline)
    url = f"{API}/meetings/{pipeline.pk}/occurrences/{key}"
    assert put(client, url, {"status": "rescheduled"}).status_code == 400
    moved = put(client, url, {"status": "rescheduled", "new_start": "2026-03-04T10:30:00+01:00", "notes": "Moved"})
    assert moved.status_code == 200 and moved.json()["start"].startswith("2026-03-04T09:30")
    agenda = client.get(url).json()
    assert agenda["notes"] == "Moved"
    assert [s["key"] for s in agenda["sections"]] == ["new", "at_risk", "stalled", "slipped", "pushed_back", "plan_reviews", "diagnosis"]
    assert put(client, f"{API}/meetings/{pipeline.pk}/occurrences/20200101T000000Z", {"status": "held"}).status_code == 404
    deal = org.opportunities["rep_dach"][0].pk
    assert put(client, f"{url}/deals/{deal}", {"note": "CFO meeting next week"}).status_code == 200
    assert put(client, f"{url}/deals/{org.opportunities['rep_amer'][0].pk}", {"note": "x"}).status_code == 404  # not theirs
    assert put(client, f"{url}/deals/{deal}", {"note": " "}).status_code == 400
    assert client.get(url).json()["deal_notes"][0]["note"] == "CFO meeting next week"
    today = timezone.localdate().isoformat()
    logged = post(client, f"{API}/coaching", {"rep_id": org.rep_emea.pk, "held_on": today, "topic": "effectiveness", "minutes": 45})
    assert logged.status_code == 201 and logged.json()["minutes"] == 45
    assert post(client, f"{API}/coaching", {"rep_id": org.rep_amer.pk, "held_on": today, "topic": "activity",
                                            "minutes": 45}).status_code == 400
    assert post(client, f"{API}/coaching", {"rep_id": org.rep_emea.pk, "held_on": today, "topic": "activity",
                                            "minutes": 4000}).status_code == 422
    assert CoachingSession.objects.count() == 1
    minutes = client.get(f"{API}/coaching/minutes?months=1").json()
    assert {(m["rep"]["name"], m["minutes"]) for m in minutes} == {("Erik Rep", 45), ("Dora Rep", 0)}
    week = client.get(f"{API}/week").json()
    assert week["meetings"] and {a["rep"]["name"] for a in week["attention"]} >= {"Dora Rep"}
    adherence = client.get(f"{API}/adherence?team={emea}").json()
    assert sum(r["rescheduled"] for r in adherence) == 1
