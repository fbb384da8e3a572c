"""Names from an import reach the charts as text, never as markup: plotly.js reads labels, ticks, legends,
annotations and hover text as a small HTML dialect, and turned `<a href>` in a contact's last name (people
map) or a user's name (team dashboard) into a live link. Every chart the app builds is built here with such
a name in every text that comes from data, and its figure JSON must hold that name escaped only.
(The same in a real browser: tests/web/test_csp_browser.py.)"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from types import SimpleNamespace

import pytest
from django.urls import reverse

from dealpilot.web.charts import chart, defuse_figure, plot_text

EVIL = '<a href="https://evil.example">x</a><img src=x onerror=alert(1)>'
ESCAPED = '&lt;a href="https://evil.example"&gt;x&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;'
RAW_MARKUP = re.compile(r"<\s*/?\s*(a|img|span|script|svg|iframe)\b", re.IGNORECASE)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def assert_only_escaped(figure: dict, *, evil_count: int = 1) -> None:
    texts = list(strings(figure))
    raw = [t for t in texts if RAW_MARKUP.search(t) or "evil.example\">" in t and "&lt;" not in t]
    assert raw == [], raw
    assert sum(t.count(ESCAPED) for t in texts) >= evil_count  # the name is there, as text


@pytest.fixture
def no_defusing(caplog):
    """The builders escape by themselves: chart()'s safety net must not have had to act."""
    caplog.set_level(logging.WARNING, logger="dealpilot.web.charts")
    yield
    assert [r.getMessage() for r in caplog.get_records("call") if r.name == "dealpilot.web.charts"] == []


def figure_of(fig) -> dict:
    return chart(fig, chart_id="c").figure


# ---- the helper and the net ------------------------------------------------------------------------------


def test_plot_text_escapes_markup_and_leaves_everything_else():
    assert plot_text(EVIL) == ESCAPED
    assert plot_text("AT&T <R&D>") == "AT&amp;T &lt;R&amp;D&gt;"
    assert plot_text(["O'Brien", EVIL, None, 3]) == ["O'Brien", ESCAPED, None, 3]
    assert plot_text(("a", "<b>")) == ["a", "&lt;b&gt;"]
    assert plot_text(None) is None and plot_text(2.5) == 2.5 and plot_text(date(2025, 1, 1)) == date(2025, 1, 1)


def test_the_net_escapes_a_figure_text_that_missed_the_helper_and_keeps_the_apps_own_markup(caplog):
    figure = {"data": [{"text": ["fine", EVIL], "hovertemplate": "<b>%{text}</b><br>%{y}<extra></extra>",
                        "customdata": [["/accounts/1/", 5]]}],
              "layout": {"annotations": [{"text": "<b>A</b>"}, {"text": '<span style="font-size:90px">big</span>'}]}}
    with caplog.at_level(logging.WARNING, logger="dealpilot.web.charts"):
        out = defuse_figure(figure)
    assert out["data"][0]["text"] == ["fine", ESCAPED]
    assert out["data"][0]["hovertemplate"] == "<b>%{text}</b><br>%{y}<extra></extra>"
    assert out["data"][0]["customdata"] == [["/accounts/1/", 5]]
    assert out["layout"]["annotations"] == [{"text": "<b>A</b>"}, {"text": '&lt;span style="font-size:90px"&gt;big&lt;/span&gt;'}]
    assert "figure.data[0].text[1]" in caplog.text and "figure.layout.annotations[1].text" in caplog.text


# ---- every chart of the app, its builder fed a name with markup in every text from data ---------------------


def test_team_dashboard_charts(no_defusing):
    from dealpilot.performance import charts

    period = {"period": "2025-Q1"}
    velocity = [{"group": EVIL, **period, "velocity": 100.0, "opportunities": 3, "avg_deal_value": 10.0, "win_rate": 0.5,
                 "cycle_days": 30.0},
                {"group": "Sofia", **period, "velocity": 90.0, "opportunities": 2, "avg_deal_value": 9.0, "win_rate": 0.4,
                 "cycle_days": 31.0}]
    assert_only_escaped(figure_of(charts.velocity_trend(velocity)))
    assert_only_escaped(figure_of(charts.lever_trends(velocity)), evil_count=5)  # legend + four hover labels

    money = {"opportunities_money": 1.0, "avg_deal_value_money": 2.0, "win_rate_money": -1.0, "cycle_days_money": 0.5}
    assert_only_escaped(figure_of(charts.lever_waterfall({"from_period": EVIL, "to_period": "2025-Q2", "velocity_before": 10.0,
                                                          "velocity_after": 12.5, **money})))
    assert_only_escaped(figure_of(charts.lever_bars([{"group": EVIL, "velocity_before": 10.0, "velocity_after": 12.5, **money}])))

    creation = {"weeks": ["2025-W01", "2025-W02"],
                "rows": [{"rep": EVIL, "week": w, "created": 1, "team_median": 1.0} for w in ("2025-W01", "2025-W02")]}
    assert_only_escaped(figure_of(charts.creation_heatmap(creation)))

    from dealpilot.performance import diagnosis as dx
    assert_only_escaped(figure_of(charts.diagnosis_scatter([
        {"rep": EVIL, "verdict": dx.ON_TRACK, "activities_per_week": 5.0, "win_rate": 0.3, "win_rate_low": 0.2,
         "win_rate_high": 0.4, "closed": 10, "new_per_week": 1.0}])))

    assert_only_escaped(figure_of(charts.forecast_bars([{"group": EVIL, "closed_won": 1.0, "weighted_open": 2.0, "target": 3.0}])))
    assert_only_escaped(figure_of(charts.coverage_bars([{"group": EVIL, "period": "2025-Q2", "coverage": 2.0}])))
    assert_only_escaped(figure_of(charts.pipeline_bars([{"group": EVIL, "period": "2025-Q2", "pipeline": 2.0}])))


def test_priorities_quadrant_chart(no_defusing):
    from dealpilot.planning.views import quadrant_chart

    rows = [{"account": EVIL, "account_id": 1, "quadrant": q, "current_score": 50.0, "future_score": 50.0, "open_pipeline": 10.0}
            for q in ("A", "D")]
    c = quadrant_chart(rows, SimpleNamespace(current_threshold=50.0, future_threshold=50.0))
    assert_only_escaped(c.figure, evil_count=2)
    assert c.figure["data"][0]["customdata"][0][0] == "/planning/accounts/1/"  # links stay links
    assert c.rows[0][0] == EVIL  # the numbers table shows the name as it is (Django escapes it in HTML)


def test_people_map(no_defusing):
    from dealpilot.planning.views import org_chart

    people = [{"id": 1, "reports_to_id": None, "name": f"Olivia {EVIL}", "title": EVIL, "decision_role_label": EVIL,
               "power": "high", "attitude": "champion", "has_left": False, "key_person": True},
              {"id": 2, "reports_to_id": 1, "name": "Dan Okafor", "title": "VP", "decision_role_label": "", "power": "",
               "attitude": "", "has_left": True, "key_person": False}]
    c = org_chart(people, [{"source_id": 2, "target_id": 1}])
    assert_only_escaped(c.figure, evil_count=3)  # name, title, role


def test_business_case_chart(no_defusing):
    from dealpilot.deals.views import _case_chart

    case = SimpleNamespace(get_period_display=lambda: EVIL, currency=EVIL, opportunity_id=1)
    figures = SimpleNamespace(benefits=[1, 2], cumulative=[-1, 1], investment=2)
    assert_only_escaped(_case_chart(case, figures).figure, evil_count=5)  # two bars, two points, the axis title


def test_content_outcome_chart(no_defusing):
    from dealpilot.enablement.views import _outcome_chart

    r = SimpleNamespace(total=4, wins=2, rate=0.5, low=0.2, high=0.8)
    assert_only_escaped(_outcome_chart({"rows": [(EVIL, r), ("not used", r)]}).figure)


def test_the_other_charts_take_no_text_from_data():
    """The cadence adherence chart (month labels and fixed series names) and the win model's reliability
    chart (numbers) have no name in them; their figures hold no markup but the app's own."""
    from dealpilot.cadence.charts import adherence_chart
    from dealpilot.cadence.selectors import Adherence
    from dealpilot.deals.views import _reliability_chart

    reliability = _reliability_chart(SimpleNamespace(metrics={"reliability": [{"predicted": 0.2, "observed": 0.3, "rows": 10}]}))
    adherence = adherence_chart(Adherence(rows=[]))
    for c in (reliability, adherence):
        assert [t for t in strings(c.figure) if RAW_MARKUP.search(t)] == []


# ---- as served: the two pages where it happened -------------------------------------------------------------


def served_figures(response) -> list[dict]:
    html = response.content.decode()
    return [json.loads(m) for m in re.findall(r'<script id="[^"]*-figure" type="application/json">(.*?)</script>', html, re.S)]


@pytest.mark.django_db
def test_the_people_map_and_the_team_dashboard_serve_names_as_text(client, org, no_defusing):
    from dealpilot.crm.models import Contact
    from dealpilot.performance.selectors import dashboard_cache

    dashboard_cache.clear()
    rep = org.rep_emea
    rep.full_name = f"Sofia {EVIL}"
    rep.save()
    contact = Contact.objects.filter(account__owner=rep).first()
    contact.last_name = EVIL
    contact.save()

    client.force_login(org.leader)
    response = client.get(reverse("planning:people", args=[contact.account_id]))
    assert response.status_code == 200
    (figure,) = served_figures(response)
    assert_only_escaped(figure)

    response = client.get(reverse("performance:dashboard"))
    assert response.status_code == 200
    figures = served_figures(response)
    assert len(figures) >= 5
    for figure in figures:
        assert_only_escaped(figure, evil_count=0)
    assert sum(ESCAPED in t for f in figures for t in strings(f)) >= 3  # the rep's name in several charts
    dashboard_cache.clear()
