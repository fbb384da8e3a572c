"""Every main page in a real browser (Debian's chromium through Playwright) under the Content-Security-Policy:
as the roles that reach it, each page answers with the policy and the Permissions-Policy, raises no console
error and no `securitypolicyviolation` event, and draws its charts. The organisation's names carry markup
(a rep's name, a contact's last name, an account's name: `<a href=...><img onerror=...>`), so a page that
let one through as HTML would show a live link or run an inline handler (which the policy refuses, and
the test sees); no chart may hold such a link. /api/docs draws Swagger UI from the app's own files only.
It prints one line with the number of pages and the time taken (docs/security.md, "In the browser")."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from tests.browser import chromium_page
from tests.factories import PASSWORD, build_showcase_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIL = '<a href="https://evil.example">x</a><img src=x onerror=alert(1)>'
ALL_DRAWN = ("() => { const plots = document.querySelectorAll('.chart-plot');"
             " return plots.length > 0 && [...plots].every(p => p.classList.contains('chart-ready') && p.querySelector('.main-svg')); }")
# elements made from a name's markup: a link (HTML <a href> or, in a Plotly chart, SVG <a xlink:href>) or the image
LIVE_MARKUP = """[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a =>
    ['href', 'src', 'action', 'formaction'].includes(a.localName) && (a.value.includes('evil.example') || a.value === 'x')))
  .map(e => e.outerHTML.slice(0, 200))"""
# recorded from the first script on: every violation of the policy, with what was refused and where
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push([e.effectiveDirective, e.blockedURI, e.sourceFile + ':' + e.lineNumber, e.sample].join(' '));
}, true);
"""


@pytest.fixture
def site(transactional_db):
    """The showcase organisation with a record of every kind a main page shows, and markup in its names."""
    from dealpilot.cadence.recurrence import occurrence_key, scheduled_starts
    from dealpilot.cadence.services import create_default_cadence
    from dealpilot.crm.models import Account, Contact, Opportunity, Role, Team, User
    from dealpilot.crm.services import create_api_token
    from dealpilot.enablement import services as enablement
    from dealpilot.imports.models import ImportRun, ImportStatus
    from dealpilot.planning import services as planning
    from dealpilot.recycle_bin.services import move_to_bin

    showcase = build_showcase_org()
    leader, deal, account = showcase["leader"], showcase["opportunity"], showcase["account"]
    rep = deal.owner
    manager = User.objects.get(username="henrik.mgr")
    author = make_user(Role.ENABLEMENT, username="eve.author", full_name="Eve Author")

    User.objects.filter(pk=rep.pk).update(full_name=f"{rep.full_name} {EVIL}")
    Contact.objects.filter(account=account, first_name="Olivia").update(last_name=EVIL)
    other = Account.objects.exclude(pk=account.pk).filter(owner=rep).first()
    Account.objects.filter(pk=other.pk).update(name=f"Evil Corp {EVIL}")

    planning.create_plan(rep, account.pk)
    cadence = create_default_cadence(Team.objects.get(name="EMEA"), by=manager,
                                     starts_on=timezone.localdate() - timedelta(days=35), time_zone="Europe/Berlin")
    pipeline = cadence.meetings.get(kind="pipeline")
    now = timezone.now()
    agenda_key = occurrence_key(scheduled_starts(pipeline, now - timedelta(days=14), now)[-1])
    module = enablement.save_module(author, fields={"title": "Downtime value message", "kind": "value_message",
                                                    "status": "published", "body": "What downtime costs."},
                                    tags={"industry": ["Manufacturing"]})
    enablement.save_knowledge(leader, kind="best_practice", title="Multi-thread early", body="Meet three roles by stage two.")
    run = ImportRun.objects.create(kind="salesforce", source_name="salesforce export.zip", source_path="/srv/x/upload.zip",
                                   status=ImportStatus.DONE, rows_read=10, rows_imported=10, message="10 rows read, 10 imported")
    move_to_bin(rep, "opportunity", Opportunity.objects.filter(owner=rep).exclude(pk=deal.pk).first().pk)
    create_api_token(rep, "laptop")

    acc, opp = f"/accounts/{account.pk}/", f"/opportunities/{deal.pk}/"
    plan_acc = f"/planning/accounts/{account.pk}/"
    agenda = f"/cadence/meetings/{pipeline.pk}/{agenda_key}/"
    chart = True
    pages = {
        # role: [(path, charts drawn there)]
        leader.username: [("/", False), ("/today/", False), ("/today/settings/", False), ("/opportunities/", False), (opp, False), ("/planning/", chart), (acc, False),
                          (plan_acc, False), (plan_acc + "plan/", False), (plan_acc + "people/", chart), ("/team/", chart),
                          ("/cadence/week/", False), (agenda, False), ("/enablement/", False),
                          (f"/enablement/modules/{module.pk}/", False), ("/enablement/knowledge/", False),
                          ("/imports/", False), (f"/imports/{run.pk}/", False), ("/recycle-bin/", False),
                          ("/account/tokens/", False), ("/api/docs", False)],
        manager.username: [("/today/", False), ("/team/", chart), ("/cadence/week/", False), (agenda, False), ("/cadence/adherence/", chart)],
        rep.username: [("/today/", False), ("/opportunities/", False), (opp, False), ("/planning/", chart), (plan_acc, False),
                       (plan_acc + "plan/", False), (plan_acc + "people/", chart), ("/enablement/", False),
                       ("/recycle-bin/", False), ("/account/tokens/", False), ("/api/docs", False)],
        author.username: [("/enablement/", False), (f"/enablement/modules/{module.pk}/", False),
                          ("/enablement/knowledge/", False), ("/account/tokens/", False), ("/api/docs", False)],
    }
    return {"pages": pages, "rep": rep}


def check_headers(response, where: str, *, html: bool) -> None:
    policy = response.headers.get("content-security-policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";") if d.strip())
    assert directives.get("default-src") == "'self'", (where, policy)
    assert directives.get("object-src") == "'none'" and directives.get("frame-ancestors") == "'none'", (where, policy)
    assert directives.get("base-uri") == "'self'" and directives.get("form-action") == "'self'", (where, policy)
    # scripts: the app's own files, and on the app's pages what carries this request's nonce; nothing inline, no eval
    nonce = r" 'nonce-[A-Za-z0-9+/=]{16,}'"
    assert re.fullmatch(f"'self'{nonce if html else f'({nonce})?'}", directives.get("script-src", "")), (where, policy)
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in directives.get("style-src-elem", ""), (where, policy)
    permissions = response.headers.get("permissions-policy", "")
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions, (where, permissions)


def test_every_main_page_runs_under_the_policy(site, live_server, monkeypatch, tmp_path):
    from playwright.sync_api import expect

    started = time.monotonic()
    server = urlsplit(live_server.url).netloc
    checked = 0
    with chromium_page(monkeypatch, timeout_ms=30_000, navigation_timeout_ms=60_000) as page:
        expect.set_options(timeout=30_000)  # the team dashboard and an agenda compute for seconds on a busy machine
        page.add_init_script(RECORD_VIOLATIONS)
        problems: list[str] = []
        elsewhere: list[str] = []
        page.on("console", lambda msg: problems.append(f"{page.url}: console {msg.type}: {msg.text}")
                if msg.type in ("error", "warning") else None)
        page.on("request", lambda req: elsewhere.append(req.url)
                if urlsplit(req.url).scheme in ("http", "https") and urlsplit(req.url).netloc != server else None)

        def visit(path: str, charts: bool) -> None:
            nonlocal checked
            response = page.goto(live_server.url + path)
            assert response.status == 200, (path, response.status)
            check_headers(response, path, html=path != "/api/docs")  # ninja's Swagger page has no inline script to allow
            if charts:
                page.wait_for_function(ALL_DRAWN)
            if path == "/api/docs":
                expect(page.locator(".swagger-ui .info .title")).to_contain_text("dealpilot API")
                expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
            page.wait_for_load_state("networkidle")
            violations = page.evaluate("window.__cspViolations")
            assert violations == [], (path, violations)
            live = page.evaluate(LIVE_MARKUP)
            assert live == [], (path, live)
            checked += 1
            if charts or path == "/api/docs":  # to look at: pytest's tmp_path
                page.screenshot(path=str(tmp_path / f"{checked:02d}{re.sub(r'[^a-z0-9]+', '-', path)}.png"))

        visit("/login/", False)  # anonymous
        for username, pages in site["pages"].items():
            page.context.clear_cookies()
            page.goto(live_server.url + "/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/(today|opportunities)/$"))  # the sales team lands on Today, authors on the deals
            for path, charts in pages:
                visit(path, charts)
            # the API and error answers carry both policies too (fetched, not shown)
            for path, status, html in (("/api/health", 200, False), ("/api/crm/opportunities/999999999", 404, False),
                                       ("/no-such-page/", 404, False)):
                answer = page.request.get(live_server.url + path)
                assert answer.status == status, (path, answer.status)
                check_headers(answer, path, html=html)
            refused = page.request.post(live_server.url + "/account/tokens/", form={"name": "no csrf"})
            assert refused.status == 403
            check_headers(refused, "a POST without its CSRF token", html=False)

        assert problems == [], problems
        assert elsewhere == [], elsewhere  # nothing from a CDN or any other host, Swagger UI included
    took = time.monotonic() - started
    print(f"\nCSP browser walk: {checked} page views ({len({p for ps in site['pages'].values() for p, _ in ps}) + 1} pages, "
          f"{len(site['pages'])} roles and anonymous) in {took:.0f} s, 0 violations, 0 console errors")
