"""Attack the running product as an outsider would (issue 12) and print the figures.

Production shape on PostgreSQL: a fresh ``attack`` database on the server of
``ATTACK_DATABASE_URL`` (default the shared local cluster), migrated and seeded with the
demo and its last-month history; the sandboxes; ``gunicorn -w 4 wsgi:app`` on a free
loopback port; two ``python -m app.worker``. Then, each attack counting outcomes:

- 5xx: concurrent races over HTTP (assign, start, cancel, unassign, approve, re-quote,
  first settlement generation of a period) and a burst of bad input;
- duplicates after kill -9: approval messages queued, one worker killed while it sends, the
  other finishes after the lease (simulated by ending the lease in the database);
- stuck keys: slow quotes with Idempotency-Key, gunicorn workers killed mid-request; keys
  left ``pending``, and how many a retry takes over once the lease has passed (simulated by
  backdating ``created_at`` by more than ``app.idempotency.PENDING_LEASE``);
- accepted forgeries: forged, expired and alg-none JWTs; forged, stale, shifted, tampered
  and replayed webhooks;
- escalations: a unit admin granting platform roles, unit users reaching other units' objects;
- the gateway's endpoint: bad bodies and forged secrets, one fix sent 24 times at once, one
  vehicle's fixes interleaved by 4 senders across the workers;
- rate limit: 200 bad login codes from one client.

Nothing is asserted: the table at the end is the result. Quote rounds are rate-limited per
user and gunicorn worker; the setup raises that limit (``OTB_RATELIMIT_QUOTES``) so that
the attacks can build their trips; sign-in keeps the production default. Every process
started here is stopped at the end; the database is left for inspection and dropped by
the next run.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import requests
from sqlalchemy import create_engine, make_url, text

from providers.sandbox import runner

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:54329"
DATABASE = "attack"
STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "天宁区政府", "lat": 31.78, "lng": 119.98}]
APPROVERS = ("demo-approver", "demo-city-approver", "demo-platform-approver")
LOGINS = ("demo-traveler", *APPROVERS, "demo-dispatcher", "demo-driver", "demo-finance",
          "demo-admin", "demo-traveler-2", "demo-approver-2")
TIMEOUT = 20


# --- the product, as production runs it ---------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database() -> str:
    server = make_url(os.environ.get("ATTACK_DATABASE_URL", DEFAULT_SERVER))
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return server.set(database=DATABASE).render_as_string(hide_password=False)


def seed(url: str, settings: dict) -> str:
    """Migrate and load the demo with last month's history; returns that month (YYYY-MM)."""
    from app import clock, create_app, db, demo_history
    from app.migrate import upgrade

    upgrade(url)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandboxes' request lines
    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True, **settings})
    with app.app_context():
        demo_history.seed_demo_with_history(db.session)
        db.session.commit()
        period = demo_history.period_label(clock.now())
        db.session.get_bind().dispose()
        db.session.remove()
    return period


class Product:
    """gunicorn -w 4 and two workers on the sandboxes; stopped by ``stop``."""

    def __init__(self, url: str, logs: Path):
        self.logs = logs
        self.workers: list[subprocess.Popen] = []
        self.gunicorn = None
        self.sandboxes = runner.start_all(0)
        try:
            self._start_all(url)
        except BaseException:
            self.stop()
            raise

    def _start_all(self, url: str) -> None:
        settings = runner.settings_for(self.sandboxes)
        self.period = seed(url, settings)
        self.env = {**os.environ, "DATABASE_URL": url, "OTB_SANDBOX_MODE": "1",
                    "OTB_JWT_SECRET": secrets.token_urlsafe(48),
                    "OTB_WECHAT_BASE_URL": settings["WECHAT_BASE_URL"],
                    "OTB_PROVIDERS_JSON": settings["PROVIDERS_JSON"],
                    "OTB_RATELIMIT_QUOTES": "100000 per minute",
                    "OTB_TRACCAR_TOKEN": secrets.token_urlsafe(24)}
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.gunicorn = self._start("gunicorn", [sys.executable, "-m", "gunicorn", "-w", "4",
                                                 "-b", f"127.0.0.1:{port}", "wsgi:app"])
        self.workers = [self._start(f"worker-{i}", [sys.executable, "-m", "app.worker"])
                        for i in (1, 2)]
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.base}/openapi.json", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn did not start; see {self.logs}")
            time.sleep(0.2)

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "w")
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT)

    def gunicorn_workers(self) -> list[int]:
        pid = self.gunicorn.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def sandbox(self, name: str) -> str:
        return self.sandboxes[name].url

    def stop(self) -> None:
        procs = [p for p in [*self.workers, self.gunicorn] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for server in self.sandboxes.values():
            server.stop()


# --- a client that tallies every answer -----------------------------------------------------

class Client:
    def __init__(self, base: str, jwt_secret: str):
        self.base = base
        self.jwt_secret = jwt_secret  # the API's, to sign expired and misaddressed tokens
        self.tokens: dict[str, str] = {}
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self._lock = threading.Lock()

    def login(self, openid: str) -> str:
        resp = self.request("POST", "/auth/wechat-login", json={"code": f"sandbox:{openid}"})
        if resp.status_code != 200:
            raise RuntimeError(f"login {openid}: {resp.status_code} {resp.text[:200]}")
        self.tokens[openid] = resp.json()["access_token"]
        return self.tokens[openid]

    def request(self, method: str, path: str, who: str | None = None, *, key: str | None = None,
                token: str | None = None, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        token = token or (self.tokens[who] if who else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        resp = requests.request(method, f"{self.base}{path}", headers=headers,
                                timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)
        with self._lock:
            self.statuses[resp.status_code] += 1
            if resp.status_code >= 500:
                self.server_errors.append(f"{resp.status_code} {method} {path[:60]}: "
                                          f"{resp.text[:120].strip()}")
        return resp

    def ok(self, method: str, path: str, who: str, expect: int = 200, **kwargs) -> dict:
        resp = self.request(method, path, who, **kwargs)
        if resp.status_code != expect:
            raise RuntimeError(f"{method} {path} as {who}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else {}

    def race(self, n: int, method: str, path: str, who: str, **kwargs) -> Counter:
        """``n`` identical requests at once; their statuses."""
        barrier = threading.Barrier(n)

        def one(_):
            barrier.wait()
            try:
                return self.request(method, path, who, **kwargs).status_code
            except requests.RequestException as exc:
                return type(exc).__name__

        with ThreadPoolExecutor(n) as pool:
            return Counter(pool.map(one, range(n)))


def trip_body(depart_in: timedelta, hours: float = 1.0, **over) -> dict:
    depart = datetime.now(timezone.utc) + depart_in
    return {"purpose": {"category": "meeting", "text": "市政府专题会议"},
            "passengers": [{"name": "张明"}], "stops": STOPS, "depart_at": depart.isoformat(),
            "return_at": (depart + timedelta(hours=hours)).isoformat(), "vehicle_class": "sedan",
            **over}


class Trips:
    def __init__(self, c: Client):
        self.c = c

    def draft(self, who: str = "demo-traveler", depart_in=timedelta(days=2), hours=1.0) -> int:
        return self.c.ok("POST", "/trips", who, 201, json=trip_body(depart_in, hours))["id"]

    def submitted(self, who: str = "demo-traveler", **kw) -> int:
        trip_id = self.draft(who, **kw)
        offers = self.c.ok("POST", f"/trips/{trip_id}/quotes", who)["offers"]
        offer = next(o for o in offers if o["channel"] == "fleet" and o["compliant"])
        self.c.ok("POST", f"/trips/{trip_id}/submit", who, json={"offer_id": offer["id"]})
        return trip_id

    def approved(self, who: str = "demo-traveler", **kw) -> int:
        trip_id = self.submitted(who, **kw)
        for _ in range(3):
            for task in self.tasks(trip_id):
                self.c.ok("POST", f"/approvals/{task['id']}/approve", task["_who"],
                          json={"comment": "同意"})
        return trip_id

    def tasks(self, trip_id: int) -> list[dict]:
        found = []
        for approver in APPROVERS + ("demo-approver-2",):
            for task in self.c.ok("GET", "/approvals?state=pending", approver)["items"]:
                if task["trip_id"] == trip_id:
                    found.append({**task, "_who": approver})
        return found

    def assigned(self, depart_in=timedelta(days=2), **body) -> tuple[int, dict]:
        trip_id = self.approved(depart_in=depart_in)
        return trip_id, self.c.ok("POST", f"/trips/{trip_id}/assign", "demo-dispatcher",
                                  json=body)


# --- the attacks ------------------------------------------------------------------------------

def races(c: Client, trips: Trips, period: str) -> dict[str, Counter]:
    drivers = c.ok("GET", "/admin/drivers?limit=100", "demo-admin")["items"]
    me = c.ok("GET", "/me", "demo-driver")
    own = next(d["id"] for d in drivers if d.get("user_id") == me["id"])
    out = {}
    start_trip, assignment = trips.assigned(depart_in=timedelta(minutes=60), driver_id=own)
    odometer = str(assignment["vehicle"]["odometer_km"])
    out["start ×8"] = c.race(8, "POST", f"/trips/{start_trip}/start", "demo-driver",
                             json={"odometer_km": odometer})
    out["assign ×8"] = c.race(8, "POST", f"/trips/{trips.approved()}/assign",
                              "demo-dispatcher", json={})
    trip_id, _ = trips.assigned(depart_in=timedelta(days=3))
    out["cancel ×8"] = c.race(8, "POST", f"/trips/{trip_id}/cancel", "demo-traveler",
                              json={"reason": "会议取消"})
    trip_id, _ = trips.assigned(depart_in=timedelta(days=4))
    out["unassign ×8"] = c.race(8, "POST", f"/trips/{trip_id}/unassign", "demo-dispatcher",
                                json={"reason": "车辆调整"})
    task = trips.tasks(trips.submitted())[0]
    out["approve ×8"] = c.race(8, "POST", f"/approvals/{task['id']}/approve", task["_who"],
                               json={"comment": "同意"})
    out["re-quote ×8"] = c.race(8, "POST", f"/trips/{trips.draft()}/quotes", "demo-traveler")
    out[f"settle {period} ×8"] = c.race(8, "POST", "/settlements", "demo-finance",
                                        json={"period": period})
    return out


def bad_input(c: Client, trips: Trips) -> dict:
    """Each case's status: ids beyond range, a lone surrogate, deep JSON, extreme dates,
    oversized lists, a second driver record, NUL bytes in free text."""
    huge = "99999999999999999999"
    trip_id = trips.draft()
    driver_user = c.ok("GET", "/me", "demo-driver")
    json_type = {"Content-Type": "application/json"}
    deep = "[" * 100_000 + "]" * 100_000
    surrogate = json.dumps(trip_body(timedelta(days=1), purpose={"category": "meeting",
                                                                  "text": "SURROGATE"}))
    nul = {"category": "meeting", "text": "会议\x00"}
    cases = {
        "GET trip id 10^20": ("GET", f"/trips/{huge}", "demo-traveler", {}),
        "GET trip id 2^63": ("GET", "/trips/9223372036854775808", "demo-traveler", {}),
        "GET trips cursor 10^20": ("GET", f"/trips?cursor={huge}", "demo-traveler", {}),
        "GET trips limit 10^20": ("GET", f"/trips?limit={huge}", "demo-traveler", {}),
        "GET trips cursor emoji+NUL": ("GET", "/trips?cursor=%F0%9F%98%80%00", "demo-traveler",
                                       {}),
        "GET admin user 10^20": ("GET", f"/admin/users/{huge}", "demo-admin", {}),
        "GET settlements unit_id 10^20": ("GET", f"/settlements?unit_id={huge}", "demo-finance",
                                          {}),
        "GET settlements period 0000-01": ("GET", "/settlements?period=0000-01", "demo-finance",
                                           {}),
        "submit offer_id 10^20": ("POST", f"/trips/{trip_id}/submit", "demo-traveler",
                                  {"json": {"offer_id": int(huge)}}),
        "trip with lone surrogate": ("POST", "/trips", "demo-traveler", {
            "data": surrogate.replace("SURROGATE", "\\ud800"), "headers": json_type}),
        "trip JSON 100,000 deep": ("POST", "/trips", "demo-traveler",
                                   {"data": deep, "headers": json_type}),
        "trip object 50,000 deep": ("POST", "/trips", "demo-traveler", {
            "data": '{"a":' * 50_000 + "1" + "}" * 50_000, "headers": json_type}),
        "webhook JSON 100,000 deep": ("POST", "/webhooks/ridehail", None,
                                      {"data": deep, "headers": json_type}),
        "depart 9999-12-31T20:00-12:00": ("POST", "/trips", "demo-traveler", {
            "json": trip_body(timedelta(days=1), depart_at="9999-12-31T20:00-12:00")}),
        "depart 0001-01-01+14:00": ("POST", "/trips", "demo-traveler", {
            "json": trip_body(timedelta(days=1), depart_at="0001-01-01T00:00:00+14:00")}),
        "trip of 10 years": ("POST", "/trips", "demo-traveler",
                             {"json": trip_body(timedelta(days=1), hours=87600)}),
        "100,000 passengers": ("POST", "/trips", "demo-traveler", {"json": trip_body(
            timedelta(days=1), passengers=[{"name": "x" * 50}] * 100_000)}),
        "settle period 0000-01": ("POST", "/settlements", "demo-finance",
                                  {"json": {"period": "0000-01"}}),
        "settle period 9999-13": ("POST", "/settlements", "demo-finance",
                                  {"json": {"period": "9999-13"}}),
        "second driver record": ("POST", "/admin/drivers", "demo-admin", {"json": {
            "name": "钱进", "phone": "13900000001", "unit_id": 1, "user_id": driver_user["id"],
            "license_class": "B1"}}),
        "billing preview km 1e400": ("POST", "/billing/preview", "demo-finance",
                                     {"json": {"km": "1e400"}}),
        "trip purpose with NUL": ("POST", "/trips", "demo-traveler",
                                  {"json": trip_body(timedelta(days=1), purpose=nul)}),
        "cancel reason with NUL": ("POST", f"/trips/{trip_id}/cancel", "demo-traveler",
                                   {"json": {"reason": "会议取消\x00"}}),
    }
    statuses = {}
    for label, (method, path, who, kwargs) in cases.items():
        try:
            statuses[label] = c.request(method, path, who, **kwargs).status_code
        except requests.RequestException as exc:
            statuses[label] = type(exc).__name__
    return statuses


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256_empty_key(claims: dict) -> str:
    signing = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(b"", signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def forged_tokens(c: Client) -> Counter:
    from app.config import PUBLIC_JWT_SECRET

    real = c.jwt_secret
    now = int(time.time())
    outcomes = Counter()
    for sub in (c.ok("GET", "/me", "demo-admin")["id"], c.ok("GET", "/me", "demo-traveler")["id"]):
        claims = {"sub": str(sub), "iss": "otb-backend", "aud": "otb-miniprogram",
                  "iat": now, "exp": now + 3600, "jti": secrets.token_hex(8)}
        tokens = {
            "public default secret": jwt.encode(claims, PUBLIC_JWT_SECRET, algorithm="HS256"),
            "random secret": jwt.encode(claims, secrets.token_hex(32), algorithm="HS256"),
            "empty secret": _hs256_empty_key(claims),
            "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "alg None signed": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(claims)}.xx",
            "HS512 real secret": jwt.encode(claims, real, algorithm="HS512"),
            "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 60}, real,
                                  algorithm="HS256"),
            "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, real,
                                 algorithm="HS256"),
            "wrong audience (bind ticket)": jwt.encode({**claims, "aud": "otb-miniprogram:bind"},
                                                       real, algorithm="HS256"),
            "wrong issuer": jwt.encode({**claims, "iss": "evil"}, real, algorithm="HS256"),
        }
        genuine = c.tokens["demo-traveler"]
        head, _, sig = genuine.split(".")
        tokens["payload swapped, signature kept"] = f"{head}.{_b64(claims)}.{sig}"
        for name, token in tokens.items():
            resp = c.request("GET", "/me", token=token)
            outcomes["accepted" if resp.status_code < 300 else resp.status_code] += 1
            if resp.status_code < 300:
                outcomes[f"accepted: {name}"] += 1
    return outcomes


def forged_webhooks(c: Client) -> tuple[dict, dict]:
    """Each forgery's status, and the genuine controls' (200: their signature holds, and the
    unknown order is ignored)."""
    from providers import registry
    from providers.http import sign_params, sign_webhook

    keys = {cfg.name: cfg for cfg in registry.DEFAULTS}
    ride, rental = keys["ridehail"], keys["rental-a"]
    forged, genuine = {}, {}

    def post(path, attack, **kwargs):
        resp = c.request("POST", f"/webhooks/{path}", **kwargs)
        if attack:
            forged[attack] = resp.status_code
        else:
            genuine[path] = resp.status_code

    occurred = datetime.now(timezone.utc).isoformat()
    base = {"order_id": f"RH-{secrets.token_hex(4)}", "out_order_id": "OTB-attack",
            "state": "completed", "occurred_at": occurred}
    post("ridehail", "ridehail: wrong secret", json=sign_params(base, ride.app_key, "x" * 24))
    post("ridehail", "ridehail: unknown app_key",
         json=sign_params(base, "evil-app", ride.secret))
    post("ridehail", "ridehail: stale timestamp",
         json=sign_params(base, ride.app_key, ride.secret, now=time.time() - 600))
    signed = sign_params(base, ride.app_key, ride.secret)
    post("ridehail", "ridehail: tampered state", json={**signed, "state": "cancelled"})
    shifted = {k: v for k, v in signed.items() if k != "occurred_at"}
    shifted["nonce"] = f"{signed['nonce']}&occurred_at={signed['occurred_at']}"
    post("ridehail", "ridehail: occurred_at shifted into nonce", json=shifted)
    post("ridehail", None, json=signed)
    post("ridehail", "ridehail: replay", json=signed)

    body = json.dumps({"order_id": f"RA-{secrets.token_hex(4)}", "out_order_id": "OTB-attack",
                       "state": "finished", "occurred_at": occurred}).encode()
    json_headers = {"Content-Type": "application/json"}
    msg = f"msg_{secrets.token_hex(6)}"
    post("rental-a", "rental: wrong secret", data=body,
         headers={**json_headers, **sign_webhook(msg, body, "y" * 24)})
    post("rental-a", "rental: stale timestamp", data=body,
         headers={**json_headers, **sign_webhook(msg, body, rental.secret,
                                                 now=time.time() - 600)})
    good = sign_webhook(msg, body, rental.secret)
    post("rental-a", "rental: tampered body", data=body.replace(b"finished", b"cancelled"),
         headers={**json_headers, **good})
    shifted_id = {**good, "webhook-id": f"{msg}.{good['webhook-timestamp']}"}
    post("rental-a", "rental: id shifted", data=body, headers={**json_headers, **shifted_id})
    post("rental-a", "rental: other provider's secret", data=body,
         headers={**json_headers, **sign_webhook(msg, body, keys["rental-b"].secret)})
    post("rental-a", None, data=body, headers={**json_headers, **good})
    post("rental-a", "rental: replay", data=body, headers={**json_headers, **good})
    post("rental-a", "rental: replay re-timestamped", data=body,
         headers={**json_headers, **sign_webhook(msg, body, rental.secret,
                                                 now=time.time() + 5)})
    post("rental-a", "rental: no signature", data=body, headers=json_headers)
    return forged, genuine


def escalations(c: Client, trips: Trips) -> Counter:
    units = c.ok("GET", "/admin/units?limit=100", "demo-admin")["items"]
    wujin = next(u["id"] for u in units if u["name"] == "武进区")
    root = next(u["id"] for u in units if u.get("parent_id") is None)
    users = c.ok("GET", "/admin/users?limit=100", "demo-admin")["items"]
    traveler2 = next(u["id"] for u in users if u["phone"] == "13800000009")
    traveler = next(u["id"] for u in users if u["phone"] == "13800000001")
    admin = next(u["id"] for u in users if u["phone"] == "13800000008")
    phone = f"137{secrets.randbelow(10**8):08d}"
    unit_admin = c.ok("POST", "/admin/users", "demo-admin", 201,
                      json={"name": "武进管理员", "phone": phone, "unit_id": wujin,
                            "roles": ["admin"]})
    ticket = c.request("POST", "/auth/wechat-login",
                       json={"code": "sandbox:attack-wujin-admin"}).json()["ticket"]
    c.tokens["unit-admin"] = c.ok("POST", "/auth/bind", None, json={
        "ticket": ticket, "phone_code": f"sandbox-phone:{phone}"})["access_token"]

    def fresh(roles, unit=wujin):
        return {"name": "新用户", "phone": f"136{secrets.randbelow(10**8):08d}",
                "unit_id": unit, "roles": roles}

    attempts = [
        ("POST", "/admin/users", {"json": fresh(["platform_approver"])}),
        ("POST", "/admin/users", {"json": fresh(["supervisor"])}),
        ("POST", "/admin/users", {"json": fresh(["traveler", "platform_approver"])}),
        ("POST", "/admin/users", {"json": fresh(["traveler"], unit=root)}),
        ("POST", "/admin/users", {"json": fresh(["admin"], unit=root)}),
        ("PATCH", f"/admin/users/{traveler2}", {"json": {"roles": ["platform_approver"]}}),
        ("PATCH", f"/admin/users/{traveler2}", {"json": {"roles": ["supervisor"]}}),
        ("PATCH", f"/admin/users/{traveler2}", {"json": {"unit_id": root}}),
        ("PATCH", f"/admin/users/{unit_admin['id']}",
         {"json": {"roles": ["admin", "platform_approver"]}}),
        ("PATCH", f"/admin/users/{unit_admin['id']}", {"json": {"roles": ["admin", "supervisor"]}}),
        ("PATCH", f"/admin/users/{unit_admin['id']}", {"json": {"unit_id": root}}),
        ("PATCH", f"/admin/users/{traveler}", {"json": {"roles": ["admin"]}}),
        ("GET", f"/admin/users/{admin}", {}),
        ("DELETE", f"/admin/users/{traveler}", {}),
        ("POST", "/admin/tariffs", {"json": {}}),
        ("POST", "/admin/calendar", {"json": {"day": "2030-01-02", "kind": "holiday",
                                              "name": "假"}}),
    ]
    outcomes = Counter()

    def count(label, resp):
        outcomes["accepted" if resp.status_code < 300 else resp.status_code] += 1
        if resp.status_code not in (403, 404):
            outcomes[f"{resp.status_code}: {label}"] += 1

    for method, path, kwargs in attempts:
        body = json.dumps(kwargs.get("json", {}), ensure_ascii=False)
        count(f"unit admin {method} {path} {body}", c.request(method, path, "unit-admin", **kwargs))

    # Unit users on the other unit's objects, by id.
    drc_trip = trips.submitted("demo-traveler")
    drc_task = trips.tasks(drc_trip)[0]["id"]
    wujin_trip = trips.submitted("demo-traveler-2")
    settlements = c.ok("GET", "/settlements?limit=100", "demo-finance")["items"]
    for who, trip_id in (("demo-traveler-2", drc_trip), ("demo-approver-2", drc_trip),
                         ("demo-traveler", wujin_trip), ("demo-approver", wujin_trip)):
        for sub in ("", "/quotes", "/approval", "/dispatch", "/charge"):
            path = f"/trips/{trip_id}{sub}"
            count(f"{who} GET {path}", c.request("GET", path, who))
        for action, body in (("cancel", {"reason": "越权"}), ("withdraw", {"reason": "越权"}),
                             ("quotes", None), ("confirm", None),
                             ("dispute", {"reason": "越权"})):
            count(f"{who} POST {action}",
                  c.request("POST", f"/trips/{trip_id}/{action}", who, json=body))
    for who in ("demo-approver-2", "demo-traveler-2"):
        count(f"{who} GET task", c.request("GET", f"/approvals/{drc_task}", who))
        count(f"{who} approve task", c.request("POST", f"/approvals/{drc_task}/approve", who,
                                               json={"comment": "越权"}))
    for item in settlements[:6]:
        for who in ("demo-traveler-2", "demo-approver-2", "unit-admin"):
            count(f"{who} GET settlement", c.request("GET", f"/settlements/{item['id']}", who))
            count(f"{who} confirm settlement",
                  c.request("POST", f"/settlements/{item['id']}/confirm", who))
    return outcomes


def duplicates_after_kill(c: Client, trips: Trips, product: Product, db) -> dict:
    """Queue approval messages with the workers paused, let one send slowly, kill -9 it,
    end its lease in the database and let the other worker finish."""
    first, second = product.workers
    wechat = product.sandbox("wechat")
    _wait_outbox_idle(db, 0)  # the earlier attacks' messages are out
    # WeChat sends only while the approver holds a grant (one per tap of "allow"): one each.
    for _ in range(24):
        requests.post(f"{wechat}/__sandbox/subscriptions", timeout=5, json={
            "touser": "demo-approver", "template_ids": ["tmpl-approval-task"]}).raise_for_status()
        c.request("POST", "/me/subscriptions", "demo-approver",
                  json={"template_ids": ["tmpl-approval-task"]})
    for proc in product.workers:
        proc.send_signal(signal.SIGSTOP)
    with db.connect() as conn:
        last_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox_messages")).scalar()
    sent_before = len(requests.get(f"{wechat}/__sandbox/messages", timeout=5).json()["items"])
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: trips.submitted(), range(24)))
    with db.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM outbox_messages WHERE id > :i"),
                            {"i": last_id}).scalar()
    requests.post(f"{wechat}/__sandbox/faults", timeout=5,
                  json={"latency_ms": 250, "path": "/cgi-bin/message/subscribe/send"})

    def sent() -> int:
        items = requests.get(f"{wechat}/__sandbox/messages", timeout=5).json()["items"]
        return len(items) - sent_before

    first.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 30
    while sent() < rows // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    sent_at_kill = sent()
    with db.begin() as conn:  # the lease has passed
        stranded = conn.execute(text(
            "UPDATE outbox_messages SET claimed_until = created_at "
            "WHERE id > :i AND state = 'sending'"), {"i": last_id}).rowcount
    requests.delete(f"{wechat}/__sandbox/faults", timeout=5)
    second.send_signal(signal.SIGCONT)
    _wait_outbox_idle(db, last_id)
    with db.connect() as conn:
        states = dict(conn.execute(text("SELECT state, count(*) FROM outbox_messages "
                                        "WHERE id > :i GROUP BY state"), {"i": last_id}).all())
        keys = {tuple(r) for r in conn.execute(text(
            "SELECT touser, page FROM outbox_messages WHERE id > :i"), {"i": last_id})}
    received = requests.get(f"{wechat}/__sandbox/messages", timeout=5).json()["items"]
    per_row = Counter((m["touser"], m.get("page")) for m in received[sent_before:]
                      if (m["touser"], m.get("page")) in keys)
    return {"outbox rows": rows, "received when killed": sent_at_kill,
            "rows stranded by the kill": stranded, "messages received": sum(per_row.values()),
            "row states": states, "rows received twice or more":
                sum(1 for n in per_row.values() if n > 1),
            "duplicates": sum(n - 1 for n in per_row.values())}


def _wait_outbox_idle(db, after_id: int, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM outbox_messages WHERE id > :i AND "
                                     "state IN ('pending', 'sending')"), {"i": after_id}).scalar()
        if not left:
            return
        time.sleep(0.3)


def stuck_keys(c: Client, trips: Trips, product: Product, db) -> dict:
    """Slow quotes with Idempotency-Key; two gunicorn workers killed mid-request."""
    ids = [trips.draft() for _ in range(8)]
    keys = {trip_id: f"attack-stuck-{secrets.token_hex(4)}-{trip_id}" for trip_id in ids}
    slow = [product.sandbox(name) for name in ("ridehail", "rental-a", "rental-b")]
    for url in slow:
        requests.post(f"{url}/__sandbox/faults", json={"latency_ms": 3000}, timeout=5)

    def quote(trip_id):
        try:
            return c.request("POST", f"/trips/{trip_id}/quotes", "demo-traveler",
                             key=keys[trip_id]).status_code
        except requests.RequestException as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(len(ids)) as pool:
        futures = [pool.submit(quote, trip_id) for trip_id in ids]
        time.sleep(0.7)
        victims = product.gunicorn_workers()[:2]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        first = Counter(f.result() for f in futures)
    for url in slow:
        requests.delete(f"{url}/__sandbox/faults", timeout=5)
    where = "key LIKE 'attack-stuck-%' AND state = 'pending'"
    with db.connect() as conn:
        pending = conn.execute(text(f"SELECT count(*) FROM idempotency_keys WHERE {where}")
                               ).scalar()
    time.sleep(2)  # gunicorn replaces the killed workers
    before_lease = Counter(quote(trip_id) for trip_id in ids)
    with db.begin() as conn:  # more than PENDING_LEASE (2 min) passes
        conn.execute(text("UPDATE idempotency_keys SET created_at = created_at - "
                          f"interval '3 minutes' WHERE {where}"))
    after = Counter()
    for trip_id in ids:
        resp = c.request("POST", f"/trips/{trip_id}/quotes", "demo-traveler", key=keys[trip_id])
        replayed = resp.headers.get("Idempotent-Replayed") == "true"
        after["replayed" if replayed else resp.status_code] += 1
    with db.connect() as conn:
        still = conn.execute(text(f"SELECT count(*) FROM idempotency_keys WHERE {where}")).scalar()
    return {"first attempts": dict(first), "workers killed": len(victims),
            "keys pending after the kill": pending, "retry within the lease": dict(before_lease),
            "retry after the lease": dict(after), "keys still pending": still}


def rate_limit(c: Client) -> Counter:
    def one(i):
        return c.request("POST", "/auth/wechat-login",
                         json={"code": f"attack-bad-code-{i}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(one, range(200)))


# --- the run ----------------------------------------------------------------------------------

def _fmt(value) -> str:
    if isinstance(value, Counter):
        value = dict(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    return str(value)


def _forward(device: str, at: datetime, lat: float = 31.78, lng: float = 119.95,
             **position) -> dict:
    """A Traccar position-forwarding body."""
    stamp = at.isoformat(timespec="milliseconds")
    return {"position": {"deviceId": 1, "fixTime": stamp, "deviceTime": stamp, "valid": True,
                         "latitude": lat, "longitude": lng, "speed": 10.0, "course": 90.0,
                         "attributes": {"ignition": True}, **position},
            "device": {"id": 1, "uniqueId": device, "name": "attack"}}


def telemetry(c: Client, product: Product, db) -> tuple[dict, Counter, dict]:
    """The gateway's endpoint (answered before Flask, across 4 workers): bad bodies with the
    gateway's secret, forged secrets and phones' keys, one fix sent 24 times at once, and 4
    senders interleaving one vehicle's fixes."""
    secret = product.env["OTB_TRACCAR_TOKEN"]
    gateway = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    with db.connect() as conn:
        devices = conn.execute(text("SELECT id, device_id FROM vehicles WHERE device_id IS NOT "
                                    "NULL ORDER BY id LIMIT 3")).all()
    (_, first), (race_vehicle, race_device), (seq_vehicle, seq_device) = devices
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    good = json.dumps(_forward(first, start))
    deep = "[" * 100_000 + "]" * 100_000
    cases = {
        "JSON 100,000 deep": deep,
        "uniqueId with a lone surrogate": good.replace(first, "\\ud800"),
        "uniqueId with NUL": json.dumps(_forward(first + "\x00", start)),
        "uniqueId of 100,000 characters": json.dumps(_forward("8" * 100_000, start)),
        "latitude 1e400": good.replace('"latitude": 31.78', '"latitude": 1e400'),
        "speed -1e308": json.dumps(_forward(first, start, speed=-1e308)),
        "fixTime 9999-12-31": good.replace(start.isoformat(timespec="milliseconds"),
                                           "9999-12-31T23:59:59.999+00:00"),
        "fixTime 0001-01-01+14:00": good.replace(start.isoformat(timespec="milliseconds"),
                                                 "0001-01-01T00:00:00+14:00"),
        "50,000 attributes": json.dumps(_forward(first, start, attributes={
            f"a{i}": i for i in range(50_000)})),
        "7 MB attribute": json.dumps(_forward(first, start, attributes={"x": "y" * 7_000_000})),
        "9 MB body": json.dumps(_forward(first, start, attributes={"x": "y" * 9_000_000})),
        "empty body": "",
    }
    statuses = {}
    for label, data in cases.items():
        try:
            statuses[label] = c.request("POST", "/telemetry/traccar", headers=gateway,
                                        data=data.encode("utf-8", "surrogatepass")).status_code
        except requests.RequestException as exc:
            statuses[label] = type(exc).__name__
    forged = Counter()
    for label, headers in {
            "none": {}, "wrong": {"Authorization": "Bearer " + secrets.token_urlsafe(24)},
            "prefix": {"Authorization": "Bearer " + secret[:-1]},
            "longer": {"Authorization": "Bearer " + secret + "x"},
            "basic": {"Authorization": "Basic " + base64.b64encode(
                f"gw:{secret}".encode()).decode()},
            "other header": {"X-Traccar-Token": secret},
            "empty": {"Authorization": "Bearer "}}.items():
        resp = c.request("POST", "/telemetry/traccar", json=_forward(first, start),
                         headers={**headers, "Content-Type": "application/json"})
        forged["accepted" if resp.status_code < 300 else resp.status_code] += 1
    # a phone's key (OsmAnd): none, wrong, another vehicle's; its own as the control
    (phone, phone_device), (other_phone, _) = devices[1], devices[2]
    keys = {vehicle: c.ok("POST", f"/admin/vehicles/{vehicle}/device-key", "demo-admin",
                          expect=201)["key"] for vehicle in (phone, other_phone)}
    osmand = {"id": phone_device, "lat": 31.78, "lon": 119.95,
              "timestamp": int((start + timedelta(seconds=5)).timestamp())}
    for label, key in {"no key": None, "wrong key": secrets.token_urlsafe(24),
                       "another vehicle's key": keys[other_phone],
                       "own key (control)": keys[phone]}.items():
        resp = c.request("GET", "/telemetry/osmand", params={**osmand, "key": key})
        statuses[f"OsmAnd, {label}"] = resp.status_code
        if label != "own key (control)":
            forged["accepted" if resp.status_code < 300 else resp.status_code] += 1
    # one fix at once from 24 senders (a gateway retrying on every connection)
    at = start + timedelta(seconds=10)
    answers = c.race(24, "POST", "/telemetry/traccar", None, headers=gateway,
                     data=json.dumps(_forward(race_device, at)))
    bodies = Counter()
    # 4 senders interleave one vehicle's 200 fixes (times i, i+4, …): any worker, any order
    def send(k: int) -> None:
        http = requests.Session()
        for i in range(k, 200, 4):
            resp = http.post(f"{c.base}/telemetry/traccar", headers=gateway, timeout=TIMEOUT,
                             data=json.dumps(_forward(seq_device, start + timedelta(seconds=i),
                                                      lng=119.95 + 0.0001 * i)))
            bodies[resp.json().get("status", resp.status_code) if resp.content else
                   resp.status_code] += 1
    threads = [threading.Thread(target=send, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.connect() as conn:
        race_rows = conn.execute(text("SELECT count(*) FROM positions WHERE vehicle_id = :v AND "
                                      "at = :at"), {"v": race_vehicle, "at": at}).scalar()
        seq = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE NOT valid), max(at), "
            "(SELECT at FROM latest_positions WHERE vehicle_id = :v) FROM positions "
            "WHERE vehicle_id = :v"), {"v": seq_vehicle}).one()
    outcome = {"24 at once": _fmt(answers), "rows of the fix sent 24 times": race_rows,
               "4 senders x 50 fixes": _fmt(bodies), "rows stored": seq[0],
               "marked invalid": seq[1],
               "latest is the newest": seq[3] == seq[2] == start + timedelta(seconds=199)}
    return statuses, forged, outcome


def report_telemetry(c, trips, product, db):
    bad, forged, outcome = telemetry(c, product, db)
    rows = [("telemetry bad input", label, str(status)) for label, status in bad.items()]
    rows += [("forged gateway secret or device key", "7 + 3 kinds", _fmt(forged))]
    rows += [("telemetry concurrency", label, str(value)) for label, value in outcome.items()]
    return rows, [("5xx in telemetry bad input", f"{_5xx(Counter(bad.values()))} of {len(bad)}"),
                  ("accepted forged gateway secrets and device keys", _accepted(forged)),
                  ("rows of one fix sent 24 times at once",
                   outcome["rows of the fix sent 24 times"]),
                  ("one vehicle's 200 fixes from 4 senders: stored / latest is the newest",
                   f"{outcome['rows stored']} / {outcome['latest is the newest']}")]


def _5xx(statuses) -> int:
    return sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500)


def _accepted(counts: Counter) -> str:
    return f"{counts['accepted']} of {sum(v for k, v in counts.items() if ':' not in str(k))}"


def report_races(c, trips, product, db):
    race = races(c, trips, product.period)
    rows = [("race", name, _fmt(outcome)) for name, outcome in race.items()]
    return rows, [("5xx in races", sum(_5xx(o) for o in race.values()))]


def report_bad_input(c, trips, product, db):
    bad = bad_input(c, trips)
    return ([("bad input", label, str(status)) for label, status in bad.items()],
            [("5xx in bad input", f"{_5xx(Counter(bad.values()))} of {len(bad)}")])


def report_forgeries(c, trips, product, db):
    tokens = forged_tokens(c)
    hooks, controls = forged_webhooks(c)
    rows = [("forged JWT", "11 kinds × 2 users", _fmt(tokens))]
    rows += [("forged webhook", label, str(status)) for label, status in hooks.items()]
    rows += [("genuine webhook (control)", label, str(status))
             for label, status in controls.items()]
    accepted = sum(1 for status in hooks.values() if status < 300)
    return rows, [("accepted forged JWTs", _accepted(tokens)),
                  ("accepted forged webhooks", f"{accepted} of {len(hooks)}")]


def report_escalations(c, trips, product, db):
    esc = escalations(c, trips)
    return [("escalation", "attempts", _fmt(esc))], [("escalations accepted", _accepted(esc))]


def report_duplicates(c, trips, product, db):
    dup = duplicates_after_kill(c, trips, product, db)
    return ([("kill -9 worker", "outbox", _fmt(dup))],
            [("duplicates after kill -9 (worker)", f"{dup['duplicates']} of {dup['outbox rows']}")])


def report_stuck_keys(c, trips, product, db):
    stuck = stuck_keys(c, trips, product, db)
    return ([("kill -9 gunicorn", "idempotency keys", _fmt(stuck))],
            [("stuck keys after kill -9 (gunicorn): pending / left after the lease",
              f"{stuck['keys pending after the kill']} / {stuck['keys still pending']}")])


def report_rate_limit(c, trips, product, db):
    limited = rate_limit(c)
    return ([("rate limit", "200 bad login codes", _fmt(limited))],
            [("429 of 200 bad logins", limited[429])])


# the sign-in limit last
ATTACKS = (report_races, report_bad_input, report_forgeries, report_escalations,
           report_telemetry, report_duplicates, report_stuck_keys, report_rate_limit)


def main() -> int:
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="otb-attack-"))
    url = fresh_database()
    print(f"database {make_url(url).database}, logs in {logs}", flush=True)
    product = Product(url, logs)
    db = create_engine(url)
    c = Client(product.base, product.env["OTB_JWT_SECRET"])
    trips = Trips(c)
    rows: list[tuple] = []
    summary: list[tuple] = []
    try:
        for openid in LOGINS:
            c.login(openid)
        print(f"up in {time.monotonic() - started:.0f} s: gunicorn -w 4 "
              f"(workers {product.gunicorn_workers()}), 2 app.worker", flush=True)
        for attack in ATTACKS:
            name = attack.__name__.removeprefix("report_")
            try:
                more_rows, more_summary = attack(c, trips, product, db)
            except Exception as exc:  # one attack failing must not hide the others' figures
                more_rows = [("error", name, repr(exc)[:300])]
                more_summary = [(name, "not measured")]
            rows += more_rows
            summary += more_summary
            print(f"{name} done ({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        product.stop()
        db.dispose()

    print("\n| attack | case | outcome |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n| figure | value |\n|---|---|")
    for figure, value in summary:
        print(f"| {figure} | {value} |")
    print(f"| 5xx over the whole run | {_5xx(c.statuses)} |")
    print(f"| requests, by status | {_fmt(c.statuses)} |")
    print(f"| run time | {time.monotonic() - started:.0f} s |")
    for line in c.server_errors[:20]:
        print("5xx:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
