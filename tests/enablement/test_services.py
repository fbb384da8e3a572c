"""Enablement write paths and reads on a real database: modules, uploads, value messages, the
value-proposition hints, events, every rating rule, analytics, knowledge and its full-text search."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from dealpilot.crm.models import Role
from dealpilot.enablement import selectors, services
from dealpilot.enablement.messages import render_template, template_errors
from dealpilot.enablement.models import (
    ContentEvent,
    ContentModule,
    ContentRating,
    ContentTag,
    EnablementSettings,
    EventKind,
    KnowledgeEntry,
)
from dealpilot.enablement.vptest import hints
from tests.factories import make_opportunity

from .conftest import docx_bytes, pdf_bytes, pptx_bytes

pytestmark = pytest.mark.django_db


# ---- modules -------------------------------------------------------------------------------------


def test_an_author_creates_a_module_with_tags_and_is_credited(org):
    module = services.save_module(org.enablement, fields={"title": " Pricing battle card ", "kind": "battle_card"},
                                  tags={"buyer_role": ["Economic buyer", "champion"], "industry": "Retail, Banking",
                                        "phase": ["buying"]})
    assert module.title == "Pricing battle card" and module.status == "draft" and module.owner == org.enablement
    assert list(module.authors.all()) == [org.enablement]
    tags = sorted(module.tags.values_list("dimension", "value"))
    assert tags == [("buyer_role", "champion"), ("buyer_role", "economic_buyer"), ("industry", "Banking"),
                    ("industry", "Retail"), ("phase", "buying")]
    # co-authors are credited; publishing stamps the time
    services.save_module(org.leader, module=module, fields={"status": "published"}, author_ids=[org.enablement.pk, org.leader.pk])
    module.refresh_from_db()
    assert module.published_at is not None
    assert set(module.authors.all()) == {org.enablement, org.leader}


@pytest.mark.parametrize("role", ["rep_emea", "manager_emea"])
def test_reps_and_managers_do_not_write_content(org, role):
    with pytest.raises(services.NotAllowed):
        services.save_module(org.user(role), fields={"title": "Mine", "kind": "playbook"})
    assert not ContentModule.objects.exists()


def test_bad_input_writes_nothing(org):
    with pytest.raises(ValidationError) as exc:
        services.save_module(org.enablement, fields={"title": "", "kind": "poem", "message_template": "Hi {account.__class__}"},
                             tags={"phase": ["someday"]})
    assert set(exc.value.message_dict) == {"title", "kind", "message_template", "tags"}
    assert not ContentModule.objects.exists() and not ContentTag.objects.exists()


def test_readers_see_published_content_only_and_authors_see_all(org, library):
    rep_sees = set(ContentModule.objects.visible_to(org.rep_emea).values_list("title", flat=True))
    assert library.draft.title not in rep_sees and library.value_message.title in rep_sees
    assert ContentModule.objects.visible_to(org.enablement).count() == 5
    assert selectors.library(org.rep_emea, q="draft").count() == 0
    assert [m.title for m in selectors.library(org.enablement, q="unfinished")] == [library.draft.title]
    assert [m.title for m in selectors.library(org.rep_emea, industry="retail")] == [library.retail.title]
    assert [m.title for m in selectors.library(org.rep_emea, buyer_role="decision_maker")] == [library.value_message.title]


# ---- uploads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,make", [("deck.pdf", pdf_bytes), ("brief.docx", docx_bytes), ("pitch.pptx", pptx_bytes)])
def test_uploaded_files_are_checked_and_their_text_is_searchable(org, name, make):
    module = services.save_module(org.enablement, fields={"title": "With a file", "kind": "case_study", "status": "published"},
                                  upload=(name, make("Predictive maintenance halves turbine downtime")))
    assert module.file_type == name.rsplit(".", 1)[1] and module.file_size > 0
    module.refresh_from_db()  # read by the task (inline in the tests)
    assert module.text_status == "ready" and "turbine downtime" in module.extracted_text
    assert [m.pk for m in selectors.library(org.rep_emea, q="turbine")] == [module.pk]


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("name,data,message", [
    ("script.exe", b"MZ\x90\x00", "Only PDF, DOCX and PPTX"),
    ("fake.pdf", docx_bytes("not a pdf"), "not a PDF"),
    ("fake.docx", pdf_bytes("not word"), "not a Word"),
    ("plain.docx", _zip({"hello.txt": b"hi"}), "not a Word"),
    ("slides.pptx", docx_bytes("a word file"), "not a PowerPoint"),
    ("macro.docx", _zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>", "word/vbaProject.bin": b"\0"}), "macros"),
    ("broken.pdf", b"%PDF-1.4 garbage", "could not be read"),
    ("empty.pdf", b"", "empty"),
])
def test_uploads_that_are_not_what_they_claim_are_refused(org, name, data, message):
    with pytest.raises(ValidationError) as exc:
        services.save_module(org.enablement, fields={"title": "Bad file", "kind": "template"}, upload=(name, data))
    assert message in " ".join(exc.value.messages)
    assert not ContentModule.objects.exists()


def _bomb_docx(unpacked_bytes: int) -> bytes:
    """A real Word package whose document part unpacks to `unpacked_bytes` of XML (it packs ~1000x)."""
    run = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</w:t></w:r></w:p>"
    body = run * (unpacked_bytes // len(run))
    document = (b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
                + body + b"</w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("word/document.xml", document)
    return out.getvalue()


def test_a_docx_that_unpacks_to_far_more_than_it_weighs_is_refused_in_the_request(org):
    """The attack: a ~40 KB .docx unpacking to 34 MB held a web worker 25 s and 700 MB. The check now
    counts the real bytes as they stream (not the zip's declared sizes) and stops at 100x the file."""
    bomb = _bomb_docx(34 * 1024 * 1024)
    assert len(bomb) < 200 * 1024
    with pytest.raises(ValidationError, match="unpacks to too much data"):
        services.save_module(org.enablement, fields={"title": "Bomb", "kind": "template"}, upload=("bomb.docx", bomb))
    assert not ContentModule.objects.exists()


def test_a_zip_whose_headers_lie_about_sizes_is_refused(org):
    bomb = bytearray(_bomb_docx(2 * 1024 * 1024))
    # declare the document part as 100 bytes, in the local header and the central directory
    name = b"word/document.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := bomb.find(signature, start)) != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if bomb[name_at:name_at + len(name)] == name:
                bomb[at + size_at:at + size_at + 4] = (100).to_bytes(4, "little")
            start = at + 4
    with pytest.raises(ValidationError):
        services.save_module(org.enablement, fields={"title": "Liar", "kind": "template"}, upload=("liar.docx", bytes(bomb)))
    assert not ContentModule.objects.exists()


def test_the_text_is_read_by_the_task_worker_not_in_the_request(org, monkeypatch):
    from dealpilot.enablement.tasks import extract_module_text

    queued = []
    monkeypatch.setattr(services, "extract_module_text", type("Queue", (), {"enqueue": staticmethod(lambda *a: queued.append(a))}))
    module = services.save_module(org.enablement, fields={"title": "Study", "kind": "case_study", "status": "published"},
                                  upload=("study.docx", docx_bytes("Grid operators cut outages")))
    module.refresh_from_db()
    assert (module.text_status, module.extracted_text) == ("pending", "")  # nothing read in the request
    assert queued == [(module.pk, module.file.name)]

    assert extract_module_text.call(*queued[0]) == "ready"
    module.refresh_from_db()
    assert module.text_status == "ready" and module.extracted_text == "Grid operators cut outages"
    assert module.version == 1  # derived data: an editor's form stays current


def test_a_file_that_cannot_be_read_says_so_on_the_module(org):
    broken = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document><w:body><w:p>unclosed"})
    module = services.save_module(org.enablement, fields={"title": "Broken", "kind": "template"}, upload=("broken.docx", broken))
    module.refresh_from_db()
    assert (module.text_status, module.text_error) == ("failed", "The Word file could not be read.")


def test_uploads_over_the_size_limit_are_refused(org, monkeypatch):
    from dealpilot.enablement import files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValidationError, match="larger than"):
        files.check_upload("big.pdf", b"%PDF-" + b"0" * 2000)


# ---- value messages and the VP test ---------------------------------------------------------------------


def test_value_message_templates_fill_the_deals_fields_and_never_run_code(org, library):
    deal = org.opportunities["rep_emea"][0]
    text = selectors.module_page(org.rep_emea, library.value_message, opportunity_id=deal.pk).message
    assert text == ("Dana Decider, rep_emea account loses output to unplanned downtime costs 4% of output. We cut downtime by "
                    "30% within 90 days for USD 50,000.")
    assert template_errors("{account.__class__.__mro__}") and template_errors("{0}") and template_errors("{account!r}")
    assert template_errors("{amount:>10}") and template_errors("Hello {") and template_errors("{secret_key}")
    assert render_template("{account.__init__}", {"account": "x"}) == "{account.__init__}"  # returned as written
    assert render_template("Use {{braces}} for {account}", {"account": "Acme"}) == "Use {braces} for Acme"


def test_value_proposition_hints():
    good = {h.key: h for h in hints("Cut month-end close from 12 to 5 days within one quarter.")}
    assert good["measurable"].ok and good["time_bound"].ok and good["memorable"].ok
    assert good["different"].ok is None  # only the author can tell
    vague = {h.key: h for h in hints("We offer a leading platform that brings synergies to your organisation and helps "
                                     "every team work better together across all of its many departments and regions.")}
    assert vague["measurable"].ok is False and vague["time_bound"].ok is False and vague["memorable"].ok is False
    assert "No number" in vague["measurable"].message
    answered = {h.key: h for h in hints("x", {"different": "Only vendor with on-prem and cloud"})}
    assert answered["different"].message == "Answered by the author."


# ---- events ------------------------------------------------------------------------------------------


def test_a_use_is_recorded_only_with_a_deal_the_user_may_see(org, library):
    own = org.opportunities["rep_emea"][0]
    event = services.record_event(org.rep_emea, library.case_study, EventKind.USE, opportunity_id=own.pk)
    assert event.opportunity == own
    with pytest.raises(services.NotVisible):
        services.record_event(org.rep_emea, library.case_study, EventKind.USE, opportunity_id=org.opportunities["rep_amer"][0].pk)
    with pytest.raises(ValidationError):
        services.record_event(org.rep_emea, library.case_study, EventKind.USE)
    with pytest.raises(services.NotVisible):  # a draft does not exist for a rep
        services.record_event(org.rep_emea, library.draft, EventKind.VIEW)
    assert ContentEvent.objects.count() == 1


# ---- ratings: one test per rule ----------------------------------------------------------------------------


def _use(user, module, deal):
    return services.record_event(user, module, EventKind.USE, opportunity_id=deal.pk)


def test_rating_counts_after_a_use_by_an_allowed_role(org, library):
    deal = org.opportunities["rep_emea"][0]
    _use(org.rep_emea, library.case_study, deal)
    services.rate_module(org.rep_emea, library.case_study, stars=4, comment="Customer loved it")
    services.rate_module(org.rep_emea, library.case_study, stars=5)  # re-rating replaces
    assert ContentRating.objects.get().stars == 5
    assert selectors.rating_summary(library.case_study) == {"average": 5.0, "count": 1}


def test_rating_refused_without_a_recorded_use(org, library):
    with pytest.raises(services.NotAllowed, match="Record a use"):
        services.rate_module(org.rep_emea, library.case_study, stars=5)
    assert not ContentRating.objects.exists()


def test_rating_refused_for_roles_not_allowed_to_rate(org, library):
    deal = org.opportunities["rep_emea"][0]
    _use(org.leader, library.case_study, deal)
    with pytest.raises(services.NotAllowed, match="only from sales reps, sales managers"):
        services.rate_module(org.leader, library.case_study, stars=5)
    # the leader configures who may rate
    services.update_settings(org.leader, rating_roles=["rep", "manager", "leader"])
    services.rate_module(org.leader, library.case_study, stars=3)
    assert ContentRating.objects.filter(user=org.leader).exists()


def test_authors_never_rate_their_own_modules(org, library):
    services.update_settings(org.leader, rating_roles=["rep", "manager", "leader", "enablement"])
    deal = org.opportunities["rep_emea"][0]
    services.save_module(org.enablement, module=library.case_study, fields={}, author_ids=[org.enablement.pk, org.leader.pk])
    _use(org.leader, library.case_study, deal)
    with pytest.raises(services.NotAllowed, match="Authors do not rate"):
        services.rate_module(org.leader, library.case_study, stars=5)
    with pytest.raises(services.NotAllowed, match="Authors do not rate"):  # the owner neither
        services.rate_module(org.enablement, library.case_study, stars=5)
    assert not ContentRating.objects.exists()


def test_ratings_that_no_longer_count_are_left_out(org, library):
    deal = org.opportunities["rep_emea"][0]
    _use(org.rep_emea, library.case_study, deal)
    services.rate_module(org.rep_emea, library.case_study, stars=2)
    services.update_settings(org.leader, rating_roles=["manager"])  # reps' ratings stop counting
    assert selectors.rating_summary(library.case_study)["count"] == 0
    services.update_settings(org.leader, rating_roles=["rep", "manager"])
    services.save_module(org.enablement, module=library.case_study, fields={}, author_ids=[org.enablement.pk, org.rep_emea.pk])
    assert selectors.rating_summary(library.case_study)["count"] == 0  # the rater became an author


def test_only_published_content_and_1_to_5_stars(org, library):
    with pytest.raises(services.NotVisible):
        services.rate_module(org.rep_emea, library.draft, stars=5)
    _use(org.rep_emea, library.case_study, org.opportunities["rep_emea"][0])
    for stars in (0, 6, "x"):
        with pytest.raises(ValidationError):
            services.rate_module(org.rep_emea, library.case_study, stars=stars)


# ---- analytics ------------------------------------------------------------------------------------------


def test_analytics_share_rated_usage_vs_outcome_leaderboard_and_stale(org, library):
    won = org.opportunities["rep_emea"][1]
    _use(org.rep_emea, library.case_study, won)
    services.record_event(org.rep_emea, library.case_study, EventKind.VIEW)
    services.rate_module(org.rep_emea, library.case_study, stars=4)
    services.save_module(org.enablement, module=library.awareness, fields={"review_date": dt.date(2020, 1, 1)})

    a = selectors.content_analytics(org.leader)
    assert a["published"] == 4 and a["rated"] == 1 and a["rated_share"] == 0.25
    row = next(r for r in a["rows"] if r.module == library.case_study)
    assert (row.views, row.uses, row.users, row.rating, row.ratings) == (1, 1, 1, 4.0, 1)
    outcome = a["outcome"]
    closed = {o.pk: o for o in org.opportunities["rep_emea"] + org.opportunities["rep_dach"] + org.opportunities["rep_amer"]
              if o.is_closed}
    assert outcome["used"].total == 1 and outcome["used"].wins == 1
    assert outcome["not_used"].total == len(closed) - 1
    assert 0 <= outcome["used"].low <= outcome["used"].high <= 1
    assert outcome["comparable"] is False and "Correlation, not causation" in outcome["caveat"]
    # a rep's outcome counts only their own deals
    assert selectors.usage_vs_outcome(org.rep_dach)["used"].total == 0

    credit = selectors.leaderboard()
    assert credit[0].user == org.enablement and credit[0].modules == 4 and credit[0].uses == 1 and credit[0].deals == 1

    stale = {s["module"]: s for s in selectors.stale_content()}
    assert library.case_study not in stale  # used, no review date passed
    assert stale[library.awareness]["overdue"] and stale[library.awareness]["never_used"]
    assert stale[library.retail]["never_used"] and not stale[library.retail]["overdue"]


def test_win_rate_interval():
    r = selectors.win_rate(3, 10)
    assert r.rate == 0.3 and r.low == pytest.approx(0.1078, abs=1e-3) and r.high == pytest.approx(0.6032, abs=1e-3)
    assert selectors.win_rate(0, 0).rate is None


# ---- knowledge ---------------------------------------------------------------------------------------


def test_knowledge_is_shared_searchable_and_links_deals_only_for_those_who_see_them(org):
    won = org.opportunities["rep_emea"][1]
    entry = services.save_knowledge(org.rep_emea, kind="win_loss", title="Won against the low-cost competitor",
                                    body="The decisive factor was the payback calculation the CFO built with us.",
                                    opportunity_id=won.pk)
    assert entry.outcome == "won" and entry.industry == "Manufacturing" and list(entry.authors.all()) == [org.rep_emea]
    services.save_knowledge(org.manager_amer, kind="best_practice", title="Multi-threading early",
                            body="Meet the economic buyer before the proposal; single-threaded deals stall.")
    hits = selectors.knowledge(org.rep_amer, q="competitors")  # stemming: competitor(s)
    assert [h["entry"] for h in hits] == [entry]
    assert hits[0]["deal"] is None  # rep_amer may not see rep_emea's deal
    assert selectors.knowledge(org.manager_emea, q="payback")[0]["deal"] == won
    assert [h["entry"].title for h in selectors.knowledge(org.rep_emea, q="economic buyer")] == ["Multi-threading early"]
    assert selectors.knowledge(org.rep_emea, q="nonexistentword") == []
    assert selectors.knowledge(org.rep_emea, q='"); DROP TABLE x; --') == []  # user text is never query syntax

    # an edit re-indexes; deleting removes it from the index
    services.save_knowledge(org.rep_emea, entry=entry, kind="win_loss", title=entry.title, body="Reference visit closed it.")
    assert selectors.knowledge(org.rep_emea, q="payback") == []
    assert [h["entry"] for h in selectors.knowledge(org.rep_emea, q="reference visit")] == [entry]
    with pytest.raises(services.NotAllowed):
        services.save_knowledge(org.rep_dach, entry=entry, kind="win_loss", title="Mine now", body="x")
    services.delete_knowledge(org.rep_emea, entry)
    assert selectors.knowledge(org.rep_emea, q="reference") == []


def test_knowledge_about_a_deal_the_writer_may_not_see_is_refused(org):
    with pytest.raises(services.NotVisible):
        services.save_knowledge(org.rep_emea, kind="win_loss", title="Snooping", body="x",
                                opportunity_id=org.opportunities["rep_amer"][1].pk)
    with pytest.raises(ValidationError):
        services.save_knowledge(org.rep_emea, kind="win_loss", title="No deal", body="x")
    assert not KnowledgeEntry.objects.exists()


def test_large_closed_deals_without_an_analysis_prompt_their_owners_and_managers(org):
    services.update_settings(org.leader, large_deal_amount=Decimal("100000"), large_deal_days=90)
    today = timezone.localdate()
    big = make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Big win", amount=250000, status="won",
                           close_date=today - dt.timedelta(days=5))
    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Old big win", amount=250000, status="won",
                     close_date=today - dt.timedelta(days=200))
    make_opportunity(org.rep_dach, org.accounts["rep_dach"], name="Big open", amount=250000)
    assert selectors.large_deals_without_analysis(org.rep_dach) == [big]
    assert selectors.large_deals_without_analysis(org.manager_emea) == [big]
    assert selectors.large_deals_without_analysis(org.rep_emea) == []
    assert selectors.large_deals_without_analysis(org.enablement) == []
    services.save_knowledge(org.rep_dach, kind="win_loss", title="Why we won big", body="Executive sponsor.", opportunity_id=big.pk)
    assert selectors.large_deals_without_analysis(org.rep_dach) == []


def test_settings_are_validated_and_only_for_leaders(org):
    with pytest.raises(services.NotAllowed):
        services.update_settings(org.manager_emea, rating_roles=["manager"])
    with pytest.raises(ValidationError):
        services.update_settings(org.leader, stage_phases={"Proposal": "later"}, rating_roles=["pope"], large_deal_amount="-1")
    settings = EnablementSettings.current()
    assert settings.rating_roles == [Role.REP, Role.MANAGER] and settings.phase_for_stage("Proposal") == "buying"
    services.update_settings(org.leader, stage_phases={" Proposal ": "implementation"})
    assert EnablementSettings.current().phase_for_stage("proposal") == "implementation"
