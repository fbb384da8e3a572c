"""The write paths and the reads built on them: the default cadence, meetings, occurrences and
notes, coaching, adherence and the reps who need attention."""

from datetime import date, datetime, time, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from dealpilot.cadence import selectors, services
from dealpilot.cadence.models import (
    FeedToken,
    Cadence,
    CoachingSession,
    DealNote,
    Frequency,
    Meeting,
    MeetingType,
    Occurrence,
    OccurrenceStatus,
)
from dealpilot.cadence.recurrence import scheduled_starts, slots
from dealpilot.cadence.services import CadenceError, MeetingInput
from tests.factories import make_activity, make_team

UTC = dt_timezone.utc


def past_slot(meeting: Meeting, weeks_back: int = 1):
    now = timezone.now()
    return scheduled_starts(meeting, now - timedelta(days=7 * weeks_back + 7), now)[-weeks_back]


def test_default_cadence_has_every_meeting_type_and_a_1to1_per_rep(org, emea_cadence):
    meetings = list(emea_cadence.meetings.all())
    kinds = {m.kind for m in meetings}
    assert kinds == set(MeetingType.values)
    coaching = [m for m in meetings if m.kind == MeetingType.COACHING]
    # one 1:1 per rep of the team and the teams below it, each with the rep and the team's manager
    assert {frozenset(m.attendees.values_list("username", flat=True)) for m in coaching} == {
        frozenset({"rep_emea", "manager_emea"}), frozenset({"rep_dach", "manager_emea"})}
    pipeline = next(m for m in meetings if m.kind == MeetingType.PIPELINE)
    assert (pipeline.frequency, pipeline.weekday, pipeline.start_time, pipeline.time_zone) == (Frequency.WEEKLY, 0, time(9), "Europe/Berlin")
    planning = next(m for m in meetings if m.kind == MeetingType.ACCOUNT_PLANNING)
    assert planning.schedule_text == "Monthly on the first Tuesday at 10:00 (Europe/Berlin), 120 min"
    # running it again adds nothing
    services.create_default_cadence(org.teams["emea"], by=org.manager_emea)
    assert Meeting.objects.filter(cadence=emea_cadence).count() == len(meetings)


def test_only_editors_set_a_cadence(org):
    with pytest.raises(CadenceError):
        services.create_default_cadence(org.teams["amer"], by=org.manager_emea)
    with pytest.raises(CadenceError):
        services.create_default_cadence(org.teams["emea"], by=org.rep_emea)
    assert not Cadence.objects.exists()
    services.create_default_cadence(org.teams["dach"], by=org.manager_emea)  # a sub-team
    services.create_default_cadence(org.teams["amer"], by=org.leader)
    assert Cadence.objects.count() == 2


def _input(**fields) -> MeetingInput:
    values = dict(kind=MeetingType.OPPORTUNITY_REVIEW, title="Deal review", frequency=Frequency.MONTHLY, weekday=1,
                  week_of_month=1, start_time=time(14), duration_minutes=90, starts_on=date(2026, 1, 1), time_zone="Europe/London")
    values.update(fields)
    return MeetingInput(**values)


def test_add_meeting_checks_what_it_links(org, emea_cadence):
    team = org.teams["emea"]
    emea_deal = org.opportunities["rep_emea"][0]
    m = services.add_meeting(team, _input(attendee_ids=(org.rep_emea.pk, org.rep_dach.pk), opportunity_ids=(emea_deal.pk,),
                                          account_ids=(org.accounts["rep_emea"].pk,)), by=org.manager_emea)
    assert m.schedule_text == "Monthly on the first Tuesday at 14:00 (Europe/London), 90 min"
    assert list(m.reviewed_opportunities.all()) == [emea_deal]
    before = Meeting.objects.count()
    bad = [
        _input(attendee_ids=(org.rep_amer.pk,)),                        # not of the team
        _input(opportunity_ids=(org.opportunities["rep_amer"][0].pk,)),  # a deal the manager may not see
        _input(account_ids=(999999,)),
        _input(time_zone="Mars/Olympus"),
        _input(day_of_month=31, week_of_month=None),
        _input(frequency=Frequency.EVERY_N_WEEKS, interval_weeks=0),
        _input(title="  "),
        _input(ends_on=date(2025, 1, 1)),
        _input(kind="party"),
    ]
    for data in bad:
        with pytest.raises(CadenceError):
            services.add_meeting(team, data, by=org.manager_emea)
    assert Meeting.objects.count() == before


def test_update_and_drop_keep_history(org, emea_cadence):
    m = emea_cadence.meetings.get(kind=MeetingType.FORECAST)
    services.update_meeting(m, _input(kind=MeetingType.FORECAST, title="Forecast call", frequency=Frequency.WEEKLY, weekday=4,
                                      week_of_month=None, starts_on=m.starts_on, time_zone="Europe/Berlin",
                                      attendee_ids=(org.manager_emea.pk,)), by=org.manager_emea)
    m.refresh_from_db()
    assert (m.weekday, m.week_of_month, list(m.attendees.all())) == (4, None, [org.manager_emea])
    services.drop_meeting(m, by=org.manager_emea)
    m.refresh_from_db()
    assert not m.is_active and m.ends_on == timezone.localdate()
    with pytest.raises(CadenceError):
        services.drop_meeting(m, by=org.manager_amer)


def test_record_occurrence_held_rescheduled_cancelled(org, emea_cadence):
    m = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    when = past_slot(m)
    rec = services.record_occurrence(m, when, by=org.manager_emea, status=OccurrenceStatus.HELD, notes="Went through all new deals")
    assert (rec.status, rec.notes, rec.recorded_by) == ("held", "Went through all new deals", org.manager_emea)
    new_start = when + timedelta(days=1)
    rec = services.record_occurrence(m, when, by=org.manager_emea, status=OccurrenceStatus.RESCHEDULED, new_start=new_start)
    assert rec.notes == "Went through all new deals"  # kept
    assert Occurrence.objects.count() == 1
    for kwargs in ({"status": "rescheduled"}, {"status": "held", "new_start": new_start}, {"status": "maybe"},
                   {"status": "rescheduled", "new_start": datetime(2026, 1, 1, 9)}):
        with pytest.raises(CadenceError):
            services.record_occurrence(m, when, by=org.manager_emea, **kwargs)
    with pytest.raises(CadenceError):  # not an occurrence of the rule
        services.record_occurrence(m, when + timedelta(minutes=5), by=org.manager_emea, status="held")
    with pytest.raises(CadenceError):
        services.record_occurrence(m, when, by=org.rep_emea, status="cancelled")
    assert Occurrence.objects.get().status == "rescheduled"


def test_deal_notes_one_per_deal_and_only_visible_deals(org, emea_cadence):
    m = emea_cadence.meetings.get(kind=MeetingType.OPPORTUNITY_REVIEW)
    when = past_slot(m)
    deal = org.opportunities["rep_dach"][0]
    services.save_deal_note(m, when, deal.pk, by=org.manager_emea, note="Champion left", decision="Find a new sponsor")
    services.save_deal_note(m, when, deal.pk, by=org.manager_emea, note="Champion left; CFO engaged")
    assert [(n.note, n.decision) for n in DealNote.objects.all()] == [("Champion left; CFO engaged", "")]
    with pytest.raises(CadenceError):
        services.save_deal_note(m, when, org.opportunities["rep_amer"][0].pk, by=org.manager_emea, note="x")
    with pytest.raises(CadenceError):
        services.save_deal_note(m, when, deal.pk, by=org.manager_emea, note="  ")


def test_coaching_log_checks_rep_topic_and_minutes(org, emea_cadence):
    today = timezone.localdate()
    s = services.log_coaching(by=org.manager_emea, rep_id=org.rep_dach.pk, held_on=today, topic="deal", minutes=45,
                              opportunity_id=org.opportunities["rep_dach"][0].pk, notes="Mutual plan")
    assert (s.rep, s.manager, s.minutes) == (org.rep_dach, org.manager_emea, 45)
    bad = [
        dict(rep_id=org.rep_amer.pk, topic="skill", skill="Negotiation", minutes=30),  # another manager's rep
        dict(rep_id=org.rep_emea.pk, topic="deal", minutes=30),  # a deal topic names the deal
        dict(rep_id=org.rep_emea.pk, topic="deal", minutes=30, opportunity_id=org.opportunities["rep_dach"][0].pk),  # not theirs
        dict(rep_id=org.rep_emea.pk, topic="skill", minutes=30),
        dict(rep_id=org.rep_emea.pk, topic="activity", minutes=0),
        dict(rep_id=org.rep_emea.pk, topic="gossip", minutes=30),
    ]
    for kwargs in bad:
        with pytest.raises(CadenceError):
            services.log_coaching(by=org.manager_emea, held_on=today, **kwargs)
    with pytest.raises(CadenceError):
        services.log_coaching(by=org.rep_emea, rep_id=org.rep_dach.pk, held_on=today, topic="activity", minutes=30)
    assert CoachingSession.objects.count() == 1


def test_coaching_minutes_per_month_against_the_team_target(org, emea_cadence):
    today = date(2026, 3, 20)
    emea_cadence.coaching_target_minutes = 90
    emea_cadence.save()
    for day, minutes in ((date(2026, 3, 2), 30), (date(2026, 3, 16), 30), (date(2026, 2, 10), 45)):
        CoachingSession.objects.create(rep=org.rep_emea, manager=org.manager_emea, held_on=day, topic="activity", minutes=minutes)
    CoachingSession.objects.create(rep=org.rep_dach, manager=org.manager_emea, held_on=date(2026, 3, 3), topic="skill", minutes=60)
    months = selectors.coaching_minutes(org.manager_emea, months=2, today=today)
    assert set(months) == {org.rep_emea.pk, org.rep_dach.pk}
    emea = [(m.month, m.minutes, m.target, m.sessions) for m in months[org.rep_emea.pk]]
    assert emea == [(date(2026, 2, 1), 45, 90, 1), (date(2026, 3, 1), 60, 90, 2)]
    # DACH has no cadence of its own: the default target
    assert [(m.minutes, m.target, m.meets_target) for m in months[org.rep_dach.pk]] == [(0, 60, False), (60, 60, True)]
    assert selectors.coaching_minutes(org.manager_amer, today=today).keys() == {org.rep_amer.pk}


def test_adherence_counts_past_occurrences_by_status_and_month(org, emea_cadence):
    team = org.teams["emea"]
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    now = timezone.now()
    past = scheduled_starts(pipeline, now - timedelta(days=35), now)
    assert len(past) >= 4
    services.record_occurrence(pipeline, past[0], by=org.manager_emea, status="held")
    services.record_occurrence(pipeline, past[1], by=org.manager_emea, status="cancelled")
    services.record_occurrence(pipeline, past[2], by=org.manager_emea, status="rescheduled", new_start=past[2] + timedelta(hours=3))
    result = selectors.adherence(org.manager_emea, team_id=team.pk)
    all_past = slots(list(emea_cadence.meetings.all()), now - timedelta(days=400), now, by_actual_start=False)
    totals = {k: sum(getattr(r, k) for r in result.rows) for k in ("held", "cancelled", "rescheduled", "not_recorded")}
    assert totals == {"held": 1, "cancelled": 1, "rescheduled": 1, "not_recorded": len(all_past) - 3}
    assert sum(r.total for r in result.rows) == len(all_past)
    assert {s.status for s in result.slips} == {"cancelled", "rescheduled", ""}
    assert all(s.status != "held" for s in result.slips)
    # another manager sees nothing of EMEA; a rep of EMEA sees EMEA's
    assert selectors.adherence(org.manager_amer).rows == []
    assert sum(r.total for r in selectors.adherence(org.rep_emea).rows) == len(all_past)


def busy(user, n: int) -> None:
    """n activities of `user` over the last weeks (the diagnosis window ends at the latest close date)."""
    for i in range(n):
        make_activity(user, activity_date=timezone.localdate() - timedelta(days=i % 60))


def test_attention_lists_flagged_reps_without_coaching_first(org, emea_cadence):
    # the manager and rep_dach are busy, rep_emea is not: Team performance's diagnosis flags rep_emea
    busy(org.rep_dach, 40)
    busy(org.manager_emea, 40)
    verdicts = selectors.diagnosis_by_rep(org.manager_emea)
    assert verdicts[org.rep_emea.pk]["verdict"] == "too little activity"
    assert verdicts[org.rep_dach.pk]["verdict"] not in selectors.NEEDS_COACHING
    found = selectors.attention(org.manager_emea)
    assert [(a.rep, a.urgent) for a in found] == [(org.rep_emea, True), (org.rep_dach, False)]
    assert found[0].reasons == ["Diagnosis: too little activity", "No coaching this month"]
    assert "too little activity" in found[0].sentence
    assert found[1].reasons == ["No coaching this month"]
    services.log_coaching(by=org.manager_emea, rep_id=org.rep_emea.pk, held_on=timezone.localdate(), topic="activity", minutes=60)
    services.log_coaching(by=org.manager_emea, rep_id=org.rep_dach.pk, held_on=timezone.localdate(), topic="skill", skill="Discovery", minutes=60)
    found = selectors.attention(org.manager_emea)
    assert [(a.rep, a.urgent, a.reasons) for a in found] == [(org.rep_emea, False, ["Diagnosis: too little activity"])]


def test_diagnosis_by_rep_maps_the_metric_rows_to_people(org):
    rows = selectors.diagnosis_by_rep(org.manager_emea)
    # the reps and the manager in scope, each matched back to their user
    assert {org.rep_emea.pk, org.rep_dach.pk} <= set(rows)
    assert org.rep_amer.pk not in rows
    assert all("verdict" in r and r["reason"] for r in rows.values())


def test_week_meetings_for_the_manager(org, emea_cadence):
    slots_ = selectors.week_meetings(org.manager_emea, timezone.localdate())
    kinds = {s.meeting.kind for s in slots_}
    assert {MeetingType.PIPELINE, MeetingType.FORECAST} <= kinds
    assert selectors.week_meetings(org.manager_amer, timezone.localdate()) == []


def test_feed_tokens_regenerate_and_revoke(org):
    record, first = services.regenerate_feed_token(org.rep_emea)
    assert selectors.user_for_token(first) == org.rep_emea
    # only a hash is stored: the database alone does not open anyone's calendar
    assert first not in str(FeedToken.objects.filter(pk=record.pk).values().get())
    assert selectors.user_for_token(record.key_hash) is None
    _, second = services.regenerate_feed_token(org.rep_emea)
    assert second != first and selectors.user_for_token(first) is None
    services.revoke_feed_token(org.rep_emea)
    assert selectors.user_for_token(second) is None


def test_a_team_without_people_gets_a_default_cadence_too(org):
    lonely = make_team("New team", parent=org.teams["emea"])
    cadence = services.create_default_cadence(lonely, by=org.manager_emea)
    assert cadence.meetings.filter(kind=MeetingType.COACHING).count() == 0
    assert cadence.meetings.count() == 5


def test_meetings_of_a_person(org, emea_cadence):
    mine = selectors.meetings_of(org.rep_dach)
    assert {m.kind for m in mine} == set(MeetingType.values)
    assert all(org.rep_dach in m.attendees.all() for m in mine)
