"""Bad input is a 4xx with a message (or a page that says why), never a 5xx: every API route and every one of
its query and path parameters, every page that reads a query string, and every option of `dealpilot report`.

Nothing here lists parameters by hand:
- the API's operations and parameters come from the OpenAPI schema, each parameter getting values of its own
  type (ids, days, numbers, enums, texts) at and just past the edges dealpilot.validation draws, and the
  calendar's and 64 bits' own edges;
- the pages come from the URL resolver (as in tests/test_access_walk.py, whose world of records fills their
  path ids); the query parameters a page reads are found by asking it once with a QueryDict that records the
  keys it looks up (its filter form's fields, a `?team=`, a `?page=`), so a new page or filter is covered;
- the CLI's options are read from the typer app (a new option of `report` must be given values below, or
  the test fails and says so), and the real `dealpilot` command runs in a subprocess.

Each part sweeps fixed edge values (every parameter, every value) and then lets hypothesis combine random
ones (derandomized, a bounded number of examples). The counts of what was covered are printed in the log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import QueryDict
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealpilot.analytics.metrics import GROUPS, PERIODS
from dealpilot.analytics.report import REPORTS, TEAM_REPORTS
from dealpilot.api import api
from dealpilot.cadence.services import regenerate_feed_token
from dealpilot.crm.services import create_api_token
from dealpilot.validation import FIRST_DAY, LAST_DAY, MAX_ID
from tests.test_access_walk import NOT_WALKED, VALUE_PARAMS, _reachable_home, build_world, page_routes, reachable_values

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("DEALPILOT_INPUT_EXAMPLES", 150))  # more for a deeper hunt
CLI_EXAMPLES = int(os.environ.get("DEALPILOT_CLI_EXAMPLES", 12))  # each is a `dealpilot` process (seconds)


def bounded(examples: int):
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

# ---- values ----------------------------------------------------------------------------------------

EDGE_INTS = ["0", "-1", "1", str(2**31), str(MAX_ID), str(MAX_ID + 1), str(2**64), "9" * 30, "-" + "9" * 30, "²", "1.5", "1e3"]
EDGE_DAYS = [d.isoformat() for d in (date.min, date(1899, 12, 31), FIRST_DAY, LAST_DAY, date(3000, 1, 1), date.max)] + [
    "2024-02-30", "2024-13-01", "10000-01-01", "-2024-01-01", "20240101", "today"]
EDGE_TEXT = ["", " ", "x" * 10_001, "²", "\x00", "NaN", "-inf", "'; --", "%00", "😀" * 40]
EDGE_NUMBERS = ["0", "-1", "1e308", "1e309", "NaN", "inf", "-0.0", "1" * 40]
# A page's query parameter has no declared type: each gets a few of every kind (pages are slower than the API).
EDGE_ANY = ["0", "-1", str(MAX_ID + 1), "9" * 30, "²", "1.5", date.min.isoformat(), FIRST_DAY.isoformat(),
            LAST_DAY.isoformat(), date.max.isoformat(), "2024-02-30", "x" * 10_001, "\x00", "NaN"]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
days = st.dates().map(date.isoformat)
ints = st.integers().map(str)
any_value = st.one_of(st.sampled_from(EDGE_ANY + EDGE_INTS + EDGE_DAYS + EDGE_TEXT), text, days, ints)


def _types(schema: dict) -> list[dict]:
    """The non-null alternatives of a parameter's schema."""
    options = schema.get("anyOf") or [schema]
    return [o for o in options if o.get("type") != "null"]


# Values left out: starting Spark takes 20 s (tests/analytics/test_spark.py runs it).
NOT_SENT = {"spark"}


def edge_values(schema: dict) -> list[str]:
    values: list[str] = []
    for option in _types(schema):
        if "enum" in option:
            values += [str(v) for v in option["enum"] if v not in NOT_SENT] + ["", "zzz"]
        elif option.get("type") == "integer":
            values += EDGE_INTS
        elif option.get("type") == "number":
            values += EDGE_NUMBERS
        elif option.get("type") == "boolean":
            values += ["true", "false", "2", ""]
        elif option.get("format") == "date":
            values += EDGE_DAYS
        else:
            values += EDGE_TEXT + ["x" * (option.get("maxLength", 200) + 1)]
    return list(dict.fromkeys(values))


def value_strategy(schema: dict):
    parts = [st.sampled_from(edge_values(schema))]
    for option in _types(schema):
        if option.get("type") == "integer":
            parts.append(ints)
        elif option.get("format") == "date":
            parts.append(days)
        elif option.get("type") == "string" and "enum" not in option:
            parts.append(text)
    return st.one_of(parts)


# ---- checks ----------------------------------------------------------------------------------------


def _api_problem(response) -> str | None:
    """None when the answer is not a 5xx and a 4xx says why (JSON with a message)."""
    if response.status_code >= 500:
        return f"{response.status_code}"
    if 400 <= response.status_code < 500:
        try:
            detail = response.json().get("detail")
        except ValueError:
            return f"{response.status_code} without a JSON body"
        if not detail:
            return f"{response.status_code} without a message"
    return None


def _page_problem(response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}"
    if response.status_code == 400 and not response.content.strip():
        return "400 without a reason"
    return None


# ---- the API ---------------------------------------------------------------------------------------


class ApiCaller:
    """Every operation of the schema, its path filled with records the caller reaches (or edge values)."""

    def __init__(self, world, roles=("leader", "manager_emea", "rep_emea", "enablement")):
        self.world = world
        self.schema = api.get_openapi_schema(path_prefix="/api/")
        self.clients = {role: Client(HTTP_AUTHORIZATION=f"Bearer {create_api_token(world.org.user(role), 'fuzz')[1]}",
                                     raise_request_exception=False) for role in roles}
        self.operations = [(path, method, op) for path, ops in self.schema["paths"].items() for method, op in ops.items()
                           if (path, method) != ("/api/deals/model/train", "post")]  # trains synchronously: tests/deals
        self.bodies = self._bodies()

    def _bodies(self) -> dict:
        from tests.test_access_walk import _minimal

        components = self.schema.get("components", {}).get("schemas", {})
        out = {}
        for path, method, op in self.operations:
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            out[(path, method)] = json.dumps(_minimal(body, components)) if body else ""
        return out

    def path_values(self, path: str, role: str) -> dict:
        from tests.test_access_walk import SEGMENT_KINDS

        values = {}
        segments = [s for s in path.split("/") if s]
        for i, segment in enumerate(segments):
            if not segment.startswith("{"):
                continue
            name = segment.strip("{}")
            param = next(p for op in self.schema["paths"][path].values() for p in op.get("parameters", []) if p["name"] == name)
            enum = next((o["enum"] for o in _types(param["schema"]) if "enum" in o), None)
            if enum:
                values[name] = enum[0]
            elif name in VALUE_PARAMS:
                values[name] = VALUE_PARAMS[name](self.world, values)
            else:
                before = segments[i - 1]
                before = values.get(before.strip("{}"), before) if before.startswith("{") else before
                kind = SEGMENT_KINDS[before]
                home = _reachable_home(self.world, role, kind)
                values[name] = self.world.records[kind][home] if home else 2**31 - 1
        return values

    def call(self, path: str, method: str, role: str, path_values: dict, query: dict):
        url = re.sub(r"\{(\w+)\}", lambda m: str(path_values[m.group(1)]), path)
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode(query)
        return self.clients[role].generic(method.upper(), url, data=self.bodies[(path, method)], content_type="application/json")


def test_every_api_parameter_is_a_4xx_with_a_message_never_a_5xx(capsys):
    """Each query and path parameter of each operation at each of its edge values (as the leader, who reaches
    every record, so the handler runs past its access checks), then random combinations as any role."""
    caller, wrong, requests, parameters = ApiCaller(build_world()), [], 0, set()
    started = time.perf_counter()
    for path, method, op in caller.operations:
        base = caller.path_values(path, "leader")
        for param in op.get("parameters", []):
            parameters.add((path, method, param["in"], param["name"]))
            for value in edge_values(param["schema"]):
                if param["in"] == "path":
                    if "\x00" in value or "/" in value or value.strip() == "" or value == "%00":
                        continue  # not a path segment (the NUL middleware and the resolver answer first)
                    response = caller.call(path, method, "leader", {**base, param["name"]: value}, {})
                else:
                    response = caller.call(path, method, "leader", base, {param["name"]: value})
                requests += 1
                if problem := _api_problem(response):
                    wrong.append(f"{method.upper()} {path} {param['in']} {param['name']}={value[:40]!r}: {problem}")
    swept = time.perf_counter() - started
    assert not wrong, "\n".join(wrong[:50])

    with_query = [(p, m, op) for p, m, op in caller.operations if any(x["in"] == "query" for x in op.get("parameters", []))]

    @given(data=st.data())
    @bounded(EXAMPLES)
    def any_combination(data):
        path, method, op = data.draw(st.sampled_from(with_query), label="operation")
        role = data.draw(st.sampled_from(sorted(caller.clients)), label="role")
        query = {}
        for param in op["parameters"]:
            if param["in"] == "query" and data.draw(st.booleans(), label=f"send {param['name']}"):
                query[param["name"]] = data.draw(value_strategy(param["schema"]), label=param["name"])
        response = caller.call(path, method, role, caller.path_values(path, role), query)
        assert _api_problem(response) is None, (method, path, query, response.status_code, response.content[:300])

    any_combination()
    with capsys.disabled():
        print(f"\nAPI: {requests} requests at the edges of {len(parameters)} parameters of {len(caller.operations)} "
              f"operations ({swept:.0f} s), then {EXAMPLES} random combinations of query parameters: 0 wrong, "
              f"{time.perf_counter() - started:.0f} s in all")


# ---- the pages -------------------------------------------------------------------------------------


READ_KEYS: set[str] = set()


class RecordingQueryDict(QueryDict):
    """A query string that notes which keys the view looked up (directly or through a form)."""

    def __getitem__(self, key):
        READ_KEYS.add(key)
        return super().__getitem__(key)

    def getlist(self, key, default=None):
        READ_KEYS.add(key)
        return super().getlist(key, default)

    def __contains__(self, key):
        READ_KEYS.add(key)
        return super().__contains__(key)


def _recording_get(request):
    if "_recording_get" not in request.__dict__:
        raw = get_bytes_from_wsgi(request.environ, "QUERY_STRING", "")
        request.__dict__["_recording_get"] = RecordingQueryDict(raw, encoding=request._encoding)
    return request.__dict__["_recording_get"]


def _page_urls(world) -> list[str]:
    """Every page a GET reaches (from the URL resolver), filled with records the leader reaches."""
    urls = []
    for route in page_routes(with_ids_only=False):
        if route.method != "get" or route.template in ("login/", "logout/"):
            continue
        urls.append(route.url(reachable_values(world, route, "leader")))
    # the routes the access walk leaves to other tests: a report's CSV per name, the calendar feeds
    from dealpilot.notifications.subscriptions import unsubscribe_token

    _, token = regenerate_feed_token(world.org.leader)  # only its hash is kept: make one to know the secret
    team = world.records["team"][_reachable_home(world, "leader", "team")]
    special = {"team/csv/<slug:name>/": [f"/team/csv/{name}/" for name in TEAM_REPORTS],
               "cadence/feed/<str:token>/me.ics": [f"/cadence/feed/{token}/me.ics"],
               "cadence/feed/<str:token>/teams/<int:team_id>.ics": [f"/cadence/feed/{token}/teams/{team}.ics"],
               "notifications/unsubscribe/<str:token>/": [f"/notifications/unsubscribe/{unsubscribe_token(world.org.leader, 'daily')}/"]}
    assert set(special) == set(NOT_WALKED), "a route the access walk skips needs its URL here"
    return urls + [url for found in special.values() for url in found]


def test_every_page_query_parameter_is_never_a_5xx(monkeypatch, capsys):
    """Each page is asked once as the leader with a recording query string, which finds the parameters it
    reads; each of those at each edge value, then random combinations."""
    world = build_world()
    monkeypatch.setattr(WSGIRequest, "GET", property(_recording_get))
    client = Client(raise_request_exception=False)
    client.force_login(world.org.leader)
    found = {}
    for url in _page_urls(world):
        READ_KEYS.clear()
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        found[url] = sorted(READ_KEYS)
    assert sum(map(len, found.values())) >= 20  # the recorder really found the filters

    wrong, requests, started = [], 0, time.perf_counter()
    for url, keys in found.items():
        for key in keys:
            for value in EDGE_ANY:
                response = client.get(url, {key: value})
                requests += 1
                if problem := _page_problem(response):
                    wrong.append(f"GET {url}?{key}={value[:40]!r}: {problem}")
    swept = time.perf_counter() - started
    assert not wrong, "\n".join(wrong[:50])

    with_keys = {url: keys for url, keys in found.items() if keys}

    @given(data=st.data())
    @bounded(EXAMPLES)
    def any_combination(data):
        url = data.draw(st.sampled_from(sorted(with_keys)), label="page")
        query = {key: data.draw(any_value, label=key) for key in with_keys[url] if data.draw(st.booleans(), label=f"send {key}")}
        response = client.get(url, query)
        assert _page_problem(response) is None, (url, query, response.status_code)

    any_combination()
    with capsys.disabled():
        print(f"\npages: {len(found)} walked, {sum(map(len, with_keys.values()))} query parameters of {len(with_keys)} pages, "
              f"{requests} requests at their edges ({swept:.0f} s), then {EXAMPLES} random combinations: 0 wrong, "
              f"{time.perf_counter() - started:.0f} s in all")


# ---- the CLI ---------------------------------------------------------------------------------------

DEALPILOT = [sys.executable, "-m", "dealpilot.cli"]
ROOT = Path(__file__).resolve().parents[1]
USERNAMES = ["leader", "manager_emea", "rep_emea", "enablement"]
valid_days = st.dates(FIRST_DAY, LAST_DAY).map(date.isoformat)
# Values for each option of `dealpilot report`: (good, bad); a run gives at most one option a bad value, so that
# most runs compute a report. A new option fails the test until it is given values here.
REPORT_OPTIONS = {
    "name": (st.sampled_from(REPORTS), st.sampled_from(["speed", ""]) | text),
    "group_by": (st.sampled_from(GROUPS), st.sampled_from(["colour", ""]) | text),
    "period": (st.sampled_from(list(PERIODS)), st.sampled_from(["week", ""]) | text),
    "start": (valid_days | st.sampled_from([FIRST_DAY.isoformat(), LAST_DAY.isoformat()]), st.sampled_from(EDGE_DAYS) | text),
    "end": (valid_days | st.sampled_from([FIRST_DAY.isoformat(), LAST_DAY.isoformat()]), st.sampled_from(EDGE_DAYS) | text),
    "as_user": (st.sampled_from(USERNAMES), st.just("nobody") | text),
    "format": (st.sampled_from(["table", "json", "csv"]), st.just("xml") | text),
    "engine": (st.just("duckdb"), st.sampled_from(["postgres", "oracle", ""]) | text),
}
NOT_VARIED = {"database_url": "the database comes from the environment (cli_env)"}


def _report_parameters():
    import typer

    from dealpilot.cli import app

    command = typer.main.get_command(app).commands["report"]
    names = {p.name for p in command.params}
    missing = names - set(REPORT_OPTIONS) - set(NOT_VARIED)
    assert not missing, f"new options of `dealpilot report` without values in REPORT_OPTIONS: {sorted(missing)}"
    return [p for p in command.params if p.name in REPORT_OPTIONS]


def _argv(parameter, value: str) -> list[str]:
    if parameter.param_type_name == "argument":
        return ["--", value] if value.startswith("-") else [value]
    return [parameter.opts[0], value]


@pytest.fixture
def cli_with_data(cli_env):
    """The CLI's own database, migrated and holding the sample organisation (tests/factories.py)."""
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), cli_env.get("PYTHONPATH", "")])}
    done = subprocess.run(DEALPILOT + ["status"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    script = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'dealpilot.settings'); django.setup(); "
              "from tests.factories import build_sample_org; build_sample_org()")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return env


def _run_report(env, argv: list[str]):
    done = subprocess.run(DEALPILOT + ["report", *argv], env=env, capture_output=True, text=True, timeout=300)
    problem = None
    if "Traceback" in done.stderr or done.returncode not in (0, 2):
        problem = f"exit {done.returncode}: {done.stderr[-800:]}"
    elif done.returncode == 2 and not done.stderr.strip():
        problem = "exit 2 without a message"
    return done, problem


def test_every_report_option_with_any_value_exits_0_or_2_with_a_message(cli_with_data, capsys):
    """`dealpilot report`'s days at and past the edges of their range (with the forecast, whose periods run past
    `--from`, and the meeting report, whose week runs before `--to`), then random values of every option: a
    result (0) or a reason (2), never a traceback. The listed 500s are pinned in tests/test_bad_input.py."""
    parameters = _report_parameters()
    wrong, runs, started = [], 0, time.perf_counter()
    # the days are what the parser checks; a bad name, group, user... is each report's own ReportError, which the
    # random runs reach
    edges = {"start": [FIRST_DAY.isoformat(), "9999-12-31", "0001-01-01", "1899-12-31"],
             "end": [LAST_DAY.isoformat(), "0001-01-01", "3000-01-01"]}
    for parameter in parameters:
        for value in edges.get(parameter.name, ()):
            argv = ["forecast" if parameter.name == "start" else "meeting", "--period", "year"] + _argv(parameter, value)
            _done, problem = _run_report(cli_with_data, argv)
            runs += 1
            if problem:
                wrong.append(f"report {' '.join(argv)}: {problem}")
    assert not wrong, "\n".join(wrong)

    @given(data=st.data())
    @bounded(CLI_EXAMPLES)
    def any_values(data):
        wrong_one = data.draw(st.sampled_from([None, None, *(p.name for p in parameters)]), label="the option with a bad value")
        argv: list[str] = []
        for parameter in parameters:
            if parameter.param_type_name == "argument" or parameter.name == wrong_one or data.draw(st.booleans()):
                good, bad = REPORT_OPTIONS[parameter.name]
                value = data.draw(bad if parameter.name == wrong_one else good, label=parameter.name)
                argv += _argv(parameter, value.replace("\x00", ""))  # no NUL in a command line
        _done, problem = _run_report(cli_with_data, argv)
        assert problem is None, (argv, problem)

    any_values()
    with capsys.disabled():
        print(f"\nCLI: {runs} runs of `dealpilot report` at the edges of its days, then {CLI_EXAMPLES} with random values of "
              f"its {len(parameters)} options: 0 wrong, {time.perf_counter() - started:.0f} s")
