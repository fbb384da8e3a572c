"""The cadence pages: who may open which (404 for what is not theirs), and the write flows."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from dealpilot.cadence import services
from dealpilot.cadence.models import CoachingSession, DealNote, Meeting, MeetingType, Occurrence
from dealpilot.cadence.recurrence import occurrence_key, scheduled_starts

VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "enablement", "anonymous"]


def login(client, org, viewer):
    if viewer != "anonymous":
        client.force_login(org.user(viewer))


def past_key(meeting):
    now = timezone.now()
    return occurrence_key(scheduled_starts(meeting, now - timedelta(days=14), now)[-1])


def status_of(response, viewer):
    if viewer == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        return "login"
    return response.status_code


# what each viewer gets on each EMEA page (EMEA's cadence; DACH is below EMEA; rep_dach is in DACH)
READ_EMEA = {"leader": 200, "admin": 200, "manager_emea": 200, "manager_amer": 404, "rep_emea": 200, "rep_dach": 404,
             "enablement": 404, "anonymous": "login"}
EDIT_EMEA = {"leader": 200, "admin": 200, "manager_emea": 200, "manager_amer": 404, "rep_emea": 404, "rep_dach": 404,
             "enablement": 404, "anonymous": "login"}
MANAGERS = {"leader": 200, "admin": 200, "manager_emea": 200, "manager_amer": 200, "rep_emea": 404, "rep_dach": 404,
            "enablement": 404, "anonymous": "login"}
READERS = {"leader": 200, "admin": 200, "manager_emea": 200, "manager_amer": 200, "rep_emea": 200, "rep_dach": 200,
           "enablement": 404, "anonymous": "login"}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_get_pages_per_role(client, org, emea_cadence, viewer):
    login(client, org, viewer)
    team = org.teams["emea"]
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    pages = [
        (reverse("cadence:team", args=[team.pk]), READ_EMEA),
        # rep_dach (DACH, below EMEA) attends EMEA's pipeline meeting: reads it, not the team page
        (reverse("cadence:occurrence", args=[pipeline.pk, past_key(pipeline)]), dict(READ_EMEA, rep_dach=200)),
        (reverse("cadence:meeting_new", args=[team.pk]), EDIT_EMEA),
        (reverse("cadence:meeting_edit", args=[pipeline.pk]), EDIT_EMEA),
        (reverse("cadence:week"), MANAGERS),
        (reverse("cadence:coaching"), MANAGERS),
        (reverse("cadence:adherence"), READERS),
        (reverse("cadence:adherence_csv"), READERS),
        (reverse("cadence:feeds"), READERS),
        (reverse("cadence:adherence") + f"?team={team.pk}", READ_EMEA),
    ]
    for url, expected in pages:
        assert status_of(client.get(url), viewer) == expected[viewer], url
    index = client.get(reverse("cadence:index"))
    expected_index = {"leader": 200, "admin": 200, "manager_emea": 200, "manager_amer": 302, "rep_emea": 302,
                      "rep_dach": 302, "enablement": 404, "anonymous": "login"}
    assert status_of(index, viewer) == expected_index[viewer]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_post_routes_per_role(client, org, emea_cadence, viewer):
    login(client, org, viewer)
    team = org.teams["emea"]
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    key = past_key(pipeline)
    may_edit = EDIT_EMEA[viewer] == 200
    posts = [
        (reverse("cadence:default", args=[team.pk]), {}),
        (reverse("cadence:settings", args=[team.pk]), {"time_zone": "Europe/Berlin", "coaching_target_minutes": 90}),
        (reverse("cadence:occurrence_record", args=[pipeline.pk, key]), {"status": "held", "notes": "ok"}),
        (reverse("cadence:deal_note", args=[pipeline.pk, key]), {"opportunity": org.opportunities["rep_emea"][0].pk, "note": "n"}),
        (reverse("cadence:meeting_drop", args=[emea_cadence.meetings.get(kind=MeetingType.ENABLEMENT).pk]), {}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        if viewer == "anonymous":
            assert status_of(response, viewer) == "login"
        else:
            assert response.status_code == (302 if may_edit else 404), url
    assert Occurrence.objects.filter(status="held").exists() == may_edit
    assert DealNote.objects.exists() == may_edit
    assert Meeting.objects.filter(is_active=False).exists() == may_edit


@pytest.mark.parametrize("viewer", VIEWERS)
def test_feed_token_and_coaching_posts_per_role(client, org, emea_cadence, viewer):
    login(client, org, viewer)
    for name, done in (("cadence:feeds_regenerate", 200), ("cadence:feeds_revoke", 302)):  # made: shown once, on the answer
        expected = "login" if viewer == "anonymous" else (done if READERS[viewer] == 200 else 404)
        assert status_of(client.post(reverse(name)), viewer) == expected
    response = client.post(reverse("cadence:coaching"), {"rep": org.rep_dach.pk, "held_on": timezone.localdate().isoformat(),
                                                         "topic": "activity", "minutes": 30})
    # only a manager of the rep's team (or a leader/admin) logs it; another manager gets the form back with an error
    expected = {"leader": 302, "admin": 302, "manager_emea": 302, "manager_amer": 400, "rep_emea": 404, "rep_dach": 404,
                "enablement": 404, "anonymous": "login"}
    assert status_of(response, viewer) == expected[viewer]
    assert CoachingSession.objects.exists() == (expected[viewer] == 302)
    # GET feed routes never need a login, and never answer without a valid token
    assert client.get(reverse("cadence:feed_person", args=["x" * 43])).status_code == 404


def test_navigation_shows_my_week_to_managers_leaders_and_admins(client, org):
    for viewer, shown in (("manager_emea", True), ("leader", True), ("admin", True), ("rep_emea", False), ("enablement", False)):
        client.force_login(org.user(viewer))
        html = client.get(reverse("crm:opportunity_list")).content.decode()
        assert ('href="/cadence/week/"' in html) == shown, viewer


def test_manager_sets_the_default_cadence_and_the_checklist(client, org):
    client.force_login(org.manager_emea)
    team = org.teams["emea"]
    html = client.get(reverse("cadence:team", args=[team.pk])).content.decode()
    assert "Set the default cadence" in html
    response = client.post(reverse("cadence:default", args=[team.pk]), {"time_zone": "Europe/Berlin"}, follow=True)
    html = response.content.decode()
    assert "Weekly on Monday at 09:00 (Europe/Berlin), 60 min" in html
    assert "1:1 coaching: Dora Rep" in html
    response = client.post(reverse("cadence:settings", args=[team.pk]), {
        "time_zone": "Europe/Berlin", "coaching_target_minutes": 75, "outcome": "Grow new logos by 20%",
        "meetings_to_add": "Weekly pipeline", "meetings_to_drop": "Friday status call", "checklist_done": ["outcome", "drop"],
        "agreed_on": "2026-01-15"})
    assert response.status_code == 302
    team.cadence.refresh_from_db()
    assert (team.cadence.coaching_target_minutes, team.cadence.checklist_done, str(team.cadence.agreed_on)) == (
        75, ["outcome", "drop"], "2026-01-15")
    # a rep of the team reads it, without the forms
    client.force_login(org.rep_emea)
    html = client.get(reverse("cadence:team", args=[team.pk])).content.decode()
    assert "Grow new logos by 20%" in html and "settings-form" not in html and "Add a meeting" not in html


def test_meeting_form_adds_and_rejects_bad_input(client, org, emea_cadence):
    client.force_login(org.manager_emea)
    team = org.teams["emea"]
    data = {"kind": "opportunity_review", "title": "Big deals", "frequency": "quarterly", "weekday": 2, "week_of_month": 1,
            "start_time": "15:00", "duration_minutes": 90, "time_zone": "Europe/Berlin", "starts_on": "2026-01-01",
            "attendees": [org.rep_emea.pk], "reviewed_opportunities": [org.opportunities["rep_emea"][0].pk]}
    assert client.post(reverse("cadence:meeting_new", args=[team.pk]), data).status_code == 302
    m = Meeting.objects.get(title="Big deals")
    assert m.schedule_text == "Quarterly on the first Wednesday at 15:00 (Europe/Berlin), 90 min"
    count = Meeting.objects.count()
    bad = dict(data, title="Bad", attendees=[org.rep_amer.pk])  # not a choice
    assert client.post(reverse("cadence:meeting_new", args=[team.pk]), bad).status_code == 400
    bad = dict(data, title="Bad", reviewed_opportunities=[org.opportunities["rep_amer"][0].pk])
    assert client.post(reverse("cadence:meeting_new", args=[team.pk]), bad).status_code == 400
    bad = dict(data, title="Bad", ends_on="2025-01-01")
    response = client.post(reverse("cadence:meeting_new", args=[team.pk]), bad)
    assert response.status_code == 400 and "cannot end before it starts" in response.content.decode()
    assert Meeting.objects.count() == count
    edit = dict(data, title="Big deals, monthly", frequency="monthly", week_of_month="", day_of_month=5)
    assert client.post(reverse("cadence:meeting_edit", args=[m.pk]), edit).status_code == 302
    m.refresh_from_db()
    assert m.schedule_text == "Monthly on day 5 at 15:00 (Europe/Berlin), 90 min"


def test_occurrence_page_records_the_meeting_and_notes_per_deal(client, org, emea_cadence):
    client.force_login(org.manager_emea)
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    key = past_key(pipeline)
    url = reverse("cadence:occurrence", args=[pipeline.pk, key])
    html = client.get(url).content.decode()
    assert "New opportunities per rep" in html and "Stalled: same as last week" in html
    assert ", 09:00</h1>" in html  # the meeting's own time zone (Berlin), not the server's
    response = client.post(reverse("cadence:occurrence_record", args=[pipeline.pk, key]),
                           {"status": "rescheduled", "new_start": "2026-03-04T10:30", "notes": "Moved for QBR"})
    assert response.status_code == 302
    rec = Occurrence.objects.get()
    assert rec.status == "rescheduled" and rec.notes == "Moved for QBR"
    # the wall-clock time is read in the meeting's time zone (Berlin, UTC+1 in March)
    assert rec.new_start.astimezone(timezone.get_fixed_timezone(0)).strftime("%H:%M") == "09:30"
    # rescheduled without a time: refused, nothing changes
    client.post(reverse("cadence:occurrence_record", args=[pipeline.pk, key]), {"status": "rescheduled", "new_start": ""})
    rec.refresh_from_db()
    assert rec.notes == "Moved for QBR"
    deal = org.opportunities["rep_dach"][0]
    client.post(reverse("cadence:deal_note", args=[pipeline.pk, key]),
                {"opportunity": deal.pk, "note": "Needs an executive sponsor", "decision": "Manager calls the CFO"})
    html = client.get(url).content.decode()
    assert "Needs an executive sponsor" in html and "Manager calls the CFO" in html
    # a bad key or one that is not an occurrence of the rule: 404
    assert client.get(reverse("cadence:occurrence", args=[pipeline.pk, "20200101T000000Z"])).status_code == 404
    assert client.get(reverse("cadence:occurrence", args=[pipeline.pk, "garbage"])).status_code == 404


def test_feeds_page_token_and_ics_responses(client, org, emea_cadence):
    client.force_login(org.rep_emea)
    assert "Make my feed addresses" in client.get(reverse("cadence:feeds")).content.decode()
    made = client.post(reverse("cadence:feeds_regenerate"))
    assert made.status_code == 200 and "shown only this once" in made.content.decode()
    token = re.search(r"/cadence/feed/([\w-]{40,})/me\.ics", made.content.decode()).group(1)
    html = client.get(reverse("cadence:feeds")).content.decode()
    assert token not in html and "/me.ics" not in html  # shown once: only its hash is kept
    assert "You made feed addresses on" in html
    client.logout()  # calendar clients cannot log in
    response = client.get(reverse("cadence:feed_person", args=[token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert client.head(reverse("cadence:feed_person", args=[token])).status_code == 200
    assert client.post(reverse("cadence:feed_person", args=[token])).status_code == 405
    cal = Calendar.from_ical(response.content)
    summaries = {str(e["summary"]) for e in cal.walk("VEVENT")}
    assert "Pipeline meeting (EMEA)" in summaries and "1:1 coaching: Erik Rep (EMEA)" in summaries
    assert "1:1 coaching: Dora Rep (EMEA)" not in summaries  # not an attendee
    team_feed = client.get(reverse("cadence:feed_team", args=[token, org.teams["emea"].pk]))
    assert "1:1 coaching: Dora Rep (EMEA)" in {str(e["summary"]) for e in Calendar.from_ical(team_feed.content).walk("VEVENT")}
    # another team's feed, an unknown token, a revoked token: 404
    assert client.get(reverse("cadence:feed_team", args=[token, org.teams["amer"].pk])).status_code == 404
    assert client.get(reverse("cadence:feed_person", args=["nope"])).status_code == 404
    client.force_login(org.rep_emea)
    client.post(reverse("cadence:feeds_revoke"))
    client.logout()
    assert client.get(reverse("cadence:feed_person", args=[token])).status_code == 404


def test_feed_of_a_deactivated_user_is_gone(client, org, emea_cadence):
    _, token = services.regenerate_feed_token(org.rep_emea)
    org.rep_emea.is_active = False
    org.rep_emea.save()
    assert client.get(reverse("cadence:feed_person", args=[token])).status_code == 404


def test_adherence_page_chart_and_csv(client, org, emea_cadence):
    pipeline = emea_cadence.meetings.get(kind=MeetingType.PIPELINE)
    now = timezone.now()
    when = scheduled_starts(pipeline, now - timedelta(days=14), now)[-1]
    services.record_occurrence(pipeline, when, by=org.manager_emea, status="cancelled")
    client.force_login(org.manager_emea)
    html = client.get(reverse("cadence:adherence")).content.decode()
    assert 'data-chart="cadence-adherence"' in html and "Download CSV" in html
    assert "Cancelled" in html and "Slips" in html
    csv_text = client.get(reverse("cadence:adherence_csv")).content.decode()
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("team,month,scheduled,held,rescheduled,cancelled,not_recorded")
    assert sum(int(r.split(",")[5]) for r in rows) == 1
    assert client.get(reverse("cadence:adherence") + f"?team={org.teams['amer'].pk}").status_code == 404


def test_coaching_page_logs_a_session(client, org, emea_cadence):
    client.force_login(org.manager_emea)
    html = client.get(reverse("cadence:coaching")).content.decode()
    assert "Erik Rep" in html and "Dora Rep" in html and "Andy Rep" not in html
    response = client.post(reverse("cadence:coaching"), {"rep": org.rep_emea.pk, "held_on": timezone.localdate().isoformat(),
                                                         "topic": "skill", "skill": "Discovery questions", "minutes": 40})
    assert response.status_code == 302
    assert CoachingSession.objects.get().skill == "Discovery questions"
    response = client.post(reverse("cadence:coaching"), {"rep": org.rep_amer.pk, "held_on": timezone.localdate().isoformat(),
                                                         "topic": "activity", "minutes": 40})
    assert response.status_code == 400
    response = client.post(reverse("cadence:coaching"), {"rep": org.rep_emea.pk, "held_on": timezone.localdate().isoformat(),
                                                         "topic": "skill", "minutes": 40})
    assert response.status_code == 400 and "names the skill" in response.content.decode()
    assert CoachingSession.objects.count() == 1
    html = client.get(reverse("cadence:coaching")).content.decode()
    assert "40 / 60" in html


def test_week_page_lists_meetings_attention_and_automation(client, org, emea_cadence):
    client.force_login(org.manager_emea)
    html = client.get(reverse("cadence:week")).content.decode()
    assert "Pipeline meeting" in html and "Agenda" in html
    assert "Reps who need attention" in html and "No coaching this month" in html
    assert "Already automated" in html and "Calendar feeds" in html


def test_week_page_lists_the_account_plan_reviews_to_hold(client, org, emea_cadence):
    from datetime import timedelta

    from django.utils import timezone

    from dealpilot.planning.models import AccountPlan

    today = timezone.localdate()
    for key, title, review in (("rep_dach", "Overdue plan", today - timedelta(days=9)), ("rep_amer", "Other team's plan", today)):
        AccountPlan.objects.create(account=org.accounts[key], title=title, period_start=today - timedelta(days=30),
                                   period_end=today + timedelta(days=300), review_date=review)
    client.force_login(org.manager_emea)
    html = client.get(reverse("cadence:week")).content.decode()
    panel = html[html.index('data-testid="plan-reviews"'):]
    panel = panel[:panel.index("</section>")]
    assert "Overdue plan" in panel and "9 days ago" in panel and "step-overdue" in panel
    assert "Other team's plan" not in panel
