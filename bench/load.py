"""Load test: the web app served the production way (gunicorn), 50 concurrent users, on SQLite and PostgreSQL.

    .venv/bin/python bench/load.py --engine both --users 50 --seconds 10 --write-docs docs/benchmarks.md

For each database (--engine sqlite, postgres or both), in this order:

1. Data: a fresh database (a temporary SQLite file, or the PostgreSQL database of --postgres-url,
   dropped and created again) with the demo organisation exactly as `dealpilot demo` seeds it
   (a leader, 4 managers and 25 reps, 300 accounts, 3,000 opportunities, 30,000 activities, stage
   history, content, plans; --scale makes it smaller or larger),
   plus for the load: one account plan per rep (planning.services.create_plan, so reps can comment)
   and a personal API token per person (crm.services.create_api_token). This runs in a child
   process, which Django is set up in; this process only generates the load.
2. The server: `dealpilot serve --workers N` (gunicorn, gthread workers with 4 threads each, plus
   the background task worker) with DEALPILOT_PRODUCTION=1 (secure cookies, HSTS, HTTP redirected
   to HTTPS: every request says `X-Forwarded-Proto: https`, as the TLS proxy in front would),
   DEBUG off, static files by WhiteNoise, on 127.0.0.1 and a free port. Every person logs in
   through the real login form (CSRF token, Argon2 password check, django-axes) and keeps the
   session cookie; API calls use the person's token (`Authorization: Bearer dp_...`).
3. Warm-up: the mix below for --warmup seconds, not counted (each worker's caches: compiled
   templates, the win model, the content index, the dashboard's analytics frames).
4. Ceiling: GET /api/health (no database, no session) from --users connections in a closed loop
   for --seconds: the most this server and this client do on this machine.
5. Mix: --users virtual users in a closed loop with no think time (each sends its next request
   when the last one is answered: the server is kept saturated, so this measures throughput and
   the latencies under saturation). Each virtual user is one of the demo people (the 30 people
   are shared round-robin, so some have two tabs open); leaders and managers open the team
   dashboard too. Request kinds and their weights (reps / managers and the leader):
   opportunity page 30/30, team dashboard 0/30, API list of opportunities 20/20, API opportunity
   detail 20/20, API write: a comment on an account plan 5/5, API write: qualification answers 5/5
   (each virtual user's first requests go through every kind once, so a short run has them all).
6. Goal: an open loop at a fixed arrival rate (--rate, 100 requests/s) of opportunity pages (the
   people and their deals in turn) for --seconds; latency is measured from the moment a request
   was due, so a server that falls behind shows it (no coordinated omission). --also-rates 25,50
   adds open loops at lower rates: where the p99 goal does hold on this machine.

Every answer must have the status its request expects (200; 201 for a comment); anything else, or
a connection error or a timeout, is an error: the run prints which and exits with status 1. The
table gives count, throughput, p50/p95/p99 per request kind, and the CPU time this process (the
load generator) and the server used in each phase (they share the machine's cores).
Everything is cleaned up at the end, also after Ctrl-C: the server is stopped, the temporary data
folder removed and the PostgreSQL database dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MARK = "<!-- load.py {} -->"
ENGINE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/dp_load"
HOST = "127.0.0.1"
GOAL_P99_MS = 100.0
# request kinds: (label, expected status)
KINDS = {
    "health": ("GET /api/health (ceiling)", 200),
    "opportunity": ("opportunity page", 200),
    "dashboard": ("team dashboard page", 200),
    "api_list": ("API: list opportunities", 200),
    "api_detail": ("API: opportunity detail", 200),
    "api_comment": ("API write: plan comment", 201),
    "api_qualify": ("API write: qualification", 200),
}
WEIGHTS = {
    "rep": {"opportunity": 30, "api_list": 20, "api_detail": 20, "api_comment": 5, "api_qualify": 5},
    "manager": {"opportunity": 30, "dashboard": 30, "api_list": 20, "api_detail": 20, "api_comment": 5, "api_qualify": 5},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- the prepared database (in a child process, Django set up for one database) -------------------------------------


def prepare() -> None:
    """The demo organisation plus what the load needs; prints the people, their ids and tokens as JSON."""
    sys.path.insert(0, str(SRC))
    from dealpilot.cli import setup_django

    setup_django()
    from django.db import transaction

    from dealpilot.crm.models import Account, Opportunity, Role, User
    from dealpilot.crm.services import create_api_token
    from dealpilot.deals.models import QualificationQuestion
    from dealpilot.deals.services import ensure_defaults
    from dealpilot.demo import loader
    from dealpilot.planning import services as planning
    from dealpilot.planning.models import AccountPlan

    scale = float(os.environ.get("LOAD_SCALE", "1"))
    if scale != 1:  # a smaller (or larger) organisation of the same kind, for the smoke test
        loader.DEMO_SCALE = {k: max(20, int(v * scale)) for k, v in loader.DEMO_SCALE.items()}
    t0 = time.perf_counter()
    loader.ensure_demo_organisation()
    demo_s = time.perf_counter() - t0
    rng = random.Random(7)
    people = []
    with transaction.atomic():
        ensure_defaults()
        question = next(q for q in QualificationQuestion.objects.filter(is_active=True).order_by("order", "id") if q.allowed_answers)
        users = list(User.objects.filter(role__in=[Role.LEADER, Role.MANAGER, Role.REP], is_active=True).exclude(crm_id="")
                     .order_by("id"))
        # with --people, a manager and a rep in turn
        bosses, reps = [u for u in users if u.role != Role.REP], [u for u in users if u.role == Role.REP]
        users = [u for pair in zip(bosses, reps) for u in pair] + bosses[len(reps):] + reps[len(bosses):]
        for user in users:
            if user.role == Role.REP:  # a plan on one of the rep's accounts, to comment on
                account = Account.objects.filter(owner=user).order_by("id").first()
                if account is not None and not AccountPlan.objects.filter(account=account).exists():
                    planning.create_plan(user, account.pk)
        for user in users:
            visible = list(Opportunity.objects.visible_to(user).order_by("id").values_list("id", flat=True))
            own_open = list(Opportunity.objects.filter(owner=user, is_closed=False).order_by("id").values_list("id", flat=True))
            if user.role != Role.REP:  # managers answer on their team's deals
                own_open = list(Opportunity.objects.visible_to(user).filter(is_closed=False).order_by("id").values_list("id", flat=True))
            plans = list(AccountPlan.objects.filter(account__in=Account.objects.visible_to(user)).order_by("id")
                         .values_list("account_id", flat=True))
            if not visible or not own_open or not plans:
                continue
            if len(people) >= int(os.environ.get("LOAD_PEOPLE", "1000")):
                break
            _, token = create_api_token(user, "load test")
            people.append({
                "username": user.username, "role": "rep" if user.role == Role.REP else "manager",
                "opportunities": rng.sample(visible, min(60, len(visible))),
                "open_opportunities": rng.sample(own_open, min(10, len(own_open))),
                "plan_accounts": plans[:5], "token": token,
            })
    profile = profile_kinds(people, {"key": question.key, "answers": list(question.allowed_answers)}) if PROFILE_REQUESTS else {}
    print(json.dumps({
        "password": loader.DEMO_PASSWORD, "people": people, "demo_seconds": demo_s, "profile": profile,
        "question": {"key": question.key, "answers": list(question.allowed_answers)},
        "counts": {"opportunities": Opportunity.objects.count(), "accounts": Account.objects.count(), "people": len(people)},
    }))


PROFILE_REQUESTS = int(os.environ.get("LOAD_PROFILE_REQUESTS", "20"))


def profile_kinds(people: list[dict], question: dict) -> dict:
    """What each request kind costs the server by itself: the same requests through Django's test client
    in this process (no network, no gunicorn, one at a time), with the queries counted
    (CaptureQueriesContext) and this process's CPU time (the database's own work is in it on SQLite,
    not on PostgreSQL). Opportunity pages are split into open and closed deals: an open deal's page
    also computes its win probability and signals."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    from dealpilot.crm.models import Opportunity, User

    by_name = {p["username"]: p for p in people}
    users = {u.username: u for u in User.objects.filter(username__in=by_name)}
    clients = {}
    for name, user in users.items():
        clients[name] = TestClient(HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
        clients[name].force_login(user)
    closed = set(Opportunity.objects.filter(is_closed=True).values_list("id", flat=True))
    names = sorted(by_name)
    managers = [n for n in names if by_name[n]["role"] == "manager"]
    rng = random.Random(3)
    flip = [0]

    def request(kind: str, i: int):
        person = by_name[(managers if kind == "dashboard" else names)[i % len(managers if kind == "dashboard" else names)]]
        client = clients[person["username"]]
        token = {"HTTP_AUTHORIZATION": f"Bearer {person['token']}"}
        if kind.startswith("opportunity"):
            want_closed = kind == "opportunity_closed"
            pk = next((o for o in rng.sample(person["opportunities"], len(person["opportunities"])) if (o in closed) == want_closed),
                      person["opportunities"][0])
            return client.get(f"/opportunities/{pk}/", secure=True)
        if kind == "dashboard":
            return client.get("/team/", secure=True)
        if kind == "api_list":
            return client.get(f"/api/crm/opportunities?page={rng.randint(1, 5)}", secure=True, **token)
        if kind == "api_detail":
            return client.get(f"/api/crm/opportunities/{rng.choice(person['opportunities'])}", secure=True, **token)
        if kind == "api_comment":
            return client.post(f"/api/planning/accounts/{rng.choice(person['plan_accounts'])}/plan/comments",
                               {"text": "Profiled note"}, content_type="application/json", secure=True, **token)
        if kind == "api_qualify":
            flip[0] += 1
            body = {"answers": {question["key"]: question["answers"][flip[0] % len(question["answers"])]}}
            return client.put(f"/api/deals/opportunities/{rng.choice(person['open_opportunities'])}/qualification", body,
                              content_type="application/json", secure=True, **token)
        return clients[names[0]].get("/api/health", secure=True)

    out = {}
    for kind in ("health", "opportunity_closed", "opportunity_open", "dashboard", "api_list", "api_detail", "api_comment",
                 "api_qualify"):
        for i in range(3):  # warm: templates compiled, caches filled
            request(kind, i)
        cpu, queries = [], []
        for i in range(PROFILE_REQUESTS):
            c0 = time.process_time()
            with CaptureQueriesContext(connection) as captured:
                response = request(kind, i)
            cpu.append((time.process_time() - c0) * 1000)
            queries.append(len(captured.captured_queries))
            assert response.status_code in (200, 201), f"{kind}: HTTP {response.status_code}"
        cpu.sort()
        out[kind] = {"cpu_ms": cpu[len(cpu) // 2], "queries": sum(queries) / len(queries)}
    return out


# ---- the server ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`dealpilot serve` in a child process (its own process group), and its CPU time."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path):
        self.port = free_port()
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "dealpilot.cli", "serve", "--host", HOST, "--port", str(self.port),
                   "--workers", str(self.workers)]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"http://{HOST}:{self.port}/api/health", headers={"X-Forwarded-Proto": "https"})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def processes(self) -> list:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the supervisor, gunicorn's master and workers and the task worker."""
        import psutil

        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def worker_cpu(self) -> dict[int, float]:
        """CPU seconds of each gunicorn worker (not the master), by process id."""
        import psutil

        out = {}
        for p in self.processes():
            try:
                cmd = " ".join(p.cmdline())
                if "gunicorn" in cmd and p.ppid() != self.proc.pid:
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out

    def web_workers(self) -> int:
        return sum(1 for p in self.processes() if "gunicorn" in " ".join(p.cmdline())) - 1  # less the master

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the supervisor stops gunicorn and the task worker
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # children in their own process groups, if the supervisor could not stop them
        for p in self.processes():
            try:
                p.kill()
            except Exception:
                pass
        self.log_file.close()
        self.proc = None


# ---- the load --------------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    latency: float  # seconds
    error: str | None  # what went wrong (an unexpected status, an exception), None when all was well
    path: str = ""


@dataclass
class Phase:
    name: str
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    worker_cpu: list[float] = field(default_factory=list)  # each gunicorn worker's share of server_cpu
    machine_cpu: float = 0.0  # every process's CPU time on the machine (the others: PostgreSQL, other work)
    target_rate: float | None = None


@dataclass
class Person:
    username: str
    role: str
    opportunities: list[int]
    open_opportunities: list[int]
    plan_accounts: list[int]
    token: str
    cookie: str = ""  # the session cookie, after the login


class Client:
    """Sends one request of a kind for a person and records it (aiohttp, keep-alive connections)."""

    def __init__(self, session, base: str, question: dict, seed: int):
        self.session = session
        self.base = base
        self.question = question
        self.rng = random.Random(seed)
        self.flip = 0

    def request(self, kind: str, person: Person):
        rng = self.rng
        headers = {"X-Forwarded-Proto": "https"}
        if kind in ("opportunity", "dashboard"):
            headers["Cookie"] = person.cookie
        elif kind != "health":
            headers["Authorization"] = f"Bearer {person.token}"
        if kind == "health":
            return "GET", "/api/health", headers, None
        if kind == "opportunity":
            return "GET", f"/opportunities/{rng.choice(person.opportunities)}/", headers, None
        if kind == "dashboard":
            return "GET", "/team/", headers, None
        if kind == "api_list":
            return "GET", f"/api/crm/opportunities?page={rng.randint(1, 5)}&status={rng.choice(['', 'open'])}", headers, None
        if kind == "api_detail":
            return "GET", f"/api/crm/opportunities/{rng.choice(person.opportunities)}", headers, None
        if kind == "api_comment":
            body = {"text": f"Load test note {secrets.token_hex(4)}: next step agreed with the buyer."}
            return "POST", f"/api/planning/accounts/{rng.choice(person.plan_accounts)}/plan/comments", headers, body
        if kind == "api_qualify":
            self.flip += 1
            answers = self.question["answers"]
            body = {"answers": {self.question["key"]: answers[self.flip % len(answers)]}}
            return "PUT", f"/api/deals/opportunities/{rng.choice(person.open_opportunities)}/qualification", headers, body
        raise ValueError(kind)

    async def send(self, kind: str, person: Person, started: float | None = None) -> Sample:
        import aiohttp

        method, path, headers, body = self.request(kind, person)
        t0 = time.perf_counter() if started is None else started
        error = None
        try:
            async with self.session.request(method, self.base + path, headers=headers, json=body, allow_redirects=False) as response:
                await response.read()
                if response.status != KINDS[kind][1]:
                    error = f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__} {exc}".strip()
        return Sample(kind, time.perf_counter() - t0, error, f"{method} {path}")


async def login(session, base: str, person: Person, password: str) -> None:
    """The real login form: GET it for the CSRF cookie and token, POST the credentials, keep the session cookie."""
    import aiohttp

    https = {"X-Forwarded-Proto": "https"}
    patient = aiohttp.ClientTimeout(total=60)  # not the load's --timeout: this is set-up
    async with session.get(f"{base}/login/", headers=https, allow_redirects=False, timeout=patient) as r:
        page = await r.text()
        assert r.status == 200, f"GET /login/: HTTP {r.status}"
        csrf_cookie = r.cookies["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    host = base.split("://", 1)[1]
    headers = {**https, "Cookie": f"csrftoken={csrf_cookie}", "Origin": f"https://{host}", "Referer": f"https://{host}/login/"}
    async with session.post(f"{base}/login/", headers=headers, allow_redirects=False, timeout=patient,
                            data={"username": person.username, "password": password, "csrfmiddlewaretoken": token}) as r:
        await r.read()
        if r.status != 302 or "sessionid" not in r.cookies:
            raise RuntimeError(f"login of {person.username} failed: HTTP {r.status}")
        person.cookie = f"sessionid={r.cookies['sessionid'].value}"


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def cpu_now(server: Server) -> tuple[float, float, dict[int, float], float]:
    t = os.times()
    return t.user + t.system, server.cpu_seconds(), server.worker_cpu(), machine_busy()


def finish(phase: Phase, before: tuple, server: Server) -> None:
    c1, s1, w1, m1 = cpu_now(server)
    c0, s0, w0, m0 = before
    phase.client_cpu, phase.server_cpu, phase.machine_cpu = c1 - c0, s1 - s0, m1 - m0
    phase.worker_cpu = sorted((w1[pid] - w0.get(pid, 0.0) for pid in w1), reverse=True)


async def closed_loop(name: str, session, base: str, people: list[Person], question: dict, users: int, seconds: float,
                      server: Server, only: str | None = None) -> Phase:
    """`users` virtual users, each sending its next request as soon as the last is answered, until time is up."""
    phase = Phase(name, seconds)
    before = cpu_now(server)
    start = time.perf_counter()
    deadline = start + seconds

    async def user(i: int) -> None:
        person = people[i % len(people)]
        client = Client(session, base, question, seed=1000 + i)
        kinds, weights = zip(*WEIGHTS[person.role].items())
        first = client.rng.sample(kinds, len(kinds))  # every kind once (in a random order), then at random by weight
        while time.perf_counter() < deadline:
            kind = only or (first.pop() if first else client.rng.choices(kinds, weights)[0])
            phase.samples.append(await client.send(kind, person))

    await asyncio.gather(*(user(i) for i in range(users)))
    phase.seconds = time.perf_counter() - start
    finish(phase, before, server)
    return phase


async def open_loop(name: str, session, base: str, people: list[Person], question: dict, rate: float, seconds: float,
                    server: Server, kind: str = "opportunity") -> Phase:
    """Requests due at a fixed rate (one every 1/rate s), each sent when due whatever the earlier ones are doing;
    latency counts from when it was due."""
    phase = Phase(name, seconds, target_rate=rate)
    client = Client(session, base, question, seed=99)
    before = cpu_now(server)
    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []

    async def one(i: int, due: float) -> None:
        phase.samples.append(await client.send(kind, people[i % len(people)], started=due))

    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - start
    finish(phase, before, server)
    return phase


async def run_load(base: str, prepared: dict, args, server: Server) -> list[Phase]:
    import aiohttp

    people = [Person(**{k: p[k] for k in ("username", "role", "opportunities", "open_opportunities", "plan_accounts", "token")})
              for p in prepared["people"]]
    question = prepared["question"]
    # keep-alive: a browser's (or a keep-alive proxy's) connections; --new-connections: one per request, as nginx proxies by default
    # at most 256 connections: an open loop the server cannot keep up with queues its requests here (still timed from
    # when they were due) rather than in thousands of sockets
    connector = aiohttp.TCPConnector(limit=max(256, args.users), force_close=args.new_connections)
    # the server's time only (connecting, then waiting for the answer): a request queued in the client for a free
    # connection is slow, which its latency shows, not an error
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=args.timeout, sock_read=args.timeout)
    # cookies are sent by hand: the session cookie is Secure (HTTPS only) and the client speaks HTTP to the loopback
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as session:
        t0 = time.perf_counter()
        for person in people:
            await login(session, base, person, prepared["password"])
        log(f"  {len(people)} people logged in through the login form in {time.perf_counter() - t0:.1f} s")
        phases = []
        warm = await closed_loop("warm-up", session, base, people, question, args.users, args.warmup, server)
        log(f"  warm-up: {len(warm.samples)} requests in {warm.seconds:.1f} s")
        phases.append(warm)
        for name, make in (
            ("ceiling", lambda: closed_loop("ceiling", session, base, people, question, args.users, args.seconds, server, only="health")),
            ("mix", lambda: closed_loop("mix", session, base, people, question, args.users, args.seconds, server)),
            ("goal", lambda: open_loop("goal", session, base, people, question, args.rate, args.seconds, server)),
            *((f"open loop at {r:g}/s", lambda r=r: open_loop(f"open loop at {r:g}/s", session, base, people, question, r,
                                                               args.seconds, server)) for r in args.also_rates),
        ):
            phase = await make()
            log(f"  {name}: {len(phase.samples)} requests in {phase.seconds:.1f} s; CPU s: server {phase.server_cpu:.1f} "
                f"(web workers {', '.join(f'{w:.1f}' for w in phase.worker_cpu)}), load generator {phase.client_cpu:.1f}, "
                f"whole machine {phase.machine_cpu:.1f}")
            phases.append(phase)
    return phases


# ---- numbers ---------------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


@dataclass
class Row:
    phase: str
    kind: str
    count: int
    rate: float
    p50: float
    p95: float
    p99: float
    errors: int


def rows_of(phase: Phase) -> list[Row]:
    by_kind: dict[str, list[Sample]] = {}
    for s in phase.samples:
        by_kind.setdefault(s.kind, []).append(s)
    rows = []
    for kind in KINDS:
        samples = by_kind.get(kind)
        if not samples:
            continue
        lat = sorted(s.latency * 1000 for s in samples)
        rows.append(Row(phase.name, kind, len(samples), len(samples) / phase.seconds, percentile(lat, 50), percentile(lat, 95),
                        percentile(lat, 99), sum(1 for s in samples if s.error)))
    if len(rows) > 1:
        lat = sorted(s.latency * 1000 for s in phase.samples)
        rows.append(Row(phase.name, "all", len(phase.samples), len(phase.samples) / phase.seconds, percentile(lat, 50),
                        percentile(lat, 95), percentile(lat, 99), sum(1 for s in phase.samples if s.error)))
    return rows


@dataclass
class EngineResult:
    engine: str
    phases: list[Phase]
    counts: dict
    workers: int
    version: str
    prepare_seconds: float
    profile: dict

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    def errors(self) -> dict[str, int]:
        """'phase, request kind: what (e.g. METHOD PATH)' -> how many."""
        out: dict[str, int] = {}
        example: dict[tuple, str] = {}
        for p in self.phases:
            for s in p.samples:
                if s.error:
                    key = (p.name, KINDS[s.kind][0], s.error)
                    example.setdefault(key, s.path)
                    out[key] = out.get(key, 0) + 1
        return {f"{phase}, {kind}: {error} (e.g. {example[(phase, kind, error)]})": n for (phase, kind, error), n in out.items()}


def table(result: EngineResult) -> list[str]:
    ceiling = rows_of(result.phase("ceiling"))[0]
    lines = ["| phase | request | count | req/s | p50 ms | p95 ms | p99 ms | errors | p50 / health p50 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    titles = {"ceiling": "ceiling", "mix": "mix, closed loop", "goal": "open loop, fixed rate"}
    for phase in result.phases:
        if phase.name == "warm-up":
            continue
        for r in rows_of(phase):
            name = phase.name
            titles.setdefault(name, name)
            label = "all of the mix" if r.kind == "all" else KINDS[r.kind][0]
            # against the health endpoint at the same concurrency (closed loops only; an open loop's latency is another measure)
            ratio = f"{r.p50 / ceiling.p50:.1f}x" if ceiling.p50 > 0 and phase.target_rate is None else ""
            lines.append(f"| {titles[name]} | {label} | {r.count:,} | {r.rate:,.1f} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | "
                         f"{r.errors} | {ratio} |")
    return lines


def summary(result: EngineResult, args) -> list[str]:
    ceiling, mix, goal = (result.phase(n) for n in ("ceiling", "mix", "goal"))
    c_rate = len(ceiling.samples) / ceiling.seconds
    m_rate = len(mix.samples) / mix.seconds
    g = rows_of(goal)[0]
    met = g.p99 < GOAL_P99_MS and g.errors == 0  # latency counts from when each request was due: falling behind shows
    out = [
        f"- **mix throughput**: {m_rate:,.1f} requests/s = {m_rate / c_rate:.1%} of the health endpoint's {c_rate:,.0f}/s "
        f"at the same concurrency.",
        f"- **goal** (opportunity page p99 < {GOAL_P99_MS:.0f} ms at {args.rate:g} requests/s): "
        f"{'met' if met else 'NOT met'} (p99 {g.p99:.1f} ms; {g.count:,} requests sent on time, all answered after "
        f"{goal.seconds:.1f} s, {g.errors} errors).",
        f"- **CPU** (cores busy on average during each phase, of the machine's {os.cpu_count()}): "
        + "; ".join(f"{p.name}: server {p.server_cpu / p.seconds:.2f} (web workers "
                    + " + ".join(f"{w / p.seconds:.2f}" for w in p.worker_cpu)
                    + f"), load generator {p.client_cpu / p.seconds:.2f} ({p.client_cpu / max(len(p.samples), 1) * 1000:.2f} ms a request)"
                    + f", everything else {max(p.machine_cpu - p.server_cpu - p.client_cpu, 0) / p.seconds:.2f}"
                    for p in (ceiling, mix, goal)) + (" (everything else: PostgreSQL's own processes and other work on the machine)."
                                                      if result.engine == "PostgreSQL" else " (everything else: other work on the machine)."),
        f"- **data**: the demo organisation ({result.counts['opportunities']:,} opportunities, {result.counts['accounts']:,} accounts), "
        f"{result.counts['people']} people logged in; server: `dealpilot serve --workers {result.workers}` "
        f"(gunicorn gthread, 4 threads a worker, plus the task worker), {result.version}; client connections: "
        + ("a new one for every request." if args.new_connections else "keep-alive (each stays with the worker that accepted it)."),
    ]
    for p in result.phases:
        if p.name.startswith("open loop at"):
            r = rows_of(p)[0]
            ok = r.p99 < GOAL_P99_MS and r.errors == 0
            out.append(f"- **at {p.target_rate:g} requests/s**: p99 {r.p99:.1f} ms ({'under' if ok else 'NOT under'} "
                       f"{GOAL_P99_MS:.0f} ms; all answered after {p.seconds:.1f} s, {r.errors} errors).")
    errors = result.errors()
    if errors:
        out.append("- **errors**: " + "; ".join(f"{k} ({v}x)" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:10]))
    else:
        out.append("- **errors**: none (every answer had the expected status).")
    return out


# ---- one engine ------------------------------------------------------------------------------------------------------


def pg_admin(url: str, sql: str) -> None:
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


def run_engine(engine: str, args, tmp: Path) -> EngineResult:
    name = ENGINE_NAMES[engine]
    log(f"== {name} ==")
    data_dir = tmp / engine
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "DEALPILOT_DATA_DIR": str(data_dir),
        "DEALPILOT_SECRET_KEY": secrets.token_urlsafe(50),
        "DEALPILOT_PRODUCTION": "1",
        "DEALPILOT_ALLOWED_HOSTS": HOST,
        "DEALPILOT_LOG_LEVEL": "WARNING",
        "LOAD_SCALE": str(args.scale),
        "LOAD_PEOPLE": str(args.people),
    })
    env.pop("DEALPILOT_DEBUG", None)
    db_name = None
    if engine == "postgres":
        db_name = args.postgres_url.rsplit("/", 1)[1]
        pg_admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        pg_admin(args.postgres_url, f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = args.postgres_url
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'dealpilot.sqlite3'}"
    server = Server(env, args.workers, tmp / f"{engine}-server.log")
    try:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--prepare"], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"preparing the database failed:\n{proc.stderr[-3000:]}")
        prepared = json.loads(proc.stdout.strip().splitlines()[-1])
        prepare_s = time.perf_counter() - t0
        log(f"  database prepared in {prepare_s:.1f} s (demo organisation {prepared['demo_seconds']:.1f} s)")
        version = version_of(engine, env)
        server.start()
        server.wait_ready()
        log(f"  server up on port {server.port}: {server.web_workers()} web worker(s)")
        phases = asyncio.run(run_load(f"http://{HOST}:{server.port}", prepared, args, server))
        workers = server.web_workers()
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server died during the run:\n{server.tail()}")
        return EngineResult(name, phases, prepared["counts"], workers, version, prepare_s, prepared["profile"])
    finally:
        server.stop()
        if db_name:
            try:
                pg_admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - cleaning up: say so, go on
                log(f"  could not drop {db_name}: {exc}")


def version_of(engine: str, env: dict) -> str:
    if engine == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]


# ---- the report ------------------------------------------------------------------------------------------------------


PROFILE_LABELS = {
    "health": "GET /api/health", "opportunity_closed": "opportunity page, closed deal", "opportunity_open": "opportunity page, open deal",
    "dashboard": "team dashboard page", "api_list": "API: list opportunities", "api_detail": "API: opportunity detail",
    "api_comment": "API write: plan comment", "api_qualify": "API write: qualification",
}


def profile_table(result: EngineResult) -> list[str]:
    if not result.profile:
        return []
    cores = os.cpu_count() or 1
    lines = ["What one request costs the server by itself (Django's test client in one process, one request at a time, "
             f"median of {PROFILE_REQUESTS}; the CPU is the Django process's own"
             + (", SQLite's work included" if result.engine == "SQLite" else ", PostgreSQL's work not included") + "):", "",
             f"| request | queries | CPU ms | requests/s {cores} cores could serve at that cost |", "| --- | ---: | ---: | ---: |"]
    for kind, p in result.profile.items():
        lines.append(f"| {PROFILE_LABELS[kind]} | {p['queries']:.0f} | {p['cpu_ms']:.1f} | {cores * 1000 / max(p['cpu_ms'], 0.01):,.0f} |")
    goal = result.phase("goal")
    per_page = goal.server_cpu / max(len(goal.samples), 1) * 1000
    lines += ["", f"In the open loop the server (gunicorn, its workers and the task worker) used {per_page:.1f} ms of CPU per "
              f"opportunity page, and this process {goal.client_cpu / max(len(goal.samples), 1) * 1000:.2f} ms to send it and read the answer."]
    return lines


def section(result: EngineResult, args, command: str, load: tuple[float, float]) -> str:
    lines = [f"### {result.engine}", "", "```", command, "```", "",
             f"Run {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPU cores shared by the server and the "
             f"load generator (and other work: load average {load[0]:.1f} at the start, {load[1]:.1f} at the end); "
             f"Python {platform.python_version()}, {result.version}; {args.users} users, {args.seconds:g} s a phase after "
             f"{args.warmup:g} s of warm-up.", ""]
    lines += table(result)
    lines += [""] + summary(result, args)
    if result.profile:
        lines += [""] + profile_table(result)
    return "\n".join(lines)


INTRO = """## Under load (bench/load.py)

`bench/load.py` (see its docstring) starts the server the production way, `dealpilot serve --workers 2`:
gunicorn with two gthread workers of four threads each (one process per core; the threads let a
worker answer another request while one waits on the database) plus the task worker, with
`DEALPILOT_PRODUCTION=1` (secure cookies, HSTS, HTTPS redirect: each request carries
`X-Forwarded-Proto: https` as a TLS proxy would), DEBUG off and WhiteNoise. It loads the demo
organisation (`dealpilot demo`'s data, 3,000 opportunities), logs each of its 30 sales people in
through the login form (the session cookie is Secure, so the client sends it itself over the
loopback's plain HTTP), gives each a personal API token, and drives the server from one asyncio
process (aiohttp, keep-alive connections) on 127.0.0.1:

- **ceiling**: `GET /api/health` (no database, session or template) from 50 connections in a closed loop;
- **mix**: 50 virtual users in a closed loop with **no think time** (each sends its next request as
  soon as the last is answered, so the server is saturated and the latencies are queueing under
  saturation): opportunity pages, the team dashboard (managers and the leader), API list and detail
  reads with a token, and two real API writes (a comment on an account plan, a qualification answer
  that rescores the deal);
- **goal**: an open loop of 100 opportunity pages a second (each sent when due, latency counted from
  then, so falling behind shows), judged on p99 < 100 ms.

Any answer other than the expected status (200, 201 for the comment), a connection error or a
timeout is an error: the run lists them and exits 1. **The machine has two cores, shared by the
server, the load generator and other work**: the CPU line under each table says how much each side
used, the last table what each request costs the server by itself, and the honest comparisons are the
ratios to the health endpoint measured in the same run rather than the absolute figures."""


def write_docs(path: Path, results: list[EngineResult], args, command: str, load: tuple[float, float]) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start, end = MARK.format("start"), MARK.format("end")
    if start not in doc or end not in doc:
        blocks = "\n".join(f"{MARK.format(e + ' start')}\n{MARK.format(e + ' end')}" for e in ENGINE_NAMES.values())
        doc = doc.rstrip("\n") + f"\n\n{start}\n{INTRO}\n\n{blocks}\n{end}\n"
    for result in results:
        s, e = MARK.format(result.engine + " start"), MARK.format(result.engine + " end")
        block = f"{s}\n{section(result, args, command, load)}\n{e}"
        doc = doc[: doc.index(s)] + block + doc[doc.index(e) + len(e):]
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--users", type=int, default=50, help="concurrent virtual users (closed loop)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured phase")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured mix before the phases")
    parser.add_argument("--rate", type=float, default=100, help="opportunity pages a second in the open loop")
    parser.add_argument("--also-rates", type=lambda text: [float(x) for x in text.split(",") if x], default=[],
                        help="more open loops of opportunity pages after the goal, at these rates (e.g. 25,50)")
    parser.add_argument("--new-connections", action="store_true",
                        help="a new connection for every request (as nginx talks to its upstream by default) instead of keep-alive")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (dealpilot serve --workers)")
    parser.add_argument("--scale", type=float, default=1, help="size of the demo organisation (1 = as `dealpilot demo` makes it)")
    parser.add_argument("--people", type=int, default=1000, help="at most this many of the demo people log in (all by default)")
    parser.add_argument("--timeout", type=float, default=30, help="a connection not made, or an answer not coming, in this many seconds is an error")
    parser.add_argument("--postgres-url", default=os.environ.get("LOAD_POSTGRES_URL", DEFAULT_PG),
                        help="a database of your own: dropped, created, and dropped again at the end")
    parser.add_argument("--write-docs", type=Path)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.prepare:
        prepare()
        return

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    command = " ".join([".venv/bin/python bench/load.py"] + sys.argv[1:])
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="dealpilot-load-"))
    results = []
    try:
        for engine in engines:
            results.append(run_engine(engine, args, tmp))
    except KeyboardInterrupt:
        log("interrupted: cleaned up")
        sys.exit(130)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = (load_start, os.getloadavg()[0])
    for result in results:
        print(f"\n{section(result, args, command, load)}")
    if args.write_docs:
        write_docs(args.write_docs, results, args, command, load)
        print(f"\nwritten to {args.write_docs}")
    failed = {r.engine: r.errors() for r in results if r.errors()}
    if failed:
        for engine, errors in failed.items():
            log(f"ERRORS on {engine}:")
            for what, n in sorted(errors.items(), key=lambda kv: -kv[1]):
                log(f"  {n}x {what}")
        sys.exit(1)


if __name__ == "__main__":
    main()
