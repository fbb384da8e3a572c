"""The CRM pages: login, navigation, lists with filters, details; what each role sees."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dealpilot.crm.models import ContactRole
from tests.factories import (
    PASSWORD,
    add_contact_role,
    add_line_item,
    add_stage_change,
    make_account,
    make_activity,
    make_contact,
    make_opportunity,
    make_plan_unit,
    make_product,
    make_user,
)

pytestmark = pytest.mark.django_db

VIEWERS = ["leader", "admin", "manager_emea", "manager_amer", "rep_emea", "rep_dach", "rep_amer", "enablement"]
LIST_PAGES = ["crm:account_list", "crm:opportunity_list"]


def opportunity_links(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/opportunities/(\d+)/"', html)}


def account_links(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/accounts/(\d+)/"', html)}


# ---- login and navigation -----------------------------------------------------------------------


def test_login_page_signs_a_user_in_and_lands_on_today(client, org):
    page = client.get(reverse("web:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content and b"csrfmiddlewaretoken" in page.content

    bad = client.post(reverse("web:login"), {"username": "rep_emea", "password": "wrong"})
    assert bad.status_code == 200 and b"alert-error" in bad.content

    response = client.post(reverse("web:login"), {"username": "rep_emea", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("today:index")
    assert b"<h1>Today</h1>" in response.content


@pytest.mark.parametrize("name", ["web:home", *LIST_PAGES])
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('web:login')}?next={reverse(name)}"


@pytest.mark.parametrize("name", ["crm:account_detail", "crm:opportunity_detail"])
def test_anonymous_visitors_cannot_open_details(client, org, name):
    pk = org.accounts["rep_emea"].pk if "account" in name else org.opportunities["rep_emea"][0].pk
    response = client.get(reverse(name, args=[pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_logout_needs_a_post_and_ends_the_session(client, org):
    client.force_login(org.rep_emea)
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert client.get(reverse("crm:opportunity_list")).status_code == 302


@pytest.mark.parametrize("viewer,sees_imports", [("leader", True), ("admin", True), ("manager_emea", False), ("rep_emea", False),
                                                  ("enablement", False)])
def test_navigation_shows_the_user_their_role_and_imports_only_to_leaders(client, org, viewer, sees_imports):
    user = org.user(viewer)
    client.force_login(user)
    html = client.get(reverse("crm:account_list")).content.decode()
    assert 'href="/accounts/"' in html and 'href="/opportunities/"' in html
    assert ('href="/imports/"' in html) is sees_imports
    assert user.get_role_display() in html and str(user) in html
    assert 'action="/logout/"' in html
    assert "/static/django_htmx/htmx-2.min" in html and "/static/web/dealpilot" in html
    # every script and stylesheet from this server (a random CSRF token in the page may spell "cdn")
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)


def test_static_files_are_served(client):
    for path in ("/static/web/dealpilot.css", "/static/django_htmx/htmx-2.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content if response.streaming else [response.content])


# ---- lists: who sees what -----------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_opportunity_list_shows_what_the_role_may_see(client, org, viewer):
    client.force_login(org.user(viewer))
    response = client.get(reverse("crm:opportunity_list"))
    assert response.status_code == 200
    assert opportunity_links(response.content.decode()) == org.visible_opportunity_ids(viewer)


@pytest.mark.parametrize("viewer,expected", [
    ("leader", {"rep_emea", "rep_dach", "rep_amer"}),
    ("admin", {"rep_emea", "rep_dach", "rep_amer"}),
    ("manager_emea", {"rep_emea", "rep_dach"}),
    ("manager_amer", {"rep_amer", "rep_emea"}),
    ("rep_emea", {"rep_emea"}),
    ("rep_dach", {"rep_dach"}),
    ("rep_amer", {"rep_amer", "rep_emea"}),
    ("enablement", set()),
])
def test_account_list_shows_what_the_role_may_see(client, org, viewer, expected):
    client.force_login(org.user(viewer))
    html = client.get(reverse("crm:account_list")).content.decode()
    assert account_links(html) == {org.accounts[n].pk for n in expected}
    if not expected:
        assert "No accounts match" in html


@pytest.mark.parametrize("viewer", VIEWERS)
def test_details_answer_404_for_what_the_role_may_not_see(client, org, viewer):
    client.force_login(org.user(viewer))
    visible = org.visible_opportunity_ids(viewer)
    for pk in org.all_opportunity_ids():
        response = client.get(reverse("crm:opportunity_detail", args=[pk]))
        assert response.status_code == (200 if pk in visible else 404), pk
    visible_accounts = account_links(client.get(reverse("crm:account_list")).content.decode())
    for account in org.accounts.values():
        response = client.get(reverse("crm:account_detail", args=[account.pk]))
        assert response.status_code == (200 if account.pk in visible_accounts else 404)
    assert client.get(reverse("crm:opportunity_detail", args=[987654])).status_code == 404


# ---- list filters, sorting, pagination, totals --------------------------------------------------


def test_opportunity_filters_work_without_javascript(client, org):
    client.force_login(org.leader)
    url = reverse("crm:opportunity_list")
    html = client.get(url, {"status": "won"}).content.decode()
    assert opportunity_links(html) == {o[1].pk for o in (org.opportunities[n] for n in ("rep_emea", "rep_dach", "rep_amer"))}
    assert "USD 60,000" in html  # 3 won deals of 20,000

    html = client.get(url, {"owner": org.rep_dach.pk, "status": "open"}).content.decode()
    assert opportunity_links(html) == {org.opportunities["rep_dach"][0].pk}
    assert "USD 50,000" in html

    html = client.get(url, {"stage": "Negotiation"}).content.decode()
    assert opportunity_links(html) == {org.opportunities["manager_emea"][0].pk}

    html = client.get(url, {"q": "cross-sell"}).content.decode()
    assert opportunity_links(html) == {org.opportunities["rep_amer"][2].pk}

    today = timezone.localdate()
    html = client.get(url, {"close_to": (today - timedelta(days=1)).isoformat()}).content.decode()
    assert len(opportunity_links(html)) == 3  # only the won deals closed in the past


def test_bad_filter_values_are_ignored_and_explained(client, org):
    client.force_login(org.rep_dach)
    response = client.get(reverse("crm:opportunity_list"), {"close_from": "yesterday-ish", "owner": org.rep_amer.pk, "sort": "evil"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date." in html
    assert "Select a valid choice" in html  # rep_amer is not among rep_dach's owners
    assert opportunity_links(html) == org.visible_opportunity_ids("rep_dach")


def test_date_range_must_be_in_order(client, org):
    client.force_login(org.leader)
    html = client.get(reverse("crm:opportunity_list"), {"close_from": "2030-01-01", "close_to": "2020-01-01"}).content.decode()
    assert "before its start" in html


def test_htmx_requests_get_only_the_results(client, org):
    client.force_login(org.leader)
    response = client.get(reverse("crm:opportunity_list"), {"status": "open"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert "<html" not in html and 'data-testid="opportunity-table"' in html
    assert len(opportunity_links(html)) == 6  # 3 reps' open deals, the manager's, the cross-sell, the unowned one

    sorted_partial = client.get(reverse("crm:opportunity_list"), {"sort": "amount"}, headers={"HX-Request": "true"}).content.decode()
    assert '<input type="hidden" name="sort" id="id_sort" value="amount" hx-swap-oob="true">' in sorted_partial

    restore = client.get(reverse("crm:opportunity_list"), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()  # history restores want the whole page


def test_list_pages_paginate_and_keep_filters(client, db):
    rep = make_user()
    account = make_account(rep, name="Big buyer")
    for i in range(30):
        make_opportunity(rep, account, name=f"Deal {i:02d}", amount=1000 + i)
    client.force_login(rep)
    url = reverse("crm:opportunity_list")
    first = client.get(url, {"sort": "name", "status": "open"}).content.decode()
    assert len(opportunity_links(first)) == 25 and "Deal 00" in first and "Deal 25" not in first
    assert "1 / 2" in first and "page=2" in first and "status=open" in first
    second = client.get(url, {"sort": "name", "status": "open", "page": 2}).content.decode()
    assert len(opportunity_links(second)) == 5 and "Deal 29" in second
    assert "Showing 1–25 of 30" in first and '<span class="summary-value">30</span>' in first
    assert client.get(url, {"page": "999"}).status_code == 200  # out of range: the last page


def test_account_list_filters_and_sorts(client, db):
    rep = make_user()
    make_account(rep, name="Zeta Corp", industry="Retail", region="APAC")
    beta = make_account(rep, name="Beta GmbH", industry="Software", region="EMEA", currency="EUR")
    make_opportunity(rep, beta, amount=1234567, currency="EUR")
    client.force_login(rep)
    url = reverse("crm:account_list")
    html = client.get(url).content.decode()
    assert html.index("Beta GmbH") < html.index("Zeta Corp")
    assert "EUR 1,234,567" in html
    html = client.get(url, {"sort": "-name"}).content.decode()
    assert html.index("Zeta Corp") < html.index("Beta GmbH")
    html = client.get(url, {"industry": "Retail"}).content.decode()
    assert "Zeta Corp" in html and "Beta GmbH" not in html
    html = client.get(url, {"q": "beta"}).content.decode()
    assert "Beta GmbH" in html and "Zeta Corp" not in html
    assert '<option value="APAC">APAC</option>' in client.get(url).content.decode()


# ---- details --------------------------------------------------------------------------------------


def test_account_detail_shows_facts_units_contacts_deals_and_activities(client, db):
    rep = make_user(full_name="Rita Rep")
    parent = make_account(rep, name="Globex Holdings")
    account = make_account(rep, name="Globex Europe", industry="Manufacturing", region="EMEA", country="Germany", currency="EUR",
                           annual_revenue=Decimal("50000000"), employees=1200, parent=parent)
    make_account(rep, name="Globex Iberia", parent=account)
    unit = make_plan_unit(account, "Plant Operations")
    boss = make_contact(account, first_name="Hank", last_name="Scorpio", title="CEO", plan_unit=unit)
    make_contact(account, first_name="Lisa", last_name="Lin", title="IT Director", reports_to=boss, email="lisa@globex.example")
    opp = make_opportunity(rep, account, name="Globex platform", amount=120000, currency="EUR", stage="Proposal")
    make_activity(rep, opportunity=opp, subject="Plant tour", kind="meeting")

    client.force_login(rep)
    html = client.get(reverse("crm:account_detail", args=[account.pk])).content.decode()
    for text in ("Globex Europe", "Manufacturing", "Germany", "EUR 50,000,000", "Globex Holdings", "Globex Iberia", "Plant Operations",
                 "Hank Scorpio", "CEO", "IT Director", "lisa@globex.example", "Globex platform", "EUR 120,000", "Plant tour", "Rita Rep"):
        assert text in html, text
    # Lisa reports to Hank: the reports-to column names him in her row
    lisa_row = html[html.index("Lisa Lin"):]
    assert lisa_row.index("Hank Scorpio") < lisa_row.index("</tr>")


def test_opportunity_detail_shows_everything_about_the_deal(client, db):
    rep = make_user(full_name="Rita Rep")
    account = make_account(rep, name="Initech")
    contact = make_contact(account, first_name="Bill", last_name="Lumbergh", title="VP Operations")
    opp = make_opportunity(rep, account, name="Initech rollout", stage="Closed Lost", status="lost", amount="75000.50",
                           probability=Decimal("0"), source="blind_rfp", source_detail="RFP portal", lost_reason="Price too high",
                           description="Needs TPS report automation.")
    add_contact_role(opp, contact, ContactRole.ECONOMIC_BUYER, is_primary=True)
    add_line_item(opp, make_product("Platform licence", code="PLT"), quantity=3, unit_price=25000)
    today = timezone.localdate()
    add_stage_change(opp, "Qualification", today - timedelta(days=40))
    add_stage_change(opp, "Proposal", today - timedelta(days=25))
    add_stage_change(opp, "Closed Lost", today - timedelta(days=3))
    make_activity(rep, opportunity=opp, contact=contact, subject="Pricing call")

    client.force_login(rep)
    html = client.get(reverse("crm:opportunity_detail", args=[opp.pk])).content.decode()
    for text in ("Initech rollout", "USD 75,000.50", "Blind RFP", "RFP portal", "Price too high", "Needs TPS report automation.",
                 "Bill Lumbergh", "Economic buyer", "Primary", "Platform licence", "USD 75,000.00", "Qualification", "15 days",
                 "22 days", "Pricing call", "badge-lost", "0%"):
        assert text in html, text
    timeline = html[html.index('id="stage-history"'):]
    assert timeline.index("Qualification") < timeline.index("Proposal") < timeline.index("Closed Lost")


def test_a_rep_selling_into_an_account_sees_only_their_own_deals_there(client, org):
    client.force_login(org.rep_amer)
    account = org.accounts["rep_emea"]
    html = client.get(reverse("crm:account_detail", args=[account.pk])).content.decode()
    assert opportunity_links(html) == {org.opportunities["rep_amer"][2].pk}
    assert "rep_emea open deal" not in html and "manager_emea own deal" not in html


def test_an_activity_on_someone_elses_deal_does_not_reveal_the_deal(client, org):
    """rep_amer logged a call on rep_emea's deal (it is theirs, so they see it) on an account they
    sell into: the account page lists the call but neither names nor links the deal."""
    hidden_deal = org.opportunities["rep_emea"][0]
    make_activity(org.rep_amer, opportunity=hidden_deal, subject="Joint call with the EMEA team")
    client.force_login(org.rep_amer)
    html = client.get(reverse("crm:account_detail", args=[org.accounts["rep_emea"].pk])).content.decode()
    assert "Joint call with the EMEA team" in html
    assert hidden_deal.name not in html and hidden_deal.pk not in opportunity_links(html)
