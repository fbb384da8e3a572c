"""Alerts as they happen: a scan of what changed since the last scan turns into events (a deal closed
lost, a big deal's close date pushed, a new vulnerability on a deal), and each event reaches the people
who subscribed to it (the bell, and e-mail if they asked) and the team chat channels that want it.

The scan reads the deals changed since it last ran (their `updated_at`, and scores stored since), so it
notices changes made on a page, through the API or by an import alike, and costs nothing when nothing
changed. What it saw of each open deal is kept in DealWatch: the first sight of a deal is a baseline,
never an alert (a first run or a new import does not flood anyone). An event's key names the situation,
so two scans (two workers, or an overlap) make it once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, User
from dealpilot.crm.visibility import team_subtree_ids
from dealpilot.deals.models import WinScore
from dealpilot.today.models import TodaySettings

from . import delivery
from .digests import absolute
from .models import AlertEvent, AlertKind, AlertScan, DealWatch, Delivery, Notification, Subscription, TeamWebhook
from .subscriptions import subscriptions_of, unsubscribe_token

OVERLAP = timedelta(minutes=2)  # a write that committed just after the last scan started is still read
RECENTLY_LOST = timedelta(days=7)  # a deal first seen already lost is news only if it closed this recently
BATCH = 1000


@dataclass
class ScanResult:
    baseline: int = 0  # deals seen for the first time
    changed: int = 0
    events: list[AlertEvent] = field(default_factory=list)
    notified: int = 0
    sent: delivery.Sent = field(default_factory=delivery.Sent)


def big_deal_amount() -> float | None:
    """The leader's amount, else the amount of the deal at the top tenth of open deals."""
    th = TodaySettings.current().thresholds()
    if th.big_deal_amount is not None:
        return th.big_deal_amount
    open_amounts = Opportunity.objects.filter(is_closed=False, amount__isnull=False)
    n = open_amounts.count()
    if not n:
        return None
    value = open_amounts.order_by("-amount").values_list("amount", flat=True)[n // 10]
    return float(value)


def _money(opp: Opportunity) -> str:
    return f"{opp.currency} {float(opp.amount):,.0f}" if opp.amount is not None else "no amount"


def _deal(opp: Opportunity) -> str:
    return f"{opp.name or 'A deal'}" + (f" \u00b7 {opp.account.name}" if opp.account_id else "")


def _closed_lost(opp: Opportunity, now: datetime) -> dict:
    why = opp.lost_reason or "no reason recorded"
    if opp.competitor:
        why += f"; competitor {opp.competitor}"
    return {"key": f"closed_lost:{opp.pk}", "kind": AlertKind.CLOSED_LOST, "title": f"Closed lost: {_deal(opp)}",
            "text": f"{opp.owner or 'Nobody'}'s {_money(opp)} deal closed lost ({why})."}


def _pushed(opp: Opportunity, before, now: datetime) -> dict:
    days = (opp.close_date - before).days
    return {"key": f"big_deal_pushed:{opp.pk}:{before.isoformat()}:{opp.close_date.isoformat()}", "kind": AlertKind.BIG_DEAL_PUSHED,
            "title": f"Close date pushed: {_deal(opp)}",
            "text": f"{opp.owner or 'Nobody'}'s {_money(opp)} deal now closes {opp.close_date:%d %b %Y}, {days} days later "
                    f"than {before:%d %b %Y} (stage {opp.stage})."}


def _vulnerable(opp: Opportunity, score: WinScore, new: list[dict]) -> dict:
    codes = ",".join(sorted(v["code"] for v in new))
    return {"key": f"vulnerability:{opp.pk}:{codes}:{score.scored_at:%Y%m%dT%H%M%S}"[:200], "kind": AlertKind.VULNERABILITY,
            "title": f"New risk on {_deal(opp)}",
            "text": f"New: {'; '.join(v['title'] for v in new)}. Win probability now {score.probability * 100:.0f}%."}


def _baseline(now: datetime) -> int:
    """First run: remember every open deal as it is now, alert nobody."""
    scores = dict(WinScore.objects.values_list("opportunity_id", "vulnerabilities"))
    made = 0
    ids = list(Opportunity.objects.filter(is_closed=False).values_list("id", flat=True).order_by("id"))
    for i in range(0, len(ids), BATCH):
        rows = Opportunity.objects.filter(id__in=ids[i:i + BATCH]).values_list("id", "close_date")
        DealWatch.objects.bulk_create([DealWatch(opportunity_id=pk, close_date=close, seen_at=now,
                                                 vulnerabilities=sorted({v["code"] for v in scores.get(pk, [])}))
                                       for pk, close in rows], ignore_conflicts=True)
        made += len(rows)
    return made


def _scan_batch(ids: list[int], now: datetime, big: float | None) -> list[dict]:
    found: list[dict] = []
    opps = Opportunity.all_objects.filter(id__in=ids).select_related("owner", "account")
    scores = {s.opportunity_id: s for s in WinScore.objects.filter(opportunity_id__in=ids)}
    watches = {w.opportunity_id: w for w in DealWatch.objects.filter(opportunity_id__in=ids)}
    today = timezone.localdate(now)
    gone, changed, new = [], [], []
    for opp in opps:
        w = watches.get(opp.pk)
        if opp.deleted_at is not None or opp.is_closed:
            if (opp.deleted_at is None and not opp.is_won
                    and ((w is not None and not w.is_closed)
                         or (w is None and opp.close_date and opp.close_date >= today - RECENTLY_LOST))):
                found.append({**_closed_lost(opp, now), "opportunity": opp})
            if w is not None:
                gone.append(opp.pk)
            continue
        score = scores.get(opp.pk)
        codes = sorted({v["code"] for v in score.vulnerabilities}) if score else None
        if w is None:
            new.append(DealWatch(opportunity_id=opp.pk, close_date=opp.close_date, seen_at=now, vulnerabilities=codes or []))
            continue
        if (big is not None and opp.amount is not None and float(opp.amount) >= big and w.close_date and opp.close_date
                and opp.close_date > w.close_date):
            found.append({**_pushed(opp, w.close_date, now), "opportunity": opp})
        if score is not None:
            added = [v for v in score.vulnerabilities if v["code"] not in set(w.vulnerabilities)]
            if added:
                found.append({**_vulnerable(opp, score, added), "opportunity": opp})
        w.close_date, w.seen_at = opp.close_date, now
        if codes is not None:
            w.vulnerabilities = codes
        changed.append(w)
    DealWatch.objects.filter(opportunity_id__in=gone).delete()
    DealWatch.objects.bulk_update(changed, ["close_date", "seen_at", "vulnerabilities"])
    DealWatch.objects.bulk_create(new, ignore_conflicts=True)
    return found


def _record(found: list[dict], now: datetime) -> list[AlertEvent]:
    """Make each event once: a key another scan took already is not news."""
    made = []
    taken = set(AlertEvent.objects.filter(key__in=[f["key"] for f in found]).values_list("key", flat=True))
    for f in found:
        if f["key"] in taken:
            continue
        opp = f["opportunity"]
        try:
            with transaction.atomic():
                made.append(AlertEvent.objects.create(key=f["key"], kind=f["kind"], opportunity=opp, title=f["title"][:300],
                                                      text=f["text"], url=f"/opportunities/{opp.pk}/", happened_at=now))
        except IntegrityError:
            continue
        taken.add(f["key"])
    return made


def _visible_ids(user: User, ids: set[int]) -> set[int]:
    return set(Opportunity.all_objects.visible_to(user).filter(id__in=ids).values_list("id", flat=True))


def audience(events: list[AlertEvent], people: list[User], subs: dict[int, Subscription]) -> dict[int, list[User]]:
    """Per event: those of `people` who subscribed to its kind (`subs`, by user id) and may see its deal (the
    owner for their own deal's news; managers and leaders for their teams' deals; nobody is told of their
    own closing)."""
    ids = {e.opportunity_id for e in events if e.opportunity_id}
    owners = dict(Opportunity.all_objects.filter(id__in=ids).values_list("id", "owner_id"))
    out: dict[int, list[User]] = {e.pk: [] for e in events}
    visible: dict[int, set[int]] = {}
    for person in people:
        sub = subs[person.pk]
        kinds = {e.kind for e in events if sub.wants(e.kind)}
        if not kinds:
            continue
        for e in events:
            if e.kind not in kinds or not e.opportunity_id:
                continue
            own = owners.get(e.opportunity_id) == person.pk
            if e.kind == AlertKind.CLOSED_LOST and own:
                continue
            if e.kind == AlertKind.VULNERABILITY and not own:
                continue
            if not own:
                if person.role == Role.REP:
                    continue
                if person.pk not in visible:
                    visible[person.pk] = _visible_ids(person, ids)
                if e.opportunity_id not in visible[person.pk]:
                    continue
            out[e.pk].append(person)
    return out


def slack_payload(event: AlertEvent) -> dict:
    link = absolute(event.url)
    return {"text": f"{event.title}\n{event.text} <{link}|Open in dealpilot>",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{event.title}*\n{event.text}"}},
                       {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in dealpilot"},
                                                         "url": link}]}]}


def teams_payload(event: AlertEvent) -> dict:
    """Microsoft Teams' incoming webhook (MessageCard): a title, the text and a button to the deal."""
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": event.title,
            "themeColor": "B3261E" if event.kind == AlertKind.CLOSED_LOST else "E08A00", "title": event.title,
            "text": event.text, "potentialAction": [{"@type": "OpenUri", "name": "Open in dealpilot",
                                                      "targets": [{"os": "default", "uri": absolute(event.url)}]}]}


def hooks_for(events: list[AlertEvent]) -> dict[int, list[TeamWebhook]]:
    """Per event: the active webhooks of the deal owner's team or of a team above it that want the kind."""
    hooks = list(TeamWebhook.objects.filter(is_active=True))
    if not hooks:
        return {}
    teams = {h.pk: team_subtree_ids(h.team_id) for h in hooks}
    owner_team = dict(Opportunity.all_objects.filter(id__in={e.opportunity_id for e in events})
                      .values_list("id", "owner__team_id"))
    return {e.pk: [h for h in hooks if h.wants(e.kind) and owner_team.get(e.opportunity_id) in teams[h.pk]] for e in events}


def fan_out(events: list[AlertEvent], now: datetime) -> list[str]:
    """The bell for every subscriber; e-mail for those who asked; the team channels. Returns delivery keys."""
    if not events:
        return []
    keys: list[str] = []
    email_on = delivery.email_enabled()
    people = list(User.objects.filter(is_active=True).exclude(role=Role.ENABLEMENT))
    subs = subscriptions_of(people)
    who = audience(events, people, subs)
    hooks = hooks_for(events)
    for e in events:
        readers = who.get(e.pk, [])
        Notification.objects.bulk_create([Notification(user=p, event=e) for p in readers], ignore_conflicts=True)
        for p in readers:
            if email_on and subs[p.pk].alerts_by_email and p.email:
                key = f"alert:{e.key}:email:{p.pk}"[:200]
                unsubscribe = absolute(f"/notifications/unsubscribe/{unsubscribe_token(p, 'alerts')}/")
                text = f"{e.text}\n\nOpen it: {absolute(e.url)}\n\nStop alert e-mails: {unsubscribe}\n"
                if _make(key, channel=Delivery.Channel.EMAIL, kind=e.kind, user=p, event=e, to=p.email,
                         subject=f"dealpilot \u00b7 {e.title}"[:300], body_text=text, payload={"unsubscribe": unsubscribe},
                         next_attempt_at=now):
                    keys.append(key)
        for h in hooks.get(e.pk, []):
            key = f"alert:{e.key}:webhook:{h.pk}"[:200]
            payload = teams_payload(e) if h.flavour == TeamWebhook.Flavour.TEAMS else slack_payload(e)
            if _make(key, channel=Delivery.Channel.WEBHOOK, kind=e.kind, webhook=h, event=e, subject=e.title[:300],
                     payload=payload, next_attempt_at=now):
                keys.append(key)
    return keys


def _make(key: str, **fields) -> bool:
    try:
        with transaction.atomic():
            Delivery.objects.create(key=key, **fields)
    except IntegrityError:
        return False
    return True


def scan(now: datetime | None = None, *, send: bool = True) -> ScanResult:
    """Read what changed since the last scan, record the events, tell the people and channels."""
    now = now or timezone.now()
    result = ScanResult()
    with transaction.atomic():
        state = AlertScan.objects.select_for_update().order_by("id").first() or AlertScan.objects.create()
        since = state.last_run_at
        state.last_run_at = now
        state.save(update_fields=["last_run_at"])
    if since is None:
        result.baseline = _baseline(now)
        return result
    window = since - OVERLAP
    ids = sorted(set(Opportunity.all_objects.filter(updated_at__gt=window).values_list("id", flat=True))
                 | set(WinScore.objects.filter(scored_at__gt=window).values_list("opportunity_id", flat=True)))
    result.changed = len(ids)
    big = big_deal_amount() if ids else None
    found: list[dict] = []
    for i in range(0, len(ids), BATCH):
        found.extend(_scan_batch(ids[i:i + BATCH], now, big))
    result.events = _record(found, now)
    keys = fan_out(result.events, now)
    result.notified = Notification.objects.filter(event__in=result.events).count() if result.events else 0
    if send and keys:
        result.sent = delivery.send_pending(now + timedelta(seconds=1), keys=keys)
    return result
