"""The adherence chart: per month, the share of scheduled meetings held as planned, rescheduled,
cancelled and not recorded (stacked), through the shared chart component (numbers and CSV one click
away)."""

from __future__ import annotations

import plotly.graph_objects as go

from dealpilot.web.charts import Chart, chart, plot_text

from .selectors import Adherence

SERIES = [("held", "Held as planned", "#16a34a"), ("rescheduled", "Rescheduled", "#f59e0b"),
          ("cancelled", "Cancelled", "#dc2626"), ("not_recorded", "Not recorded", "#94a3b8")]


def adherence_chart(result: Adherence, *, csv_url: str = "") -> Chart:
    months = sorted({r.month for r in result.rows})
    totals = {m: {k: 0 for k, _, _ in SERIES} for m in months}
    for r in result.rows:
        for k, _, _ in SERIES:
            totals[r.month][k] += getattr(r, k)
    labels = plot_text([m.strftime("%b %Y") for m in months])
    fig = go.Figure()
    for key, label, colour in SERIES:
        counts = [totals[m][key] for m in months]
        scheduled = [sum(totals[m].values()) for m in months]
        shares = [c / s if s else 0 for c, s in zip(counts, scheduled)]
        fig.add_trace(go.Bar(name=plot_text(label), x=labels, y=shares, marker_color=colour, customdata=counts,
                             hovertemplate=f"{plot_text(label)}: %{{y:.0%}} (%{{customdata}} meetings)<extra></extra>"))
    fig.update_layout(barmode="stack", yaxis={"tickformat": ".0%", "range": [0, 1], "title": "Share of scheduled meetings"},
                      legend={"orientation": "h", "y": -0.18})
    return chart(fig, chart_id="cadence-adherence", title="Meetings held as planned, by month",
                 rows=[r.as_dict() for r in result.rows], csv_url=csv_url, height=360)
