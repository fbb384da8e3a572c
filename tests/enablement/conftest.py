"""A small content library on top of the sample organisation (tests/factories.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from dealpilot.crm.models import ContactRole
from dealpilot.enablement import services
from dealpilot.enablement.models import ContentModule
from tests.factories import add_contact_role, make_contact


@dataclass
class Library:
    value_message: ContentModule  # buying phase, decision makers, manufacturing, downtime challenge
    case_study: ContentModule  # manufacturing case study on downtime, any phase
    awareness: ContentModule  # awareness-phase playbook: must not fit a proposal-stage deal
    retail: ContentModule  # retail only: must not fit a manufacturing deal
    draft: ContentModule  # not published


def make_module(author, title, kind="playbook", status="published", tags=None, **fields) -> ContentModule:
    return services.save_module(author, fields={"title": title, "kind": kind, "status": status, **fields}, tags=tags or {})


@pytest.fixture
def library(org) -> Library:
    author = org.enablement
    deal = org.opportunities["rep_emea"][0]  # "rep_emea open deal", Proposal, Manufacturing
    deal.description = "Operations: unplanned downtime costs 4% of output. Evaluating the platform to address it."
    deal.save()
    dm = make_contact(deal.account, first_name="Dana", last_name="Decider", title="COO")
    add_contact_role(deal, dm, ContactRole.DECISION_MAKER, is_primary=True)
    return Library(
        value_message=make_module(
            author, "Downtime value message for decision makers", kind="value_message",
            summary="What unplanned downtime costs and how fast we stop it",
            body="Quantify the cost of unplanned downtime for the operations leadership.",
            message_template="{decision_maker}, {account} loses output to {challenge}. We cut downtime by 30% within 90 days "
                             "for {amount}.",
            tags={"phase": ["buying"], "buyer_role": ["Decision maker"], "industry": ["Manufacturing"],
                  "challenge": ["unplanned downtime"], "stage": ["Proposal"]}),
        case_study=make_module(
            author, "Plant reliability case study", kind="case_study",
            body="How a manufacturer reduced unplanned downtime and raised output with predictive maintenance.",
            tags={"industry": ["Manufacturing"]}),
        awareness=make_module(author, "Awareness playbook: the cost of doing nothing", body="Downtime and output losses.",
                              tags={"phase": ["awareness"]}),
        retail=make_module(author, "Retail stock-out battle card", kind="battle_card", body="Downtime in stores and output.",
                           tags={"industry": ["Retail"]}),
        draft=make_module(author, "Unfinished draft about downtime", status="draft", body="downtime"),
    )


def pdf_bytes(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawString(72, 720, text)
    c.save()
    return out.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(text: str) -> bytes:
    import pptx

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = text
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()
