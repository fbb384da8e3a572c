"""An account plan out: a one-page PDF (reportlab) and a workbook (XLSX) of its sections."""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from dealpilot.exports import to_xlsx


def _money(value, currency: str) -> str:
    return "—" if value is None else f"{Decimal(value):,.0f} {currency}"


def plan_pdf(d: dict, score: dict) -> bytes:
    """The plan on one A4 page: the content is shrunk to fit the frame rather than spill over."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    plan, sc, c = d["plan"], d["scorecard"], d["completeness"]
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    head = styles["Heading3"].clone("head", fontSize=10, leading=12, spaceBefore=4, spaceAfter=2)

    def p(text: str, style=small):
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)

    story = [Paragraph(escape(plan.title), styles["Title"]),
             p(f"{plan.account.name} · quadrant {score['quadrant']} ({score['treatment']}) · "
               f"{plan.period_start:%d %b %Y} – {plan.period_end:%d %b %Y} · review "
               f"{plan.review_date.strftime('%d %b %Y') if plan.review_date else 'not set'} · completeness {c['percent']}%")]
    if plan.summary:
        story.append(p(plan.summary))
    card = [["Target revenue", "Won", "Pipeline goal", "Open pipeline", "Strategic units penetrated", "Actions overdue"],
            [_money(sc["target_revenue"], sc["currency"]), _money(sc["won_revenue"], sc["currency"]),
             _money(sc["pipeline_goal"], sc["currency"]), _money(sc["open_pipeline"], sc["currency"]),
             f"{sc['strategic_units_penetrated']} / {sc['strategic_units']}", str(sc["actions_overdue"])]]
    table = Table(card)
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 7.5), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
                               ("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
    story += [Spacer(1, 4), table, Paragraph("Plan units", head)]
    rows = [["Unit", "Goals", "Pressures", "Initiatives", "Obstacles"]]
    for u in d["units"]:
        rows.append([p(u.plan_unit.name + (" (strategic)" if u.strategic else "")), p(u.goals), p(u.pressures), p(u.initiatives),
                     p(u.obstacles)])
    if len(rows) > 1:
        units = Table(rows, colWidths=[30 * mm] + [37 * mm] * 4, repeatRows=1)
        units.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, 0), 7.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
        story.append(units)
    else:
        story.append(p("No plan unit chosen."))
    story.append(Paragraph("Research", head))
    for _area, label, notes in d["research"]:
        story.append(p(f"{label}: " + (" · ".join(n.text for n in notes) or "—")))
    story.append(Paragraph("Objectives, strategies and actions", head))
    for o in d["objectives"]:
        target = f" (target {_money(o.target_amount, plan.currency)})" if o.target_amount is not None else ""
        story.append(p(f"{o.get_kind_display()}{' · ' + o.unit.plan_unit.name if o.unit else ''}: {o.title}{target}"))
        for s in o.strategies.all():
            acts = "; ".join(f"{a.title} ({a.owner or 'no owner'}, {a.due_date or 'no date'}, {a.get_status_display()})"
                             for a in s.actions.all())
            story.append(p(f"    – {s.text}" + (f": {acts}" if acts else "")))
    if c["missing"]:
        story.append(Paragraph("Still missing", head))
        story.append(p("; ".join(c["missing"])))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=10 * mm, bottomMargin=10 * mm,
                            title=plan.title)
    doc.build([KeepInFrame(doc.width, doc.height, story, mode="shrink")])
    return buffer.getvalue()


def plan_xlsx(d: dict, score: dict) -> bytes:
    plan, sc, c = d["plan"], d["scorecard"], d["completeness"]
    overview = [{"field": k, "value": v} for k, v in (
        ("Plan", plan.title), ("Account", plan.account.name), ("Quadrant", f"{score['quadrant']}: {score['treatment']}"),
        ("Period start", plan.period_start), ("Period end", plan.period_end), ("Review date", plan.review_date),
        ("Completeness %", c["percent"]), ("Target revenue", sc["target_revenue"]), ("Won", sc["won_revenue"]),
        ("Pipeline goal", sc["pipeline_goal"]), ("Open pipeline", sc["open_pipeline"]), ("Currency", sc["currency"]),
        ("Strategic units", sc["strategic_units"]), ("Strategic units penetrated", sc["strategic_units_penetrated"]),
        ("Actions", sc["actions"]), ("Actions overdue", sc["actions_overdue"]), ("Summary", plan.summary))]
    units = [{"unit": u.plan_unit.name, "strategic": u.strategic, "goals": u.goals, "pressures": u.pressures,
              "initiatives": u.initiatives, "obstacles": u.obstacles} for u in d["units"]]
    actions = []
    for o in d["objectives"]:
        base = {"objective": o.title, "kind": o.get_kind_display(), "unit": o.unit.plan_unit.name if o.unit else "",
                "target": o.target_amount}
        strategies = list(o.strategies.all()) or [None]
        for s in strategies:
            acts = list(s.actions.all()) if s else []
            for a in acts or [None]:
                actions.append({**base, "strategy": s.text if s else "", "action": a.title if a else "",
                                "owner": str(a.owner) if a and a.owner else "", "due": a.due_date if a else None,
                                "status": a.get_status_display() if a else ""})
    research = [{"area": label, "note": n.text, "author": str(n.author or "")} for _a, label, notes in d["research"] for n in notes]
    missing = [{"missing": m} for m in c["missing"]]
    return to_xlsx({"Plan": overview, "Units": units, "Objectives": actions, "Research": research, "Missing": missing},
                   {"Units": ["unit", "strategic", "goals", "pressures", "initiatives", "obstacles"],
                    "Objectives": ["objective", "kind", "unit", "target", "strategy", "action", "owner", "due", "status"],
                    "Research": ["area", "note", "author"], "Missing": ["missing"]})
