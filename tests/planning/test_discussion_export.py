"""The plan's discussion feed (@mentions), history, and the one-page PDF and XLSX exports."""

import base64
import io
import re
import zlib
from datetime import date

import pytest
from django.urls import reverse

from dealpilot.planning import services
from tests.factories import make_plan_unit

from .test_priorities import SEES

pytestmark = pytest.mark.django_db


def pdf_pages_and_text(data: bytes) -> tuple[int, str]:
    """Page count and the text drawn, from reportlab's output (ASCII85 + Flate streams)."""
    pages = len(re.findall(rb"/Type /Page[^s]", data))
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            raw = zlib.decompress(base64.a85decode(stream.strip(), adobe=True))
        except Exception:  # fonts and images
            continue
        text += [m.decode("latin-1") for m in re.findall(rb"\((.*?)\) Tj", raw)]
    return pages, " ".join(text)


@pytest.fixture
def plan(org):
    account = org.accounts["rep_emea"]
    plan = services.create_plan(org.rep_emea, account.pk, title="Growth plan")
    unit = services.add_unit(org.rep_emea, account.pk, make_plan_unit(account, "Operations").pk, strategic=True)
    services.update_unit(org.rep_emea, unit.pk, goals="=1+1 grow", pressures="Costs")
    objective = services.add_objective(org.rep_emea, account.pk, "revenue", "Grow ops", unit_id=unit.pk, target_amount=90000)
    strategy = services.add_strategy(org.rep_emea, objective.pk, "Pilot")
    services.add_action(org.rep_emea, strategy.pk, "Workshop", owner_id=org.rep_emea.pk, due_date=date(2030, 1, 2))
    services.add_research(org.rep_emea, account.pk, "customer", "New COO")
    return plan


def test_comments_mention_people_who_may_see_the_account(client, org, plan):
    account = plan.account
    client.force_login(org.rep_emea)
    text = "Call with @manager_emea and @rep_dach next week; mail me at erik@example.com. @nobody"
    response = client.post(reverse("planning:plan_comment", args=[account.pk]), {"text": text})
    assert response.status_code == 302
    comment = plan.comments.get()
    assert [u.username for u in comment.mentions.all()] == ["manager_emea"]  # rep_dach cannot see the account
    assert client.post(reverse("planning:plan_comment", args=[account.pk]), {"text": "  "}).status_code == 400
    client.force_login(org.manager_emea)
    page = client.get(reverse("planning:priorities"))
    assert [c.pk for c in page.context["mentions"]] == [comment.pk]
    body = client.get(f"/api/planning/accounts/{account.pk}/plan/comments").json()
    assert body[0]["mentions"] == ["manager_emea"] and body[0]["author"] == "Erik Rep"
    response = client.post(f"/api/planning/accounts/{account.pk}/plan/comments", data={"text": "Agreed, @rep_emea."},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()["mentions"] == ["rep_emea"]
    history = client.get(f"/api/planning/accounts/{account.pk}/plan/history").json()
    assert history[-1]["summary"] == "Plan created" and len(history) >= 6


@pytest.mark.parametrize("viewer", sorted(SEES) + ["enablement"])
def test_exports_and_discussion_per_role(client, org, plan, viewer):
    client.force_login(org.user(viewer))
    wanted = 200 if viewer in SEES and "rep_emea" in SEES[viewer] else 404
    account = plan.account
    assert client.get(reverse("planning:plan_export", args=[account.pk, "pdf"])).status_code == wanted
    assert client.get(f"/api/planning/accounts/{account.pk}/plan/comments").status_code == wanted
    response = client.post(reverse("planning:plan_comment", args=[account.pk]), {"text": "hello"})
    assert response.status_code == (302 if wanted == 200 else 404)


def test_pdf_is_one_page_and_xlsx_has_every_section(client, org, plan):
    from openpyxl import load_workbook

    client.force_login(org.rep_emea)
    account = plan.account
    # a long plan still fits on one page
    for i in range(30):
        services.add_research(org.rep_emea, account.pk, "competitor", f"Competitor insight number {i} " * 5)
    response = client.get(reverse("planning:plan_export", args=[account.pk, "pdf"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pages, text = pdf_pages_and_text(response.content)
    assert pages == 1
    assert "Growth plan" in text and "Grow ops" in text and "Workshop" in text

    response = client.get(reverse("planning:plan_export", args=[account.pk, "xlsx"]))
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Plan", "Units", "Objectives", "Research", "Missing"]
    units = [[c.value for c in row] for row in book["Units"].iter_rows()]
    assert units[1][:3] == ["Operations", True, "'=1+1 grow"]  # formula defused
    objectives = [[c.value for c in row] for row in book["Objectives"].iter_rows()]
    assert objectives[1][:6] == ["Grow ops", "Revenue objective", "Operations", 90000, "Pilot", "Workshop"]
    assert client.get(reverse("planning:plan_export", args=[account.pk, "doc"])).status_code == 404
