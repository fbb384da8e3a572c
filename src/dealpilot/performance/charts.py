"""The team dashboard's Plotly figures, built from the metric rows (`web.charts.chart` wraps each with
its numbers and CSV link). Presentation only: every number comes from the rows passed in. Every text from
the rows (names of people and teams, periods, weeks) goes in through `plot_text` (shown as typed, never as
markup)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dealpilot.web.charts import plot_text as t

from . import diagnosis as dx
from .levers import LEVERS
from .selectors import HEALTHY_COVERAGE, LEVER_LABELS

BLUE, GREEN, RED, AMBER, PURPLE, GREY = "#1d4ed8", "#15803d", "#b91c1c", "#d97706", "#7c3aed", "#94a3b8"
PALETTE = ["#1d4ed8", "#0891b2", "#7c3aed", "#db2777", "#ea580c", "#65a30d", "#0f766e", "#9333ea", "#ca8a04", "#475569"]
VERDICT_COLOURS = {dx.PRODUCING: BLUE, dx.ON_TRACK: GREEN, dx.LOW_ACTIVITY: AMBER, dx.LOW_EFFECTIVENESS: PURPLE, dx.BOTH: RED,
                   dx.NOT_JUDGED: GREY}
MONEY_AXIS = {"tickprefix": "", "separatethousands": True, "tickformat": ",.0f"}
LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}


def _series(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["group"], []).append(r)
    return out


def velocity_trend(velocity: list[dict]) -> go.Figure:
    fig = go.Figure()
    for i, (group, rows) in enumerate(_series(velocity).items()):
        fig.add_trace(go.Scatter(
            x=t([r["period"] for r in rows]), y=[r["velocity"] for r in rows], name=t(group), mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)], "width": 3 if group == "all" else 2}, marker={"size": 7},
            hovertemplate="%{x}: %{y:,.0f} a day<extra>%{fullData.name}</extra>"))
    fig.update_layout(showlegend=len(fig.data) > 1, legend=LEGEND_TOP, yaxis={"title": "money per day", **MONEY_AXIS, "rangemode": "tozero"},
                      xaxis={"type": "category"})
    return fig


def lever_trends(velocity: list[dict]) -> go.Figure:
    """The four levers per period, one small chart each."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=[LEVER_LABELS[k] for k in LEVERS], vertical_spacing=0.2,
                        horizontal_spacing=0.12)
    formats = {"opportunities": ",.0f", "avg_deal_value": ",.0f", "win_rate": ".0%", "cycle_days": ",.0f"}
    for i, (group, rows) in enumerate(_series(velocity).items()):
        for j, lever in enumerate(LEVERS):
            fig.add_trace(go.Scatter(
                x=t([r["period"] for r in rows]), y=[r[lever] for r in rows], name=t(group), legendgroup=t(group),
                showlegend=j == 0, mode="lines+markers", line={"color": PALETTE[i % len(PALETTE)], "width": 2},
                marker={"size": 5}, hovertemplate=f"%{{x}}: %{{y:{formats[lever]}}}<extra>{t(group)}</extra>"),
                row=j // 2 + 1, col=j % 2 + 1)
            fig.update_yaxes(tickformat=formats[lever], rangemode="tozero", row=j // 2 + 1, col=j % 2 + 1)
    fig.update_xaxes(type="category", tickangle=0, nticks=5)
    fig.update_annotations(font={"size": 12})
    fig.update_layout(showlegend=len(_series(velocity)) > 1, legend=LEGEND_TOP)
    return fig


def lever_waterfall(row: dict) -> go.Figure:
    """Velocity before, each lever's share of the change (money a day), velocity after."""
    labels = t([row["from_period"]] + [LEVER_LABELS[k] for k in LEVERS] + [row["to_period"]])
    values = [row["velocity_before"]] + [row[f"{k}_money"] for k in LEVERS] + [row["velocity_after"]]
    fig = go.Figure(go.Waterfall(
        x=labels, y=values, measure=["absolute"] + ["relative"] * len(LEVERS) + ["total"],
        text=[f"{v:+,.0f}" if 0 < i <= len(LEVERS) else f"{v:,.0f}" for i, v in enumerate(values)], textposition="outside",
        increasing={"marker": {"color": GREEN}}, decreasing={"marker": {"color": RED}}, totals={"marker": {"color": BLUE}},
        connector={"line": {"color": "#cbd5e1", "dash": "dot"}},
        hovertemplate="%{x}: %{y:,.0f} a day<extra></extra>"))
    top = max(row["velocity_before"], row["velocity_after"]) or 1
    fig.update_layout(showlegend=False, yaxis={"title": "money per day", **MONEY_AXIS, "range": [0, top * 1.35]},
                      xaxis={"type": "category"})
    return fig


def lever_bars(rows: list[dict]) -> go.Figure:
    """Per group: each lever's share of the change of velocity (stacked, positive up, negative down)."""
    fig = go.Figure()
    for i, lever in enumerate(LEVERS):
        fig.add_trace(go.Bar(x=t([r["group"] for r in rows]), y=[r[f"{lever}_money"] for r in rows], name=t(LEVER_LABELS[lever]),
                             marker={"color": PALETTE[i]}, hovertemplate="%{x}: %{y:+,.0f} a day<extra>" + t(LEVER_LABELS[lever]) + "</extra>"))
    fig.add_trace(go.Scatter(x=t([r["group"] for r in rows]), y=[r["velocity_after"] - r["velocity_before"] for r in rows],
                             mode="markers", name="Change", marker={"symbol": "diamond", "size": 10, "color": "#0f172a"},
                             hovertemplate="%{x}: %{y:+,.0f} a day<extra>change</extra>"))
    fig.update_layout(barmode="relative", legend=LEGEND_TOP, yaxis={"title": "change, money per day", **MONEY_AXIS},
                      xaxis={"type": "category"})
    return fig


def creation_heatmap(creation: dict) -> go.Figure:
    """Opportunities created per rep (rows) and ISO week (columns); zero weeks in pale red."""
    weeks = creation["weeks"]
    reps = sorted({r["rep"] for r in creation["rows"]}, reverse=True)  # plotly draws the first row at the bottom
    cell = {(r["rep"], r["week"]): r for r in creation["rows"]}
    z = [[cell[(rep, w)]["created"] for w in weeks] for rep in reps]
    medians = [[cell[(rep, w)]["team_median"] for w in weeks] for rep in reps]
    top = max([max(row) for row in z] + [1])
    fig = go.Figure(go.Heatmap(
        x=t(weeks), y=t(reps), z=z, customdata=medians, zmin=0, zmax=top, xgap=2, ygap=2,
        colorscale=[[0, "#fde2e2"], [0.5 / top, "#fde2e2"], [0.5 / top + 1e-6, "#dbeafe"], [1, "#1e3a8a"]],
        texttemplate="%{z}", textfont={"size": 11}, colorbar={"title": {"text": "created"}, "thickness": 12},
        hovertemplate="%{y}, %{x}: %{z} created (team median %{customdata})<extra></extra>"))
    fig.update_layout(xaxis={"type": "category", "side": "top", "tickangle": -45}, yaxis={"type": "category"},
                      margin={"l": 140, "r": 16, "t": 70, "b": 16})
    return fig


def diagnosis_scatter(rows: list[dict]) -> go.Figure:
    """Activities a week against win rate per rep, coloured by verdict, with the win rate's interval
    and the blind-opportunity band."""
    fig = go.Figure()
    low, high = dx.BLIND_WIN_RATE
    fig.add_hrect(y0=low, y1=high, fillcolor="#fde68a", opacity=0.35, line_width=0, layer="below",
                  annotation_text="blind RFP win rate 10-15%", annotation_position="top left",
                  annotation_font={"size": 11, "color": "#92400e"})
    for verdict, colour in VERDICT_COLOURS.items():
        points = [r for r in rows if r["verdict"] == verdict]
        if not points:
            continue
        fig.add_trace(go.Scatter(
            x=[r["activities_per_week"] for r in points], y=[r["win_rate"] for r in points], mode="markers+text",
            name=t(verdict), text=t([r["rep"] for r in points]), textposition="top center", textfont={"size": 11},
            marker={"color": colour, "size": 13, "line": {"width": 1, "color": "#fff"}},
            error_y={"type": "data", "symmetric": False, "color": colour, "thickness": 1.2, "width": 4,
                     "array": [(r["win_rate_high"] - r["win_rate"]) if r["win_rate"] is not None else None for r in points],
                     "arrayminus": [(r["win_rate"] - r["win_rate_low"]) if r["win_rate"] is not None else None for r in points]},
            customdata=[[r["closed"], r["new_per_week"]] for r in points],
            hovertemplate=("%{text}: %{x:.1f} activities and %{customdata[1]:.1f} new opportunities a week, "
                           "win rate %{y:.0%} on %{customdata[0]} closed<extra>" + t(verdict) + "</extra>")))
    fig.update_layout(legend=LEGEND_TOP, xaxis={"title": "activities a week", "rangemode": "tozero"},
                      yaxis={"title": "win rate", "tickformat": ".0%", "range": [0, 1.05]})
    return fig


def forecast_bars(rows: list[dict]) -> go.Figure:
    """This period per rep: closed won + weighted open, stacked, against the target (a marker)."""
    groups = t([r["group"] for r in rows])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=groups, y=[r["closed_won"] for r in rows], name="Closed won", marker={"color": GREEN},
                         hovertemplate="%{x}: %{y:,.0f} won<extra></extra>"))
    fig.add_trace(go.Bar(x=groups, y=[r["weighted_open"] for r in rows], name="Weighted open", marker={"color": "#93c5fd"},
                         hovertemplate="%{x}: %{y:,.0f} weighted open<extra></extra>"))
    fig.add_trace(go.Scatter(x=groups, y=[r["target"] for r in rows], name="Target", mode="markers",
                             marker={"symbol": "line-ew-open", "size": 34, "color": "#0f172a", "line": {"width": 3, "color": "#0f172a"}},
                             hovertemplate="%{x}: target %{y:,.0f}<extra></extra>"))
    fig.update_layout(barmode="stack", legend=LEGEND_TOP, yaxis={**MONEY_AXIS, "rangemode": "tozero"},
                      xaxis={"type": "category"})
    return fig


def coverage_bars(rows: list[dict]) -> go.Figure:
    """The next periods' pipeline coverage (open pipeline / gap to target) per rep."""
    fig = go.Figure()
    for i, (period, points) in enumerate(sorted(_by(rows, "period").items())):
        fig.add_trace(go.Bar(x=t([r["group"] for r in points]), y=[r["coverage"] for r in points], name=t(period),
                             marker={"color": ["#93c5fd", BLUE, "#1e3a8a"][i % 3]},
                             hovertemplate="%{x}: %{y:.1f}x<extra>" + t(period) + "</extra>"))
    fig.add_hline(y=1, line={"color": RED, "dash": "dot", "width": 1.5}, annotation_text="1x",
                  annotation_position="right", annotation_font={"color": RED, "size": 11})
    fig.add_hline(y=HEALTHY_COVERAGE, line={"color": GREEN, "dash": "dot", "width": 1.5},
                  annotation_text=f"{HEALTHY_COVERAGE:g}x", annotation_position="right",
                  annotation_font={"color": GREEN, "size": 11})
    fig.update_layout(barmode="group", legend=LEGEND_TOP, yaxis={"title": "coverage", "ticksuffix": "x", "rangemode": "tozero"},
                      xaxis={"type": "category"})
    return fig


def pipeline_bars(rows: list[dict]) -> go.Figure:
    """The next periods' open pipeline per rep (when no targets are set there is no coverage)."""
    fig = go.Figure()
    for i, (period, points) in enumerate(sorted(_by(rows, "period").items())):
        fig.add_trace(go.Bar(x=t([r["group"] for r in points]), y=[r["pipeline"] for r in points], name=t(period),
                             marker={"color": ["#93c5fd", BLUE, "#1e3a8a"][i % 3]},
                             hovertemplate="%{x}: %{y:,.0f} open<extra>" + t(period) + "</extra>"))
    fig.update_layout(barmode="group", legend=LEGEND_TOP, yaxis={"title": "open pipeline", **MONEY_AXIS, "rangemode": "tozero"},
                      xaxis={"type": "category"})
    return fig


def _by(rows: list[dict], key: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out
