"""Charts on every page: a Plotly figure drawn by plotly.js (served from the plotly package), its
numbers one click away as a table, and a CSV download of the same rows.

A view builds the figure with plotly (`plotly.graph_objects`) and passes `chart(...)` to the
template, which renders `{% include "web/_chart.html" with chart=... %}`; a page with charts puts
`{% include "web/_chart_scripts.html" %}` in its `head` block. A point whose `customdata` is a
link (a string starting with "/", or a list whose first item is one) opens that page on click.

Every text that comes from the data (a person's, account's or team's name, a title, a period label) goes
into a figure through `plot_text`: plotly.js reads labels, ticks, legends, annotations and hover text as a
small HTML dialect, so an imported name like `<a href="https://evil.example">x</a>` became a live link on
the chart. `chart()` checks the finished figure as well (`defuse_figure`).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from html import escape

import plotly.graph_objects as go

logger = logging.getLogger(__name__)

# One look for every chart: the app's font, no plotly logo, a transparent background.
BASE_LAYOUT = {
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
    "margin": {"l": 56, "r": 16, "t": 24, "b": 48},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"namelength": -1},
}


def plot_text(value):
    """Data text for a Plotly figure, shown as typed: `&`, `<` and `>` escaped, which plotly.js turns back into
    characters when it draws, so no tag in a name (`<a href>`, `<span style>`, `<br>`) is ever markup. Lists
    and tuples are escaped item by item; numbers, dates and None pass unchanged."""
    if isinstance(value, str):
        return escape(value, quote=False)
    if isinstance(value, (list, tuple)):
        return [plot_text(v) for v in value]
    return value


# The markup the app's own hover templates and annotations use; any other tag in a figure's text can only
# have come from data that missed `plot_text`.
_TAG = re.compile(r"<[^<>]*>")
_OWN_MARKUP = {"<b>", "</b>", "<i>", "</i>", "<em>", "</em>", "<sup>", "</sup>", "<sub>", "</sub>", "<br>", "<br/>",
               "<br />", "<extra>", "</extra>"}


def _defused(value, where: str):
    if isinstance(value, str):
        if any(tag.lower() not in _OWN_MARKUP for tag in _TAG.findall(value)):
            logger.warning("Plotly text with markup that did not pass plot_text, escaped as a whole: %s", where)
            return plot_text(value)
        return value
    if isinstance(value, list):
        return [_defused(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _defused(v, f"{where}.{k}") for k, v in value.items()}
    return value


def defuse_figure(figure: dict) -> dict:
    """The figure with every string that holds a tag other than the app's own formatting (`<b>`, `<br>`,
    `<extra>`, ...) escaped as a whole: a name that reached the figure without `plot_text` still shows as
    text, never as a link (and the warning in the log says where)."""
    return _defused(figure, "figure")


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
    return Chart(id=chart_id, figure=defuse_figure(json.loads(fig.to_json())), title=title, columns=columns, rows=table,
                 csv_url=csv_url, height=height)
