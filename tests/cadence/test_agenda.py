"""Agendas written from the data: each section lists what the CRM shows, for the reader's scope."""

from datetime import timedelta

from django.utils import timezone

from dealpilot.cadence import agenda, services
from dealpilot.cadence.models import MeetingType, OccurrenceStatus
from dealpilot.cadence.recurrence import scheduled_starts, slots
from tests.factories import add_contact_role, add_stage_change, make_activity, make_contact, make_opportunity


def slot_on_or_after(meeting, day):
    start = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time()))
    return slots([meeting], start, start + timedelta(days=40), by_actual_start=False)[0]


def sections_by_key(reader, slot):
    return {s.key: s for s in agenda.build_agenda(reader, slot)}


def texts(section):
    return [[c.text if not c.links else ", ".join(t for t, _ in c.links) for c in r.cells] for r in section.rows]


def test_pipeline_agenda_opens_with_new_opportunities_since_the_last_held_meeting(org, emea_cadence):
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    now = timezone.now()
    past = scheduled_starts(pipeline, now - timedelta(days=35), now)
    this = slots([pipeline], past[-1], past[-1] + timedelta(seconds=1), by_actual_start=False)[0]
    day = this.local_start.date()
    # the last *held* one was two meetings back (the one in between was cancelled)
    services.record_occurrence(pipeline, past[-3], by=org.manager_emea, status=OccurrenceStatus.HELD)
    services.record_occurrence(pipeline, past[-2], by=org.manager_emea, status=OccurrenceStatus.CANCELLED)
    since = past[-3].astimezone(this.local_start.tzinfo).date()
    make_opportunity(org.rep_emea, name="Fresh A", created_date=day - timedelta(days=1), amount=1000)
    make_opportunity(org.rep_emea, name="Fresh B", created_date=since, amount=2000)
    make_opportunity(org.rep_emea, name="Too old", created_date=since - timedelta(days=1))
    make_opportunity(org.rep_amer, name="Other team", created_date=day - timedelta(days=1))
    sections = agenda.build_agenda(org.manager_emea, this)
    assert [s.key for s in sections] == ["new", "at_risk", "stalled", "slipped", "pushed_back", "plan_reviews", "diagnosis"]
    new = sections[0]
    assert agenda.agenda_since(org.manager_emea, this) == since
    rows = {r[0]: r for r in texts(new)}
    assert rows["Erik Rep"][1:] == ["2", "USD 3,000", "Fresh B, Fresh A"]
    assert rows["Dora Rep"][1:] == ["0", "\u2014", "No new opportunity"]
    assert "Andy Rep" not in rows
    # a rep reads the same agenda with only their own deals
    rep_rows = {r[0]: r for r in texts(agenda.build_agenda(org.rep_emea, this)[0])}
    assert set(rep_rows) == {"Erik Rep"}


def test_pipeline_agenda_lists_stalled_slipped_and_pushed_back_from_the_meeting_report(org, emea_cadence):
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    this = slot_on_or_after(pipeline, timezone.localdate())
    day = this.local_start.date()
    stalled = make_opportunity(org.rep_dach, name="Quiet deal", created_date=day - timedelta(days=50), close_date=day + timedelta(days=40))
    slipped = make_opportunity(org.rep_dach, name="Slipping deal", created_date=day - timedelta(days=50), close_date=day + timedelta(days=60))
    add_stage_change(slipped, "Qualification", day - timedelta(days=20), probability=20)
    add_stage_change(slipped, "Qualification", day - timedelta(days=3), probability=20)
    slipped.stage_history.filter(changed_at__date=day - timedelta(days=20)).update(close_date=day + timedelta(days=20))
    slipped.stage_history.filter(changed_at__date=day - timedelta(days=3)).update(close_date=day + timedelta(days=60))
    back = make_opportunity(org.rep_emea, name="Backwards deal", created_date=day - timedelta(days=50), stage="Qualification")
    add_stage_change(back, "Proposal", day - timedelta(days=10), probability=60)
    add_stage_change(back, "Qualification", day - timedelta(days=2), probability=20)
    other = make_opportunity(org.rep_amer, name="Other team quiet deal", created_date=day - timedelta(days=50))
    s = sections_by_key(org.manager_emea, this)
    stalled_names = [r[0] for r in texts(s["stalled"])]
    assert "Quiet deal" in stalled_names and "Slipping deal" not in stalled_names
    assert other.name not in stalled_names
    assert [r[0] for r in texts(s["slipped"])] == ["Slipping deal"]
    assert texts(s["slipped"])[0][4] == "close date moved later"
    assert [r[:4] for r in texts(s["pushed_back"])] == [["Backwards deal", "Erik Rep", "Proposal", "Qualification"]]
    # every row names its deal, so the page offers a note on it
    assert s["stalled"].rows[stalled_names.index("Quiet deal")].opportunity_id == stalled.pk
    # the leader, reading the same meeting, sees the same team's deals only
    assert "Other team quiet deal" not in [r[0] for r in texts(sections_by_key(org.leader, this)["stalled"])]


def test_opportunity_review_shows_what_the_crm_says_about_each_deal(org, emea_cadence):
    review = emea_cadence.meetings.get(kind=MeetingType.OPPORTUNITY_REVIEW)
    this = slot_on_or_after(review, timezone.localdate())
    day = this.local_start.date()
    deal = make_opportunity(org.rep_dach, name="Big deal", stage="Proposal", amount=250000, created_date=day - timedelta(days=90))
    add_stage_change(deal, "Qualification", day - timedelta(days=80))
    add_stage_change(deal, "Proposal", day - timedelta(days=30))
    deal.stage_history.filter(stage="Qualification").update(close_date=day + timedelta(days=10))
    deal.stage_history.filter(stage="Proposal").update(close_date=day + timedelta(days=45))
    contact = make_contact(deal.account, owner=org.rep_dach)
    add_contact_role(deal, contact)
    make_activity(org.rep_dach, opportunity=deal, activity_date=day - timedelta(days=4), subject="Demo")
    review.reviewed_opportunities.set([deal])
    section = sections_by_key(org.manager_emea, this)["deals"]
    assert section.columns == ["Opportunity", "Owner", "Amount", "Stage (days in it)", "Close date", "Close date slips",
                               "Last activity", "Buying group", "Next step"]
    (row,) = texts(section)
    assert row[:4] == ["Big deal", "Dora Rep", "USD 250,000", "Proposal (30 d)"]
    assert row[5].startswith("1 (first ")
    assert row[6] == (day - timedelta(days=4)).strftime("%-d %b %Y")
    assert row[7] == "1"
    assert row[8] == "Missing"
    assert section.rows[0].cells[8].flag
    make_activity(org.rep_dach, opportunity=deal, activity_date=day + timedelta(days=3), subject="Negotiation call", kind="call")
    (row,) = texts(sections_by_key(org.manager_emea, this)["deals"])
    assert row[8] == f"{(day + timedelta(days=3)).strftime('%-d %b %Y')}: Negotiation call"
    # another team's manager cannot open this meeting at all; a rep of the team sees only their own deals
    assert texts(sections_by_key(org.rep_emea, this)["deals"]) == []


def test_opportunity_review_without_chosen_deals_takes_the_largest_open_ones(org, emea_cadence):
    review = emea_cadence.meetings.get(kind=MeetingType.OPPORTUNITY_REVIEW)
    this = slot_on_or_after(review, timezone.localdate())
    section = sections_by_key(org.manager_emea, this)["deals"]
    names = [r[0] for r in texts(section)]
    # the open deals of EMEA's people closing within 90 days, largest first
    assert names == ["rep_emea open deal", "rep_dach open deal", "manager_emea own deal"]


def test_account_planning_lists_accounts_with_pipeline_activity_and_contacts(org, emea_cadence):
    planning = emea_cadence.meetings.get(kind=MeetingType.ACCOUNT_PLANNING)
    this = slot_on_or_after(planning, timezone.localdate())
    planning.reviewed_accounts.set([org.accounts["rep_emea"]])
    (row,) = texts(sections_by_key(org.manager_emea, this)["accounts"])
    # rep_emea's open deal (50,000) and the manager's own deal on it (5,000); rep_amer's cross-sell is not EMEA's
    assert row[:4] == ["rep_emea account", "Erik Rep", "2", "USD 55,000"]
    assert row[5] == "1"


def test_forecast_and_coaching_sections(org, emea_cadence):
    forecast = emea_cadence.meetings.get(kind=MeetingType.FORECAST)
    s = sections_by_key(org.manager_emea, slot_on_or_after(forecast, timezone.localdate()))
    assert list(s) == ["forecast", "slipped"]
    assert {r[0] for r in texts(s["forecast"])} <= {"Erik Rep", "Dora Rep", "Emil Manager"}
    one_to_one = emea_cadence.meetings.filter(kind=MeetingType.COACHING, attendees=org.rep_dach).get()
    (row,) = texts(sections_by_key(org.manager_emea, slot_on_or_after(one_to_one, timezone.localdate()))["diagnosis"])
    assert row[0] == "Dora Rep" and row[3] == "0 of 60"


def test_a_section_is_one_line_to_add(org, emea_cadence):
    review = emea_cadence.meetings.get(kind=MeetingType.OPPORTUNITY_REVIEW)
    this = slot_on_or_after(review, timezone.localdate())

    def extra(ctx):
        return agenda.Section("extra", "Vulnerabilities", "rule", ["Deal"], [agenda.Row([agenda.Cell(o.name)], o.pk)
                                                                            for o in agenda.reviewed_deals(ctx)])

    agenda.SECTIONS[MeetingType.OPPORTUNITY_REVIEW].append(extra)
    try:
        assert [s.key for s in agenda.build_agenda(org.manager_emea, this)] == ["deals", "extra"]
    finally:
        agenda.SECTIONS[MeetingType.OPPORTUNITY_REVIEW].remove(extra)


def test_a_one_to_one_lists_the_reps_deals_at_risk_with_probability_change_open_criteria_and_plan_reviews(org, emea_cadence):
    from dealpilot.deals.models import WinScore
    from dealpilot.deals.guided import ensure_default_stages
    from dealpilot.forecasting.models import DealSnapshot, SnapshotWeek
    from dealpilot.forecasting.rollup import week_of
    from dealpilot.planning.models import AccountPlan

    ensure_default_stages()
    today = timezone.localdate()
    late = make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Late renewal", stage="Qualification", amount=90000,
                            close_date=today - timedelta(days=5))
    last_week = week_of(today) - timedelta(days=7)
    SnapshotWeek.objects.create(week=last_week, as_of=last_week, period_start=last_week, period_end=last_week + timedelta(days=90),
                                taken_at=timezone.now())
    DealSnapshot.objects.create(week=last_week, opportunity=late, owner=org.rep_dach, stage=late.stage, category="pipeline", probability=0.6)
    WinScore.objects.create(opportunity=late, probability=0.35, method="rules", scored_at=timezone.now())
    AccountPlan.objects.create(account=org.accounts["rep_dach"], title="Growth plan", period_start=today - timedelta(days=60),
                               period_end=today + timedelta(days=300), review_date=today - timedelta(days=3))
    one_to_one = emea_cadence.meetings.filter(kind=MeetingType.COACHING, attendees=org.rep_dach).get()
    s = sections_by_key(org.manager_emea, slot_on_or_after(one_to_one, today))
    assert list(s) == ["diagnosis", "at_risk", "plan_reviews"]
    rows = texts(s["at_risk"])
    assert rows[0][0] == "Late renewal" and rows[0][3] == "35% (-25)"
    assert all(r[1] == "Dora Rep" for r in rows)  # the 1:1's rep only, not Erik's deals
    assert rows[0][5] != "\u2014"  # qualification's exit criteria are open on a deal nobody qualified
    assert s["at_risk"].rows[0].cells[3].flag
    (review,) = texts(s["plan_reviews"])
    assert review[:3] == ["Growth plan", "rep_dach account", "Dora Rep"]
