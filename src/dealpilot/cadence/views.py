"""The cadence pages. Each view checks access (a team, meeting or page the caller may not use is a
404), calls a service or selector, and renders. The calendar feeds take no login: their secret
token in the URL names the person, and they show only what that person may read."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from dealpilot.crm.models import Account, Opportunity, User
from dealpilot.exports import to_csv
from dealpilot.validation import id_or_none, parse_day

from . import access, selectors, services
from .agenda import agenda_since, build_agenda, noted_opportunities
from .charts import adherence_chart
from .forms import CoachingForm, DealNoteForm, MeetingForm, RecordForm, SettingsForm
from .ics import build_calendar, feed_window
from .models import CoachingTopic, DealNote, MeetingType
from .services import CadenceError


def _readers_only(user) -> None:
    if not access.readable_teams(user).exists():
        raise Http404("No such page")


def _managers_only(user) -> None:
    if not access.is_manager_like(user):
        raise Http404("No such page")


# ---- teams and their cadence ---------------------------------------------------------------------


@login_required
def index(request):
    _readers_only(request.user)
    teams = list(access.readable_teams(request.user).order_by("name"))
    if len(teams) == 1:
        return redirect("cadence:team", team_id=teams[0].pk)
    editable = set(access.editable_teams(request.user).values_list("id", flat=True))
    rows = [{"team": t, "cadence": selectors.cadence_of(t), "editable": t.pk in editable,
             "meetings": len(selectors.team_meetings(t))} for t in teams]
    return render(request, "cadence/index.html", {"rows": rows})


def _meeting_form_choices(user, team):
    people = User.objects.filter(pk__in=list(access.team_members(team).values_list("id", flat=True)) + [user.pk]).order_by(
        "full_name", "username")
    members = access.team_members(team).values("id")
    deals = Opportunity.objects.visible_to(user).filter(owner_id__in=members, is_closed=False).select_related("account").order_by("name")
    accounts = Account.objects.visible_to(user).filter(owner_id__in=members).order_by("name")
    return {"people": people, "deals": deals, "accounts": accounts}


@login_required
def team(request, team_id: int):
    t = access.team_or_404(request.user, team_id)
    cadence = selectors.cadence_of(t)
    editable = access.can_edit(request.user, t)
    meetings = selectors.team_meetings(t)
    settings_form = None
    if editable and cadence:
        settings_form = SettingsForm(initial={
            "time_zone": cadence.time_zone, "coaching_target_minutes": cadence.coaching_target_minutes,
            "outcome": cadence.outcome, "meetings_to_add": cadence.meetings_to_add, "meetings_to_drop": cadence.meetings_to_drop,
            "checklist_done": cadence.checklist_done, "agreed_on": cadence.agreed_on})
    return render(request, "cadence/team.html", {
        "team": t, "cadence": cadence, "editable": editable, "meetings": meetings,
        "dropped": [m for m in selectors.team_meetings(t, active_only=False) if not m.is_active],
        "upcoming": selectors.upcoming(meetings, days=21), "settings_form": settings_form,
        "time_zones": SettingsForm.base_fields["time_zone"].choices,
        "default_time_zone": timezone.get_default_timezone_name(), "today": timezone.localdate(),
    })


@login_required
@require_POST
def default_cadence(request, team_id: int):
    t = access.team_or_404(request.user, team_id, edit=True)
    try:
        starts_on = parse_day(request.POST.get("starts_on"))
    except ValueError as exc:
        messages.error(request, f"The start date: {exc}.")
        return redirect("cadence:team", team_id=t.pk)
    try:
        services.create_default_cadence(t, by=request.user, time_zone=request.POST.get("time_zone") or None,
                                        starts_on=starts_on)
    except CadenceError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "The default cadence is set. Agree it with the team using the checklist.")
    return redirect("cadence:team", team_id=t.pk)


@login_required
@require_POST
def team_settings(request, team_id: int):
    t = access.team_or_404(request.user, team_id, edit=True)
    form = SettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_settings(t, by=request.user, **form.cleaned_data)
        except CadenceError as e:
            messages.error(request, str(e))
        else:
            messages.success(request, "Cadence settings and checklist saved.")
    else:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("cadence:team", team_id=t.pk)


def _meeting_page(request, t, form, meeting=None, status=200):
    return render(request, "cadence/meeting_form.html", {"team": t, "form": form, "meeting": meeting}, status=status)


@login_required
def meeting_new(request, team_id: int):
    t = access.team_or_404(request.user, team_id, edit=True)
    choices = _meeting_form_choices(request.user, t)
    if request.method == "POST":
        form = MeetingForm(request.POST, **choices)
        if form.is_valid():
            try:
                services.add_meeting(t, form.to_input(), by=request.user)
            except CadenceError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"{form.cleaned_data['title']} added to the cadence.")
                return redirect("cadence:team", team_id=t.pk)
        return _meeting_page(request, t, form, status=400)
    cadence = selectors.cadence_of(t)
    kind = request.GET.get("kind") if request.GET.get("kind") in MeetingType.values else MeetingType.PIPELINE
    form = MeetingForm(initial={"kind": kind, "title": MeetingType(kind).label, "frequency": "weekly", "weekday": 0,
                                "start_time": "09:00", "duration_minutes": 60, "starts_on": timezone.localdate(),
                                "time_zone": cadence.time_zone if cadence else timezone.get_default_timezone_name(),
                                "attendees": list(access.team_members(t))}, **choices)
    return _meeting_page(request, t, form)


@login_required
def meeting_edit(request, meeting_id: int):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    t = meeting.cadence.team
    choices = _meeting_form_choices(request.user, t)
    if request.method == "POST":
        form = MeetingForm(request.POST, **choices)
        if form.is_valid():
            try:
                services.update_meeting(meeting, form.to_input(), by=request.user)
            except CadenceError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"{meeting.title} saved.")
                return redirect("cadence:team", team_id=t.pk)
        return _meeting_page(request, t, form, meeting, status=400)
    form = MeetingForm(initial={
        "kind": meeting.kind, "title": meeting.title, "frequency": meeting.frequency, "interval_weeks": meeting.interval_weeks,
        "weekday": meeting.weekday, "week_of_month": meeting.week_of_month, "day_of_month": meeting.day_of_month,
        "start_time": meeting.start_time, "duration_minutes": meeting.duration_minutes, "time_zone": meeting.time_zone,
        "starts_on": meeting.starts_on, "ends_on": meeting.ends_on, "attendees": list(meeting.attendees.all()),
        "reviewed_opportunities": list(meeting.reviewed_opportunities.all()),
        "reviewed_accounts": list(meeting.reviewed_accounts.all())}, **choices)
    return _meeting_page(request, t, form, meeting)


@login_required
@require_POST
def meeting_drop(request, meeting_id: int):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    services.drop_meeting(meeting, by=request.user)
    messages.success(request, f"{meeting.title} dropped from the cadence (its history stays in the adherence report).")
    return redirect("cadence:team", team_id=meeting.cadence.team_id)


# ---- an occurrence: agenda, record, notes --------------------------------------------------------


@login_required
def occurrence(request, meeting_id: int, key: str):
    meeting = selectors.meeting_or_404(request.user, meeting_id)
    slot = selectors.slot_or_404(meeting, key)
    sections = build_agenda(request.user, slot)
    editable = access.can_edit(request.user, meeting.cadence.team)
    record = slot.record
    visible_deals = Opportunity.objects.visible_to(request.user)
    notes = {n.opportunity_id: n for n in DealNote.objects.filter(occurrence=record, opportunity__in=visible_deals)
             .select_related("opportunity", "author")} if record else {}
    noted = noted_opportunities(sections)
    by_id = visible_deals.select_related("owner").in_bulk(noted)
    around = selectors.slots_around(meeting, slot)
    record_form = RecordForm(zone=meeting.time_zone, initial={
        "status": record.status if record else "", "notes": record.notes if record else "",
        "decisions": record.decisions if record else "",
        "new_start": record.new_start.astimezone(slot.local_start.tzinfo).strftime("%Y-%m-%dT%H:%M") if record and record.new_start else ""})
    return render(request, "cadence/occurrence.html", {
        "meeting": meeting, "slot": slot, "sections": sections, "editable": editable, "record_form": record_form,
        "deal_notes": notes, "deal_choices": [by_id[i] for i in noted if i in by_id],
        "since": agenda_since(request.user, slot) if meeting.kind == MeetingType.PIPELINE else None,
        "previous": around[0], "next": around[1],
    })


@login_required
@require_POST
def occurrence_record(request, meeting_id: int, key: str):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    slot = selectors.slot_or_404(meeting, key)
    form = RecordForm(request.POST, zone=meeting.time_zone)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.record_occurrence(meeting, slot.scheduled_start, by=request.user, status=d["status"] or "",
                                       new_start=d["new_start"], notes=d["notes"], decisions=d["decisions"])
        except CadenceError as e:
            messages.error(request, str(e))
        else:
            messages.success(request, "Meeting recorded.")
    else:
        messages.error(request, "; ".join(" ".join(v) for v in form.errors.values()))
    return redirect("cadence:occurrence", meeting_id=meeting.pk, key=slot.key)


@login_required
@require_POST
def deal_note(request, meeting_id: int, key: str):
    meeting = selectors.meeting_or_404(request.user, meeting_id, edit=True)
    slot = selectors.slot_or_404(meeting, key)
    form = DealNoteForm(request.POST)
    if form.is_valid():
        try:
            services.save_deal_note(meeting, slot.scheduled_start, form.cleaned_data["opportunity"], by=request.user,
                                    note=form.cleaned_data["note"], decision=form.cleaned_data["decision"])
        except CadenceError as e:
            messages.error(request, str(e))
        else:
            messages.success(request, "Note saved.")
    else:
        messages.error(request, "The note is incomplete.")
    return redirect(reverse("cadence:occurrence", args=[meeting.pk, slot.key]) + f"#deal-{request.POST.get('opportunity', '')}")


# ---- calendar feeds ------------------------------------------------------------------------------


def _feeds_page(request, raw: str | None = None):
    """The feeds page; the addresses themselves only right after they are made (`raw`): only the
    secret's hash is kept, so they cannot be shown again."""
    token = selectors.feed_token(request.user)
    teams = list(access.readable_teams(request.user).filter(cadence__isnull=False).order_by("name"))
    base = request.build_absolute_uri("/").rstrip("/")
    return render(request, "cadence/feeds.html", {
        "token": token, "teams": teams, "just_made": raw is not None,
        "person_url": base + reverse("cadence:feed_person", args=[raw]) if raw else "",
        "team_urls": [(t, base + reverse("cadence:feed_team", args=[raw, t.pk])) for t in teams] if raw else [],
    })


@login_required
def feeds(request):
    _readers_only(request.user)
    return _feeds_page(request)


@login_required
@require_POST
def feeds_regenerate(request):
    _readers_only(request.user)
    _, raw = services.regenerate_feed_token(request.user)
    messages.success(request, "New feed addresses made; the old ones no longer work. Copy them now: "
                              "they are shown only this once.")
    return _feeds_page(request, raw)


@login_required
@require_POST
def feeds_revoke(request):
    _readers_only(request.user)
    services.revoke_feed_token(request.user)
    messages.success(request, "Feed addresses revoked.")
    return redirect("cadence:feeds")


def _ics(request, name, meetings):
    start, end = feed_window()
    body = build_calendar(name, meetings, start=start, end=end, base_url=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=900"
    response["Content-Disposition"] = 'inline; filename="cadence.ics"'
    return response


@require_safe  # calendar clients may ask with HEAD first
def feed_person(request, token: str):
    user = selectors.user_for_token(token)
    if user is None:
        raise Http404("No such feed")
    return _ics(request, f"dealpilot: {user}", selectors.meetings_of(user))


@require_safe  # calendar clients may ask with HEAD first
def feed_team(request, token: str, team_id: int):
    user = selectors.user_for_token(token)
    if user is None:
        raise Http404("No such feed")
    t = access.team_or_404(user, team_id)
    return _ics(request, f"dealpilot: {t.name} cadence", selectors.team_meetings(t))


# ---- adherence -----------------------------------------------------------------------------------


def _team_filter(request) -> int | None:
    return id_or_none(request.GET.get("team"))  # "²" is a digit to str.isdigit() but not to int(): a 500


@login_required
def adherence(request):
    _readers_only(request.user)
    team_id = _team_filter(request)
    if team_id is not None:
        access.team_or_404(request.user, team_id)
    result = selectors.adherence(request.user, team_id=team_id)
    csv_url = reverse("cadence:adherence_csv") + (f"?team={team_id}" if team_id else "")
    return render(request, "cadence/adherence.html", {
        "result": result, "chart": adherence_chart(result, csv_url=csv_url), "team_id": team_id,
        "teams": access.readable_teams(request.user).filter(cadence__isnull=False).order_by("name"),
        "slips": result.slips[:40],
    })


@login_required
def adherence_csv(request):
    _readers_only(request.user)
    team_id = _team_filter(request)
    if team_id is not None:
        access.team_or_404(request.user, team_id)
    rows = [r.as_dict() for r in selectors.adherence(request.user, team_id=team_id).rows]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cadence-adherence.csv"'
    columns = ["team", "month", "scheduled", "held", "rescheduled", "cancelled", "not_recorded",
               "held_share", "rescheduled_share", "cancelled_share", "not_recorded_share"]
    response.write(to_csv(rows, columns))  # team names are typed by people: no formulas
    return response


# ---- coaching ------------------------------------------------------------------------------------


@login_required
def coaching(request):
    _managers_only(request.user)
    reps = selectors.coachable_reps(request.user)
    deals = Opportunity.objects.visible_to(request.user).filter(owner__in=reps, is_closed=False).select_related("owner").order_by("name")
    status = 200
    if request.method == "POST":
        form = CoachingForm(request.POST, reps=reps, deals=deals)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.log_coaching(by=request.user, rep_id=d["rep"].pk, held_on=d["held_on"], topic=d["topic"],
                                      minutes=d["minutes"], notes=d["notes"], skill=d["skill"],
                                      opportunity_id=d["opportunity"].pk if d["opportunity"] else None)
            except CadenceError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"{d['minutes']} minutes of coaching with {d['rep']} logged.")
                return redirect("cadence:coaching")
        status = 400
    else:
        topic = request.GET.get("topic")
        form = CoachingForm(reps=reps, deals=deals, initial={
            "rep": id_or_none(request.GET.get("rep")),
            "topic": topic if topic in CoachingTopic.values else CoachingTopic.DEAL})
    minutes = selectors.coaching_minutes(request.user)
    months = [m.month for m in next(iter(minutes.values()))] if minutes else []
    return render(request, "cadence/coaching.html", {
        "form": form, "attention": selectors.attention(request.user), "minutes": minutes.values(),
        "months": months, "sessions": selectors.coaching_sessions(request.user, limit=30),
    }, status=status)


# ---- the manager's week --------------------------------------------------------------------------


def plan_reviews_this_week(user, today, last) -> list:
    """The account plan reviews to hold by the end of the week, the overdue ones first (guidance.work, as on Today)."""
    from dealpilot.guidance.items import Thresholds
    from dealpilot.guidance.work import plan_review_items

    return sorted(plan_review_items(user, today, Thresholds(plan_review_days=(last - today).days)), key=lambda i: i.due)


@login_required
def week(request):
    _managers_only(request.user)
    today = timezone.localdate()
    start, end = selectors.week_bounds(today)
    teams = access.editable_teams(request.user).order_by("name")
    return render(request, "cadence/week.html", {
        "slots": selectors.week_meetings(request.user, today), "week_start": start.date(),
        "week_end": (end - timedelta(days=1)).date(), "attention": selectors.attention(request.user),
        "plan_reviews": plan_reviews_this_week(request.user, today, (end - timedelta(days=1)).date()),
        "teams_without_cadence": [t for t in teams if selectors.cadence_of(t) is None][:10],
        "token": selectors.feed_token(request.user),
    })
