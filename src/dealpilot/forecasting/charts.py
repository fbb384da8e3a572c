"""The forecast's Plotly figures (wrapped by `web.charts.chart` with their numbers). Presentation only;
every text from the data (people, teams, deals, periods) goes in through `plot_text`."""

from __future__ import annotations

import plotly.graph_objects as go

from dealpilot.web.charts import plot_text as t

BLUE, GREEN, RED, AMBER, GREY, INK = "#1d4ed8", "#15803d", "#b91c1c", "#d97706", "#94a3b8", "#0f172a"
MONEY_AXIS = {"separatethousands": True, "tickformat": ",.0f"}
LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}


def call_rows(forecast) -> list[dict]:
    """One row per line of the chart: the person's total first, then their roll-up rows."""
    units = [(f"{forecast.person} (total)" if forecast.rows else str(forecast.person), forecast.unit, forecast.call)]
    units += [(u.label, u, None if u.is_own_deals else u.call) for u in forecast.rows]
    rows = []
    for label, u, call in units:
        m = u.model
        rows.append({"who": label, "won": round(m.won, 2), "model_p10": m.p10, "model_expected": m.expected,
                     "model_p90": m.p90, "call_commit": float(call.commit) if call else None,
                     "call_best_case": float(call.best_case) if call else None,
                     "stage_weighted": u.stage_weighted, "target": float(u.target) if u.target is not None else None,
                     "open_deals": m.open_deals, "won_deals": m.won_deals})
    return rows


def call_chart(rows: list[dict]) -> go.Figure:
    """Per person (top: the total): won so far, the model's P10-P90 range with its expected value, the call
    (commit and best case), the stage-weighted forecast and the target, on one money axis."""
    who = t([r["who"] for r in rows])[::-1]
    rows = rows[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=who, x=[r["won"] for r in rows], orientation="h", name="Won so far", marker={"color": GREEN},
                         width=0.28, offset=-0.38, hovertemplate="%{y}: %{x:,.0f} won<extra></extra>"))
    fig.add_trace(go.Bar(y=who, x=[r["model_p90"] - r["model_p10"] for r in rows], base=[r["model_p10"] for r in rows],
                         orientation="h", name="Model P10-P90", marker={"color": "rgba(29, 78, 216, 0.22)",
                                                                         "line": {"color": BLUE, "width": 1}},
                         width=0.42, offset=-0.05, customdata=[[r["model_p10"], r["model_p90"], r["open_deals"]] for r in rows],
                         hovertemplate="%{y}: model P10 %{customdata[0]:,.0f} to P90 %{customdata[1]:,.0f} "
                                       "(%{customdata[2]} open deals)<extra></extra>"))
    fig.add_trace(go.Scatter(y=who, x=[r["model_expected"] for r in rows], mode="markers", name="Model expected",
                             marker={"symbol": "line-ns-open", "size": 18, "color": BLUE, "line": {"width": 3, "color": BLUE}},
                             hovertemplate="%{y}: model expects %{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(y=who, x=[r["call_commit"] for r in rows], mode="markers", name="Call: commit",
                             marker={"symbol": "diamond", "size": 13, "color": AMBER, "line": {"width": 1, "color": INK}},
                             hovertemplate="%{y}: commit %{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(y=who, x=[r["call_best_case"] for r in rows], mode="markers", name="Call: best case",
                             marker={"symbol": "diamond-open", "size": 13, "color": AMBER, "line": {"width": 2}},
                             hovertemplate="%{y}: best case %{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(y=who, x=[r["stage_weighted"] for r in rows], mode="markers", name="Stage-weighted",
                             marker={"symbol": "circle-open", "size": 10, "color": GREY, "line": {"width": 2}},
                             hovertemplate="%{y}: stage-weighted %{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(y=who, x=[r["target"] for r in rows], mode="markers", name="Target",
                             marker={"symbol": "line-ns-open", "size": 30, "color": INK, "line": {"width": 3, "color": INK}},
                             hovertemplate="%{y}: target %{x:,.0f}<extra></extra>"))
    fig.update_layout(barmode="overlay", legend=LEGEND_TOP, xaxis={**MONEY_AXIS, "rangemode": "tozero"},
                      yaxis={"type": "category", "automargin": True}, bargap=0.3)
    return fig


def trend_chart(snapshots: list[dict]) -> go.Figure:
    """Week by week: the call in force, the model's expected value with its P10-P90 band, the target."""
    weeks = [s["week"].isoformat() for s in snapshots]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=weeks, y=[s["model_p90"] for s in snapshots], mode="lines", line={"width": 0},
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=weeks, y=[s["model_p10"] for s in snapshots], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor="rgba(29, 78, 216, 0.15)", name="Model P10-P90",
                             hovertemplate="%{x}: P10 %{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=weeks, y=[s["model_expected"] for s in snapshots], mode="lines+markers", name="Model expected",
                             line={"color": BLUE, "width": 2}, hovertemplate="%{x}: model %{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=weeks, y=[s["call_commit"] for s in snapshots], mode="lines+markers", name="Call: commit",
                             line={"color": AMBER, "width": 2}, marker={"symbol": "diamond", "size": 9},
                             hovertemplate="%{x}: commit %{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=weeks, y=[s["won"] for s in snapshots], mode="lines+markers", name="Won so far",
                             line={"color": GREEN, "width": 2}, hovertemplate="%{x}: won %{y:,.0f}<extra></extra>"))
    if any(s["target"] is not None for s in snapshots):
        fig.add_trace(go.Scatter(x=weeks, y=[s["target"] for s in snapshots], mode="lines", name="Target",
                                 line={"color": INK, "dash": "dash", "width": 1.5},
                                 hovertemplate="%{x}: target %{y:,.0f}<extra></extra>"))
    fig.update_layout(legend=LEGEND_TOP, yaxis={**MONEY_AXIS, "rangemode": "tozero"},
                      xaxis={"type": "category", "title": "week of"})
    return fig


def bridge_chart(steps: list[dict]) -> go.Figure:
    """The period's open pipeline from the earlier snapshot to this one: a waterfall of what moved it."""
    measure = ["absolute" if s["kind"] == "start" else "total" if s["kind"] == "end" else "relative" for s in steps]
    fig = go.Figure(go.Waterfall(
        x=t([s["step"] for s in steps]), y=[s["amount"] if s["kind"] != "end" else 0 for s in steps], measure=measure,
        increasing={"marker": {"color": GREEN}}, decreasing={"marker": {"color": RED}}, totals={"marker": {"color": BLUE}},
        connector={"line": {"color": GREY, "width": 1}}, hovertemplate="%{x}: %{y:,.0f}<extra></extra>"))
    fig.update_layout(showlegend=False, yaxis={**MONEY_AXIS, "rangemode": "tozero"}, xaxis={"type": "category"})
    return fig


def counts_chart(counts: list[dict]) -> go.Figure:
    """Without two snapshots: how many deals changed, by kind."""
    fig = go.Figure(go.Bar(x=t([c["what"] for c in counts]), y=[c["deals"] for c in counts], marker={"color": BLUE},
                           hovertemplate="%{x}: %{y} deals<extra></extra>"))
    fig.update_layout(showlegend=False, yaxis={"title": "deals", "rangemode": "tozero"}, xaxis={"type": "category"})
    return fig


def accuracy_chart(rows: list[dict]) -> go.Figure:
    """Per closed period (oldest first): each forecast's error in % of what was won, for one person; 0 is right,
    above it optimistic, below it sandbagged. Markers carry the shape as well as the colour (greyscale)."""
    rows = sorted(rows, key=lambda r: r["period"])
    periods = t([r["period"] for r in rows])
    fig = go.Figure()
    for key, name, colour, symbol in (("call", "Call (commit)", AMBER, "diamond"), ("model", "Model", BLUE, "circle"),
                                      ("stage_weighted", "Stage-weighted", GREY, "square")):
        fig.add_trace(go.Scatter(x=periods, y=[r[f"{key}_error_pct"] for r in rows], mode="lines+markers", name=name,
                                 line={"color": colour, "width": 2}, marker={"symbol": symbol, "size": 9},
                                 hovertemplate="%{x}: " + name + " %{y:+.0f}%<extra></extra>"))
    fig.add_hline(y=0, line={"color": INK, "width": 1})
    fig.update_layout(legend=LEGEND_TOP, yaxis={"title": "error, % of won", "ticksuffix": "%"},
                      xaxis={"type": "category", "title": "period"})
    return fig
