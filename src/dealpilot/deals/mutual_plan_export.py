"""A deal's mutual action plan out, for the buyer: a PDF (reportlab) and a workbook (XLSX, through
`dealpilot.exports.to_xlsx`, whose cells cannot run as formulas).

Only what both sides agreed goes out: the steps, who owns each, due dates, what is done and what is
late. Nothing internal: no amount, probability, stage, forecast, qualification or internal note."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils import timezone

from dealpilot.exports import to_xlsx

from .models import PlanSide
from .selectors import MutualPlanView, StepView

COLUMNS = ["step", "side", "owner", "due", "status", "done on"]


def _parties(view: MutualPlanView) -> dict[str, str]:
    account = view.opportunity.account
    return {PlanSide.SELLER: "Seller", PlanSide.BUYER: account.name if account else "Buyer"}


def _status(s: StepView) -> str:
    if s.done:
        return f"Done {s.days_late} day{'s' if s.days_late != 1 else ''} late" if s.days_late else "Done"
    if s.overdue:
        return f"Overdue by {s.days_late} day{'s' if s.days_late != 1 else ''}"
    return "Open"


def _summary(view: MutualPlanView) -> list[tuple[str, object]]:
    rows = [("Steps", len(view.steps)), ("Done", view.done), ("Overdue", view.overdue), ("Plan ends", view.end)]
    if view.end_moved_days:
        rows.append(("First agreed end", view.first_end))
        rows.append(("End moved by (days)", view.end_moved_days))
    return rows


def _title(view: MutualPlanView) -> str:
    o = view.opportunity
    return f"Mutual action plan: {o.account.name} · {o}" if o.account else f"Mutual action plan: {o}"


def plan_rows(view: MutualPlanView) -> list[dict]:
    parties = _parties(view)
    return [{"step": s.step.title, "side": parties[s.step.side], "owner": s.step.owner_label, "due": s.step.due_date,
             "status": _status(s), "done on": timezone.localtime(s.step.done_at).date() if s.done else None}
            for s in view.steps]


def plan_xlsx(view: MutualPlanView) -> bytes:
    summary = [{"field": label, "value": value} for label, value in [("Plan", _title(view)), ("As of", view.as_of)] + _summary(view)]
    return to_xlsx({"Mutual plan": plan_rows(view), "Summary": summary}, {"Mutual plan": COLUMNS, "Summary": ["field", "value"]})


def plan_pdf(view: MutualPlanView) -> bytes:
    """The plan on A4 pages (a long plan runs over several, its header row repeated)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8.5, leading=11)

    def p(text, style=small):
        return Paragraph(escape(str(text if text is not None else "—")).replace("\n", "<br/>"), style)

    summary = " · ".join(f"{label}: {value:%d %b %Y}" if hasattr(value, "strftime") else f"{label}: {value}"
                         for label, value in _summary(view) if value is not None)
    story = [Paragraph(escape(_title(view)), styles["Title"]), p(f"As of {view.as_of:%d %b %Y} · {summary}"), Spacer(1, 6)]
    rows = [[p(h.capitalize()) for h in ["#"] + COLUMNS]]
    for i, r in enumerate(plan_rows(view), start=1):
        rows.append([p(i), p(r["step"]), p(r["side"]), p(r["owner"] or "—"), p(f"{r['due']:%d %b %Y}"), p(r["status"]),
                     p(f"{r['done on']:%d %b %Y}" if r["done on"] else "")])
    if len(rows) == 1:
        story.append(p("No steps agreed yet."))
    else:
        table = Table(rows, colWidths=[8 * mm, 62 * mm, 24 * mm, 32 * mm, 20 * mm, 22 * mm, 18 * mm], repeatRows=1)
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
        story.append(table)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=_title(view))
    doc.build(story)
    return buffer.getvalue()
