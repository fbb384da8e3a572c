"""Charts on every page: a Plotly figure drawn by plotly.js (served from the plotly package), its
numbers one click away as a table, and a CSV download of the same rows.

A view builds the figure with plotly (`plotly.graph_objects`) and passes `chart(...)` to the
template, which renders `{% include "web/_chart.html" with chart=... %}`; a page with charts puts
`{% include "web/_chart_scripts.html" %}` in its `head` block. A point whose `customdata` is a
link (a string starting with "/", or a list whose first item is one) opens that page on click.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import plotly.graph_objects as go

# One look for every chart: the app's font, no plotly logo, a transparent background.
BASE_LAYOUT = {
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
    "margin": {"l": 56, "r": 16, "t": 24, "b": 48},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"namelength": -1},
}


@dataclass
class Chart:
    id: str
    figure: dict
    title: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    csv_url: str = ""
    height: int = 380

    @property
    def figure_id(self) -> str:
        return f"{self.id}-figure"


def _cell(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def chart(fig: go.Figure, *, chart_id: str, title: str = "", rows: list[dict] | None = None,
          csv_url: str = "", height: int = 380) -> Chart:
    """A figure ready for `web/_chart.html`; `rows` are the numbers behind it (shown on click)."""
    fig.update_layout(**BASE_LAYOUT, height=height)
    columns: list[str] = []
    for r in rows or ():
        columns.extend(k for k in r if k not in columns)
    table = [[_cell(r.get(c)) for c in columns] for r in rows or ()]
    return Chart(id=chart_id, figure=json.loads(fig.to_json()), title=title, columns=columns, rows=table,
                 csv_url=csv_url, height=height)
