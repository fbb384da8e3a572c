"""Auth and sessions: login throttling, personal API tokens, CSRF on forms, and the production settings
that `manage.py check --deploy` finds clean."""

import os
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from dealpilot.crm.models import ApiToken
from dealpilot.crm.services import create_api_token
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


# ---- login throttling (django-axes) -------------------------------------------------------------


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_repeated_failed_logins_lock_that_user_out_from_that_address(org, client):
    for _ in range(2):
        failed = client.post("/login/", {"username": "rep_emea", "password": "wrong"})
        assert failed.status_code == 200 and b"alert-error" in failed.content
    assert client.post("/login/", {"username": "rep_emea", "password": "wrong"}).status_code == 429  # the 3rd
    locked = client.post("/login/", {"username": "rep_emea", "password": PASSWORD})  # right, but too late
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert "_auth_user_id" not in client.session

    other = Client()  # another user from the same address is not affected
    assert other.post("/login/", {"username": "rep_dach", "password": PASSWORD}).status_code == 302


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(org, client):
    for _ in range(2):
        client.post("/login/", {"username": "rep_emea", "password": "wrong"})
    assert client.post("/login/", {"username": "rep_emea", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    for _ in range(2):
        client.post("/login/", {"username": "rep_emea", "password": "wrong"})
    assert client.post("/login/", {"username": "rep_emea", "password": PASSWORD}).status_code == 302


# ---- CSRF ---------------------------------------------------------------------------------------


def test_forms_refuse_a_post_without_the_csrf_token(org):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/login/", {"username": "rep_emea", "password": PASSWORD}).status_code == 403
    browser.force_login(org.rep_emea)
    assert browser.post("/account/tokens/", {"name": "forged"}).status_code == 403
    assert not ApiToken.objects.exists()


# ---- personal API tokens ------------------------------------------------------------------------


def test_a_token_is_shown_once_acts_as_its_user_and_stops_when_revoked(org, client):
    client.force_login(org.rep_emea)
    page = client.post("/account/tokens/", {"name": "pipeline export"})
    assert page.status_code == 200
    raw = page.context["created"]
    assert raw.startswith("dp_") and raw.encode() in page.content
    token = ApiToken.objects.get(user=org.rep_emea)
    assert token.key_hash != raw and raw not in token.key_hash  # only the hash is stored
    assert raw.encode() not in client.get("/account/tokens/").content  # never shown again

    script = Client()  # no session: the token alone
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    mine = script.get("/api/crm/opportunities", {"page_size": 500}, **auth)
    assert mine.status_code == 200
    names = {o["name"] for o in mine.json()["items"]}
    assert names == {"rep_emea open deal", "rep_emea won deal"}  # exactly what rep_emea sees
    other = org.opportunities["rep_amer"][0]
    assert script.get(f"/api/crm/opportunities/{other.pk}", **auth).status_code == 404
    token.refresh_from_db()
    assert token.last_used_at is not None

    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert script.get("/api/crm/opportunities", **auth).status_code == 401


def test_tokens_that_are_wrong_revoked_or_of_inactive_users_are_refused(org):
    script = Client()
    assert script.get("/api/crm/opportunities").status_code == 401
    assert script.get("/api/crm/opportunities", HTTP_AUTHORIZATION="Bearer dp_not-a-token").status_code == 401
    _, raw = create_api_token(org.rep_dach, "ci")
    org.rep_dach.is_active = False
    org.rep_dach.save()
    assert script.get("/api/crm/opportunities", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_a_token_writes_without_csrf_and_a_bad_token_on_a_write_is_a_401(org):
    # The test client skips CSRF unless asked: a real script's request is checked like this one.
    script = Client(enforce_csrf_checks=True)
    _, raw = create_api_token(org.rep_emea, "ci")
    account = org.accounts["rep_emea"]
    created = script.post(f"/api/planning/accounts/{account.pk}/plan", {"title": "From a script"}, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert created.status_code == 201, created.content
    assert created.json()["title"] == "From a script"
    refused = script.post(f"/api/planning/accounts/{account.pk}/plan/comments", {"text": "hi"}, content_type="application/json",
                          HTTP_AUTHORIZATION="Bearer dp_not-a-token")
    assert refused.status_code == 401 and refused.json()["detail"]


def test_a_session_write_still_needs_the_csrf_token(org):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org.rep_emea)
    account = org.accounts["rep_emea"]
    response = browser.post(f"/api/planning/accounts/{account.pk}/plan", {}, content_type="application/json")
    assert response.status_code == 403


def test_people_revoke_only_their_own_tokens(org, client):
    theirs, raw = create_api_token(org.rep_amer, "theirs")
    client.force_login(org.rep_emea)
    assert client.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404  # as if it did not exist
    theirs.refresh_from_db()
    assert theirs.is_active
    assert Client().get("/api/crm/opportunities", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_a_token_writes_without_a_csrf_token_and_a_session_does_not(org):
    """A script's token needs no CSRF token (it sends no cookie); a browser session's unsafe API call does."""
    from dealpilot.deals.models import QualificationQuestion
    from dealpilot.deals.services import ensure_defaults

    ensure_defaults()
    question = next(q for q in QualificationQuestion.objects.filter(is_active=True).order_by("order", "id") if q.allowed_answers)
    deal = org.opportunities["rep_emea"][0]
    url, body = f"/api/deals/opportunities/{deal.pk}/qualification", {"answers": {question.key: question.allowed_answers[0]}}
    _, raw = create_api_token(org.rep_emea, "script")
    script = Client(enforce_csrf_checks=True)
    answered = script.put(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert answered.status_code == 200, answered.content
    assert script.put(url, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer dp_wrong").status_code == 401
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org.rep_emea)
    assert browser.get(url).status_code == 200
    assert browser.put(url, body, content_type="application/json").status_code == 403  # no CSRF token


def test_a_token_needs_a_name(org, client):
    client.force_login(org.rep_emea)
    assert client.post("/account/tokens/", {"name": "   "}).status_code == 400
    assert not ApiToken.objects.exists()


# ---- production settings ------------------------------------------------------------------------


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEALPILOT_DEBUG")}
    env.update(DEALPILOT_DATA_DIR=str(tmp_path), DEALPILOT_PRODUCTION="1", DEALPILOT_ALLOWED_HOSTS="sales.example.com",
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = subprocess.run([sys.executable, "-m", "dealpilot.cli", "manage", "check", "--deploy", "--fail-level", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout

    show = "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    env["DJANGO_SETTINGS_MODULE"] = "dealpilot.settings"
    values = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {show}"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert values.stdout.split() == ["True", "True", str(365 * 24 * 3600)]


def test_passwords_are_hashed_with_argon2():
    from django.conf import settings

    assert settings.PASSWORD_HASHERS  # the suite uses a fast hasher; the app's own settings say Argon2
    import dealpilot.settings as app_settings

    assert app_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
