"""The demo organisation's content library, added by `dealpilot demo` after the CRM import.

`seed_demo()` runs at every `dealpilot demo` start, inside a transaction, and is idempotent: it
adds the two enablement authors, the modules (by title), a few win/loss entries and some usage
only when they are missing, and leaves whatever a user changed alone.

The library covers every journey phase and the buyer roles of the demo's buying groups, the
demo's industries and the customer challenges its deal descriptions name, so each open deal
gets suggestions with reasons.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from dealpilot.crm.models import Opportunity, Role, User
from dealpilot.demo import vocabulary as V

from . import services
from .models import ContentEvent, ContentModule, ContentRating, EventKind, KnowledgeEntry

AUTHORS = (  # username, full name
    ("nina.author", "Nina Okafor"),
    ("omar.author", "Omar Lindqvist"),
)
DEMO_NOTE = "demo"

# (title, kind, summary, body, message template, tags, value proposition)
VALUE_MESSAGES = (
    ("The cost of standing still (executive view)", "awareness", ["decision_maker", "economic_buyer", "executive_sponsor"],
     "Context and the impact of doing nothing, for the executive who owns the outcome. No product pitch.",
     "{decision_maker}, teams like yours in {industry} tell us that {challenge} quietly costs more each quarter. "
     "Before talking about any tool: what does it cost {account} if nothing changes this year?",
     "Companies in your industry lose 3-5% of margin a year to the problem you described; we help you size it in two weeks."),
    ("Why now: the change ahead (influencers)", "awareness", ["influencer", "evaluator", "champion"],
     "Help the people who shape the decision describe the change and build a shared vision of success.",
     "{account} is not alone: {challenge} is the most common reason {industry} teams start looking for a new approach. "
     "A shared picture of success, agreed across departments, is the first step.",
     ""),
    ("Proof that it works here (decision makers)", "buying", ["decision_maker", "economic_buyer"],
     "Competitive, product-specific, tied to results and wins: for the final decision.",
     "{decision_maker}, for {amount} {account} gets a proven answer to {challenge}: customers in {industry} reached "
     "payback within 9 months, and we share the risk through milestone-based fees.",
     "Payback within 9 months, with fees tied to the milestones you set."),
    ("Technical confidence (technical buyers and evaluators)", "buying", ["technical_buyer", "evaluator"],
     "Integration, security and effort: remove the technical reasons to wait.",
     "For {opportunity}: connectors for your current systems, a security review pack, and an implementation plan "
     "your IT team can check before {close_date}.",
     "Live on your data within 60 days, without replacing a system."),
    ("What changes for the people who use it", "buying", ["user", "influencer"],
     "For the daily users: less manual work, fewer spreadsheets, clear next steps.",
     "Your team at {account} spends hours on {challenge}. With us the daily routine takes minutes, and the first "
     "workflow is live in 30 days.",
     "Saves each user 4 hours a week from the first month."),
    ("Value delivered, as promised (executive sponsors)", "implementation", ["executive_sponsor", "decision_maker", "economic_buyer"],
     "Implementation and adoption: report the value delivered to the original executive sponsors.",
     "{decision_maker}, here is what {account} set out to achieve with {opportunity}, and what has been delivered so "
     "far against each measure.",
     "A quarterly value report against the business case you approved."),
    ("Adoption check-in for users", "implementation", ["user", "champion"],
     "Keep adoption on track: what is working, what needs help.",
     "Thank you for rolling this out at {account}. Three quick questions help us make sure the team gets the value "
     "you planned.",
     ""),
    ("Expansion conversation (champions)", "implementation", ["champion", "influencer"],
     "After a successful first phase: where else the same value applies.",
     "The first phase at {account} delivered what we promised. Other teams face {challenge} too; shall we look at "
     "where the same approach pays back next?",
     ""),
)

# Case studies: one per industry, tagged with the challenge its first buying unit names.
CASE_INDUSTRIES = ("Manufacturing", "Technology", "Healthcare", "Banking", "Retail", "Transportation", "Energy",
                   "Insurance", "Food & Beverage", "Telecommunications")
CASE_COMPANIES = {"Manufacturing": "a European components maker", "Technology": "a fast-growing software company",
                  "Healthcare": "a regional hospital group", "Banking": "a mid-sized retail bank",
                  "Retail": "a national fashion retailer", "Transportation": "a freight and logistics group",
                  "Energy": "a renewable power producer", "Insurance": "a mutual insurer",
                  "Food & Beverage": "a beverage manufacturer", "Telecommunications": "a mobile operator"}

PLAYBOOK_UNITS = ("Finance", "Operations", "IT", "Sales", "Supply Chain", "Customer Service")

BATTLE_CARDS = (
    ("Battle card: the low-cost competitor", "Win against a cheaper alternative without discounting.",
     "When the buyer compares on price: move the conversation to total cost and time to value. Ask which results the "
     "cheaper option guarantees. Offer shared risk rather than a discount.",
     {"phase": ["buying"], "stage": ["Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"],
      "challenge": ["win rates falling against a new low-cost competitor"], "buyer_role": ["economic_buyer", "decision_maker"]}),
    ("Battle card: staying with the incumbent", "When the customer's safest choice is to change nothing.",
     "Quantify the cost of the status quo; bring a reference from the same industry; propose a low-risk pilot with "
     "clear exit criteria.",
     {"phase": ["buying"], "stage": ["Value Proposition", "Id. Decision Makers", "Perception Analysis"]}),
    ("Battle card: build it in-house", "When IT wants to build it themselves.",
     "Compare the full cost of building and maintaining it for five years with a subscription; show the roadmap they "
     "would have to staff.",
     {"phase": ["buying"], "buyer_role": ["technical_buyer", "evaluator"]}),
)

TEMPLATES = (
    ("Business case template: time to return and shared risk", "A one-page business case the economic buyer can sign.",
     "Sections: the problem in the customer's numbers; the cost of doing nothing; expected return and time to return; "
     "leading indicators to watch in the first 90 days; the risk we share.",
     {"phase": ["buying"], "stage": ["Value Proposition", "Proposal/Price Quote"], "buyer_role": ["economic_buyer", "decision_maker"]}),
    ("Mutual action plan", "The steps both sides agree to reach a decision by the close date.",
     "List every step to a signed agreement and go-live: owners on both sides, dates, and the decision makers who "
     "must be involved. Review it in every call.",
     {"phase": ["buying"], "stage": ["Id. Decision Makers", "Proposal/Price Quote", "Negotiation/Review"]}),
    ("Discovery call guide", "Questions that uncover the challenge, the change it brings and who decides.",
     "Ask about the current situation, the impact of doing nothing, the vision of success, who else is affected and "
     "who decides. Listen for the size of the organisational change.",
     {"phase": ["awareness"], "stage": ["Prospecting", "Qualification", "Needs Analysis"]}),
)

TRAININGS = (
    ("Training: value messaging across the customer's journey", "Awareness, buying, implementation: what to say when.",
     "Awareness: context and the impact of doing nothing, no product pitch. Buying: competitive, product-specific, tied "
     "to results. Implementation: value delivered as promised, reported to the executive sponsors.",
     {}),
    ("Training: multi-threading the buying group", "Deals are lost relying on one champion.",
     "Map the decision maker, influencers and users; after four or five follow-ups with a gatekeeper, ask who decides "
     "and go to the decision maker directly.",
     {"buyer_role": ["gatekeeper", "champion"]}),
)


def seed_demo() -> None:
    from dealpilot.demo.loader import DEMO_PASSWORD

    if not Opportunity.objects.exists():
        return  # nothing to suggest content for
    authors = _authors(DEMO_PASSWORD)
    leader = User.objects.filter(role=Role.LEADER, is_active=True).order_by("pk").first()
    existing = set(ContentModule.objects.values_list("title", flat=True))
    today = timezone.localdate()
    n = 0

    def add(title, kind, summary, body, tags, template="", vp="", co_author=None, review=365):
        nonlocal n
        n += 1
        if title in existing:
            return
        author = authors[n % len(authors)]
        ids = [author.pk] + ([co_author.pk] if co_author else [])
        services.save_module(author, fields={
            "title": title, "kind": kind, "status": "published", "summary": summary, "body": body,
            "message_template": template, "value_proposition": vp,
            "review_date": today + dt.timedelta(days=review)}, tags=tags, author_ids=ids,
            vp_answers=_vp_answers(vp) if vp else None)

    for title, phase, roles, summary, template, vp in VALUE_MESSAGES:
        add(title, "value_message", summary, summary, {"phase": [phase], "buyer_role": roles}, template=template, vp=vp)
    for industry in CASE_INDUSTRIES:
        unit = V.INDUSTRY_UNITS[industry][0]
        challenges = list(V.CHALLENGES[unit])
        company = CASE_COMPANIES[industry]
        add(f"Case study: {industry} – {challenges[0]}", "case_study",
            f"How {company} solved it, with the numbers.",
            f"{company[0].upper()}{company[1:]} faced {challenges[0]} in its {unit} team. After a 60-day pilot it "
            f"rolled out across sites; within two quarters the problem was measurably smaller and the business case "
            f"paid back in under a year. Reference call available.",
            {"industry": [industry], "challenge": challenges, "phase": ["buying", "implementation"]},
            co_author=leader if industry == "Manufacturing" else None, review=-30 if industry == "Telecommunications" else 365)
    for unit in PLAYBOOK_UNITS:
        challenges = list(V.CHALLENGES[unit])
        add(f"Playbook: selling to {unit}", "playbook", f"The {unit} buyer's challenges and how to open the conversation.",
            f"Typical challenges in {unit}: " + "; ".join(challenges) + ". Open with the impact of doing nothing, "
            "agree the measures of success, then map who decides.",
            {"challenge": challenges, "phase": ["awareness", "buying"]})
    for title, summary, body, tags in BATTLE_CARDS:
        add(title, "battle_card", summary, body, tags)
    for title, summary, body, tags in TEMPLATES:
        add(title, "template", summary, body, tags)
    for title, summary, body, tags in TRAININGS:
        add(title, "training", summary, body, tags, review=-10 if "multi-threading" in title else 365)

    _seed_usage(today)
    _seed_knowledge()


def _authors(password: str) -> list[User]:
    out = []
    for username, full_name in AUTHORS:
        user = User.objects.filter(username=username).first()
        if user is None:
            first, last = full_name.split(" ", 1)
            user = User.objects.create(username=username, full_name=full_name, first_name=first, last_name=last,
                                       role=Role.ENABLEMENT, password=make_password(password))
        out.append(user)
    return out


def _vp_answers(vp: str) -> dict:
    return {"different": "Tied to the customer's own measures, with shared risk.",
            "tailored": "Per journey phase and buyer role; filled with the deal's own fields.",
            "defendable": "Reference customers in the same industry."}


def _seed_usage(today) -> None:
    """Some reps used some suggested content on their deals, and rated part of it: enough for the
    analytics to have something honest to say (added once)."""
    if ContentEvent.objects.filter(note=DEMO_NOTE).exists():
        return
    from .suggest import suggest

    deals = list(Opportunity.objects.filter(owner__role=Role.REP).select_related("account", "owner").order_by("pk"))
    events, ratings = [], []
    for i, deal in enumerate(deals[::9]):
        for j, s in enumerate(suggest(deal, limit=2, render_messages=False)):
            events.append(ContentEvent(module_id=s.module_id, user=deal.owner, kind=EventKind.VIEW, opportunity=None, note=DEMO_NOTE))
            if (i + j) % 3 != 2:
                events.append(ContentEvent(module_id=s.module_id, user=deal.owner, kind=EventKind.USE, opportunity=deal,
                                           note=DEMO_NOTE))
                if (i + j) % 4 == 0:
                    ratings.append((s.module_id, deal.owner_id, 3 + (i + j) % 3))
    ContentEvent.objects.bulk_create(events)
    unique = {(m, u): stars for m, u, stars in ratings}  # one rating per person and module
    ContentRating.objects.bulk_create([ContentRating(module_id=m, user_id=u, stars=stars) for (m, u), stars in unique.items()])


def _seed_knowledge() -> None:
    """Win/loss analyses of a few of the largest closed deals, written by their owners (added once)."""
    if KnowledgeEntry.objects.exists():
        return
    closed = Opportunity.objects.filter(is_closed=True, owner__isnull=False, amount__isnull=False).select_related("account", "owner")
    picks = list(closed.filter(is_won=True).order_by("-amount")[:3]) + list(closed.filter(is_won=False).order_by("-amount")[:2])
    for deal in picks:
        challenge = deal.description.split(". ")[0] if deal.description else "the customer's challenge"
        if deal.is_won:
            body = (f"Challenge: {challenge}. We won because the economic buyer signed off a business case in their own "
                    f"numbers, and we met every member of the buying group before the proposal. Repeat: a pilot with "
                    f"clear exit criteria and a reference from the same industry.")
        else:
            body = (f"Challenge: {challenge}. Lost ({deal.lost_reason or 'no reason recorded'}). We relied on one "
                    f"champion and met the decision maker too late; the competitor framed the decision on price. Next "
                    f"time: multi-thread early and quantify the cost of doing nothing.")
        services.save_knowledge(deal.owner, kind="win_loss", title=f"{'Won' if deal.is_won else 'Lost'}: {deal}", body=body,
                                opportunity_id=deal.pk)
    leader = User.objects.filter(role=Role.LEADER).order_by("pk").first()
    if leader:
        services.save_knowledge(leader, kind="best_practice", title="Share risk instead of discounting",
                                body="Buyers expect return quickly and ask how much risk we bear. A business case with "
                                     "time to return, leading indicators and milestone-based fees beats a discount.")
