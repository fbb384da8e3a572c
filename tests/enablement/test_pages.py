"""Enablement pages per role: the library (nav link, filters, drafts for authors), module pages,
the authoring form with an upload, safe downloads, uses and ratings, the suggestions panel on
the opportunity page, analytics, knowledge and settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealpilot.enablement.models import ContentEvent, ContentModule, ContentRating, EnablementSettings, KnowledgeEntry

from .conftest import docx_bytes

pytestmark = pytest.mark.django_db

VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]
AUTHORS = {"leader", "admin", "enablement"}


def test_anonymous_callers_go_to_the_login(client, library):
    for name, args in (("enablement:library", []), ("enablement:module_detail", [library.case_study.pk]),
                       ("enablement:analytics", []), ("enablement:knowledge_list", [])):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_library_per_role(client, org, library, viewer):
    client.force_login(org.user(viewer))
    html = client.get(reverse("enablement:library")).content.decode()
    assert f'href="{reverse("enablement:library")}"' in html and ">Content</a>" in html  # the nav link
    assert library.case_study.title in html
    assert (library.draft.title in html) is (viewer in AUTHORS)
    assert ("New module" in html) is (viewer in AUTHORS)
    response = client.get(reverse("enablement:module_detail", args=[library.draft.pk]))
    assert response.status_code == (200 if viewer in AUTHORS else 404)
    assert client.get(reverse("enablement:module_create")).status_code == (200 if viewer in AUTHORS else 404)
    assert client.get(reverse("enablement:settings")).status_code == (200 if viewer in ("leader", "admin") else 404)
    analytics_ok = viewer in AUTHORS or viewer.startswith("manager")
    assert client.get(reverse("enablement:analytics")).status_code == (200 if analytics_ok else 404)


def test_library_filters_and_search(client, org, library):
    client.force_login(org.rep_emea)
    grid = client.get(reverse("enablement:library")).context["grid"]
    assert grid["rows"] == [("decision_maker", "Decision maker", [("awareness", 0), ("buying", 1), ("implementation", 0)])]  # the one value message: buying, decision makers
    html = client.get(reverse("enablement:library"), {"kind": "value_message", "buyer_role": "decision_maker",
                                                      "phase": "buying"}).content.decode()
    assert library.value_message.title in html and library.case_study.title not in html
    assert 'href="?kind=value_message&amp;buyer_role=decision_maker&amp;phase=buying">1</a>' in client.get(
        reverse("enablement:library")).content.decode()
    html = client.get(reverse("enablement:library"), {"industry": "Retail"}).content.decode()
    assert library.retail.title in html and library.case_study.title not in html
    html = client.get(reverse("enablement:library"), {"q": "reliability"}).content.decode()
    assert library.case_study.title in html and library.retail.title not in html


def test_module_page_records_a_view_and_fills_the_value_message(client, org, library):
    deal = org.opportunities["rep_emea"][0]
    client.force_login(org.rep_emea)
    html = client.get(reverse("enablement:module_detail", args=[library.value_message.pk]), {"opportunity": deal.pk}).content.decode()
    assert "Dana Decider, rep_emea account loses output" in html
    assert "By Eve Enablement" in html
    assert ContentEvent.objects.filter(user=org.rep_emea, kind="view").count() == 1
    # another rep's deal is not filled in (the template is shown as written)
    other = org.opportunities["rep_amer"][0]
    html = client.get(reverse("enablement:module_detail", args=[library.value_message.pk]), {"opportunity": other.pk}).content.decode()
    assert "{decision_maker}" in html and other.name not in html


def test_authoring_with_an_upload_and_a_safe_download(client, org):
    client.force_login(org.enablement)
    upload = docx_bytes("Grid operators cut outage minutes by a third")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("enablement:module_create"), {
        "title": "Grid outage case study", "kind": "case_study", "status": "published", "language": "en",
        "phases": ["implementation"], "buyer_roles": ["user"], "industries": "Energy", "authors": [org.enablement.pk, org.leader.pk],
        "value_proposition": "Cut outage minutes by 30% within two quarters.", "vp_measurable": "Outage minutes",
        "file": SimpleUploadedFile("grid study.docx", upload, content_type="application/octet-stream"),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    module = ContentModule.objects.get()
    assert module.extracted_text.startswith("Grid operators") and module.file_name == "grid_study.docx"
    assert set(module.authors.all()) == {org.enablement, org.leader}
    detail = client.get(response["Location"]).content.decode()
    assert "By Eve Enablement, Lena Leader" in detail or "By Lena Leader, Eve Enablement" in detail
    assert "Names a number and a metric." in detail and "Outage minutes" in detail

    client.force_login(org.rep_amer)
    download = client.get(reverse("enablement:module_download", args=[module.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;") and "grid_study.docx" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert b"".join(download.streaming_content) == upload
    assert ContentEvent.objects.filter(kind="download", user=org.rep_amer).count() == 1


def test_authoring_errors_are_shown_and_nothing_is_written(client, org):
    client.force_login(org.enablement)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(reverse("enablement:module_create"), {
        "title": "Bad", "kind": "template", "status": "draft", "language": "en", "message_template": "Dear {ceo}",
        "file": SimpleUploadedFile("evil.pdf", b"MZ this is an exe"),
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown placeholder {ceo}" in html and "not a PDF" in html
    assert not ContentModule.objects.exists()


def test_an_oversized_upload_is_stopped_while_it_arrives(client, org, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dealpilot.enablement import views

    monkeypatch.setattr(views, "MAX_FILE_BYTES", 50_000)
    client.force_login(org.enablement)
    response = client.post(reverse("enablement:module_create"), {
        "title": "Huge", "kind": "case_study", "status": "draft", "language": "en",
        "file": SimpleUploadedFile("huge.pdf", b"%PDF-" + b"0" * 200_000)})
    assert response.status_code == 400 and "larger than" in response.content.decode()
    assert not ContentModule.objects.exists()


def test_the_authoring_form_checks_csrf(org):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.enablement)
    response = client.post(reverse("enablement:module_create"), {"title": "x", "kind": "template", "status": "draft"})
    assert response.status_code == 403 and not ContentModule.objects.exists()


def test_vp_hints_partial(client, org):
    client.force_login(org.enablement)
    response = client.post(reverse("enablement:vp_hints"), {"value_proposition": "Faster close."}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-question="measurable"' in html and "No number yet" in html and "No period yet" in html
    client.force_login(org.rep_emea)
    assert client.post(reverse("enablement:vp_hints"), {"value_proposition": "x"}).status_code == 404


def test_use_and_rating_through_the_pages(client, org, library):
    deal = org.opportunities["rep_emea"][0]
    client.force_login(org.rep_emea)
    url = reverse("enablement:module_detail", args=[library.case_study.pk])
    html = client.get(url).content.decode()
    assert "Record a use with a customer first" in html and 'data-testid="rate-form"' not in html
    # a use with another rep's deal is a 404 and writes nothing
    foreign = client.post(reverse("enablement:module_event", args=[library.case_study.pk]),
                          {"kind": "use", "opportunity_id": org.opportunities["rep_amer"][0].pk})
    assert foreign.status_code == 404 and not ContentEvent.objects.filter(kind="use").exists()
    client.post(reverse("enablement:module_event", args=[library.case_study.pk]), {"kind": "use", "opportunity_id": deal.pk})
    html = client.get(url).content.decode()
    assert 'data-testid="rate-form"' in html
    client.post(reverse("enablement:module_rate", args=[library.case_study.pk]), {"stars": "4", "comment": "Worked"})
    assert ContentRating.objects.get().stars == 4
    assert "4.0 / 5 from 1 rating that count" in client.get(url).content.decode()
    # the author is refused
    client.force_login(org.enablement)
    html = client.get(url).content.decode()
    assert "Authors do not rate their own content." in html
    client.post(reverse("enablement:module_rate", args=[library.case_study.pk]), {"stars": "5"})
    assert ContentRating.objects.count() == 1
    # the share records an event and stays on the page
    client.force_login(org.rep_emea)
    response = client.post(reverse("enablement:module_event", args=[library.case_study.pk]), {"kind": "share", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == url
    assert ContentEvent.objects.filter(kind="share").count() == 1


@pytest.mark.parametrize("viewer", VIEWERS)
def test_opportunity_page_shows_suggestions_with_reasons(client, org, library, viewer):
    deal = org.opportunities["rep_emea"][0]
    client.force_login(org.user(viewer))
    response = client.get(reverse("crm:opportunity_detail", args=[deal.pk]))
    if deal.pk not in org.visible_opportunity_ids(viewer):
        assert response.status_code == 404
        return
    html = response.content.decode()
    assert 'data-testid="suggested-content"' in html and library.value_message.title in html
    assert "Speaks to the decision maker in the buying group" in html and "By Eve Enablement" in html
    assert library.retail.title not in html


def test_analytics_page(client, org, library):
    client.force_login(org.manager_emea)
    html = client.get(reverse("enablement:analytics")).content.decode()
    assert "Share of content rated" in html and "Correlation, not causation" in html and "Authorship credit" in html
    assert "never used with a customer" in html
    assert 'data-chart="usage-outcome-chart"' in html  # the Plotly chart of win rate by content use, with its numbers


def test_knowledge_pages_and_prompt(client, org):
    from decimal import Decimal

    settings = EnablementSettings.current()
    settings.large_deal_amount = Decimal("15000")
    settings.save()
    won = org.opportunities["rep_emea"][1]  # won, 20,000, closed 10 days ago
    client.force_login(org.rep_emea)
    html = client.get(reverse("enablement:library")).content.decode()
    assert 'data-testid="analysis-prompts"' in html and won.name in html
    form = client.get(reverse("enablement:knowledge_create"), {"opportunity": won.pk}).content.decode()
    assert f"Won: {won.name}" in form
    assert client.get(reverse("enablement:knowledge_create"), {"opportunity": org.opportunities["rep_amer"][1].pk}).status_code == 404
    response = client.post(reverse("enablement:knowledge_create"), {
        "kind": "win_loss", "title": f"Won: {won.name}", "body": "The plant manager championed the pilot.",
        "opportunity": won.pk, "authors": [org.rep_emea.pk]})
    assert response.status_code == 302
    entry = KnowledgeEntry.objects.get()
    assert 'data-testid="analysis-prompts"' not in client.get(reverse("enablement:library")).content.decode()
    client.force_login(org.rep_amer)
    html = client.get(reverse("enablement:knowledge_list"), {"q": "championed"}).content.decode()
    assert entry.title in html and f'href="/opportunities/{won.pk}/"' not in html
    detail = client.get(reverse("enablement:knowledge_detail", args=[entry.pk])).content.decode()
    assert "deal you do not see" in detail
    assert client.get(reverse("enablement:knowledge_edit", args=[entry.pk])).status_code == 404


def test_settings_page(client, org):
    client.force_login(org.leader)
    response = client.post(reverse("enablement:settings"), {
        "stage_phases": "Proposal: implementation\nDiscovery: awareness", "default_phase": "buying",
        "rating_roles": ["rep"], "large_deal_amount": "75000", "large_deal_days": "120"})
    assert response.status_code == 302
    settings = EnablementSettings.current()
    assert settings.stage_phases == {"proposal": "implementation", "discovery": "awareness"}
    assert settings.rating_roles == ["rep"] and settings.large_deal_days == 120
    bad = client.post(reverse("enablement:settings"), {"stage_phases": "Proposal - later", "default_phase": "buying",
                                                      "large_deal_amount": "1", "large_deal_days": "1"})
    assert bad.status_code == 200 and "Line 1" in bad.content.decode()
