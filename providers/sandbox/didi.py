"""A DiDi-Enterprise-shaped ride-hailing API simulator, real HTTP on loopback.

It follows the shapes of DiDi Enterprise's open API as its public clients use it:

- ``POST /river/Auth/authorize`` (form: ``client_id, client_secret, grant_type,
  timestamp, sign``) → ``{access_token, expires_in, token_type}``; tokens expire
  (``token_ttl``, default 7200 s) and an expired or unknown token is answered ``errno``
  40002.
- Every other call carries ``client_id, access_token, timestamp, sign``: POSTs as form
  fields, GETs as query parameters. ``sign`` is the MD5 (lowercase hex) of the parameters
  other than ``sign`` plus ``sign_key`` (which is never sent), sorted by name and joined raw
  as ``k=v&k=v``; a wrong one is ``errno`` 40001.
- Answers are ``{errno, errmsg, data}`` and unsigned; amounts are integers in fen; times
  ``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai; coordinates GCJ-02 (``flat, flng, tlat, tlng``).

    POST /river/EstimatePrice/get  flat, flng, tlat, tlng, departure_time, passenger_count
                                   → {estimates: [{require_level, estimate_id, price, dist,
                                      time, fee_detail: {start_price, normal_fee, time_fee}}]}
    POST /river/Order/Create       estimate_id, require_level, departure_time, flat … tlng,
                                   passenger_name, passenger_phone, callback_info (our
                                   reference: the same one → the same order) → {order_id}
    GET  /river/Order/detail       ?order_id= (or ?callback_info=) → {order_id, status,
                                   callback_info, pre_order_id?, departure_time, driver_name,
                                   driver_phone, driver_car_number, driver_car_type,
                                   price: {total_price, <fee items>}, cancel_fee?}
    GET  /river/Order/getCancelFee ?order_id= → {cost}  (the fee a cancel now would cost)
    POST /river/Order/Cancel       order_id, force → {order_id}  (the fee follows in detail)

Booking windows: a departure less than 30 minutes or more than 3 days ahead is refused
(``errno`` 42201). Statuses: 300 waiting for a driver, 400 driver on the way, 410 driver
arrived, 500 in trip, 600 trip ended, 700 paid, 311 cancelled, 312 reassigned (a new order id
took over: its detail names the old one in ``pre_order_id``). Other errnos: 40400 unknown
estimate or order, 40410 estimate expired, 42200 bad parameters, 40901 cannot be cancelled.

Callbacks are multipart form posts of ``client_id, order_id, notify_type, notify_desc,
timestamp, sign`` (signed like a request) with no state or fee: the receiver re-queries the
order and answers ``{"errno": 0}``; anything else is retried with backoff.

Control endpoints (unsigned, loopback only):

    POST /__sandbox/config  {"webhook_url", "token_ttl", "expire_tokens": true,
                             "clock_offset_seconds", "callback_attempts", "callback_backoff"}
    POST /__sandbox/orders/<order_id>/advance  {"to"?: "assigned"…"paid", "highway_fee"?,
         "park_fee"?, "extra_fees"?: {"night_fee": 500}} (fen) — move on and notify
    POST /__sandbox/orders/<order_id>/reassign — a new order id takes over, notified
    POST /__sandbox/orders/<order_id>/cancel_fee {"cost": 800} — the fee finally decided
    POST /__sandbox/callbacks/send {"order_id", "sign"?} — one notify (a bad sign if given)
    GET  /__sandbox/orders, /__sandbox/callbacks, /__sandbox/requests (the last calls' params)
"""
from __future__ import annotations

import itertools
import math
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from flask import Flask, g, jsonify, request

from providers.protocol import PROTOCOLS
from providers.route import path_km
from providers.sandbox.server import install_faults, json_body

PROTOCOL = PROTOCOLS["didi"]
SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SIGNATURE_WINDOW_SECONDS = 300
ESTIMATE_TTL_SECONDS = 600
MIN_AHEAD = timedelta(minutes=30)
MAX_AHEAD = timedelta(days=3)
DETOUR = 1.25
SPEED_KMH = 30.0
STATUS = {"created": 300, "assigned": 400, "arrived": 410, "in_trip": 500, "completed": 600,
          "paid": 700, "cancelled": 311, "reassigned": 312}
FLOW = ["created", "assigned", "arrived", "in_trip", "completed", "paid"]
# Cancelling costs nothing before a driver is on the way, then more the further along.
CANCEL_COST = {"created": 0, "assigned": 500, "arrived": 1000}


@dataclass(frozen=True)
class Level:
    """One require_level's fare, in fen."""

    start: int
    per_km: int
    per_minute: int
    seats: int


LEVELS = {"600": Level(1000, 180, 30, 4),   # 快车
          "900": Level(1400, 240, 45, 4),   # 优享
          "100": Level(2200, 350, 70, 4),   # 专车 舒适型
          "400": Level(3000, 420, 90, 6)}   # 六座商务


@dataclass
class DidiState:
    client_id: str
    client_secret: str
    sign_key: str
    webhook_url: str | None = None
    token_ttl: int = 7200
    clock_offset: float = 0.0
    callback_attempts: int = 6
    callback_backoff: float = 0.2
    tokens: dict[str, float] = field(default_factory=dict)
    estimates: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    by_ref: dict[str, str] = field(default_factory=dict)
    callbacks: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def local_now(self) -> datetime:
        return datetime.fromtimestamp(self.now(), SHANGHAI)


def fmt(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)


def answer(data=None, errno: int = 0, errmsg: str = "SUCCESS"):
    return jsonify({"errno": errno, "errmsg": errmsg, "data": data})


class Notifier:
    """Posts the notifies in order from one thread, each retried until answered errno 0."""

    def __init__(self, state: DidiState):
        self.state = state
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._run, name="didi-notify", daemon=True).start()

    def send(self, order_id: str, notify_type: int, desc: str, *, sign: str | None = None):
        if self.state.webhook_url:
            self._queue.put((order_id, notify_type, desc, sign))

    def _run(self) -> None:
        while True:
            self._deliver(*self._queue.get())

    def _deliver(self, order_id: str, notify_type: int, desc: str, sign: str | None) -> None:
        state = self.state
        for attempt in range(1, state.callback_attempts + 1):
            form = {"client_id": state.client_id, "order_id": order_id,
                    "notify_type": str(notify_type), "notify_desc": desc,
                    "timestamp": str(int(time.time()))}
            form["sign"] = sign or PROTOCOL.signer.sign(form, state.sign_key)
            try:
                # multipart/form-data, as DiDi posts it
                resp = requests.post(state.webhook_url, files={k: (None, v) for k, v in form.items()},
                                     timeout=5)
                status: int | str = resp.status_code
                acked = resp.status_code == 200 and _errno(resp) == 0
            except requests.RequestException as exc:
                status, acked = exc.__class__.__name__, False
            with state.lock:
                state.callbacks.append({"order_id": order_id, "notify_type": notify_type,
                                        "attempt": attempt, "status": status, "acked": acked,
                                        "at": time.time()})
            if acked or sign:
                return
            time.sleep(min(state.callback_backoff * 2 ** (attempt - 1), 5.0))


def _errno(resp) -> int | None:
    try:
        return resp.json().get("errno")
    except (ValueError, AttributeError):
        return None


def create_app(client_id: str = "otb-didi-client", client_secret: str = "sandbox-didi-secret",
               sign_key: str = "sandbox-didi-sign-key", webhook_url: str | None = None) -> Flask:
    app = Flask("didi_sandbox")
    state = DidiState(client_id, client_secret, sign_key, webhook_url)
    notifier = Notifier(state)
    app.extensions["didi_state"] = state
    install_faults(app)

    @app.before_request
    def _authenticate():
        if request.path.startswith("/__sandbox/"):
            return None
        params = (request.args if request.method == "GET" else request.form).to_dict()
        with state.lock:
            state.requests = [*state.requests[-49:], {"path": request.path, "params": params}]
        if params.get("client_id") != state.client_id:
            return answer(errno=40003, errmsg="unknown client_id")
        if not PROTOCOL.signer.holds(params, state.sign_key):
            return answer(errno=40001, errmsg="invalid sign")
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return answer(errno=42200, errmsg="timestamp required")
        if abs(time.time() - stamp) > SIGNATURE_WINDOW_SECONDS:
            return answer(errno=40001, errmsg="timestamp outside the window")
        if request.path != PROTOCOL.token_path:
            expires = state.tokens.get(params.get("access_token", ""))
            if expires is None or expires <= time.time():
                return answer(errno=40002, errmsg="access_token invalid or expired")
        g.params = params
        return None

    @app.post(PROTOCOL.token_path)
    def authorize():
        p = g.params
        if p.get("client_secret") != state.client_secret or \
                p.get("grant_type") != "client_credentials":
            return answer(errno=40003, errmsg="bad client credentials")
        token = secrets.token_hex(16)
        with state.lock:
            state.tokens[token] = time.time() + state.token_ttl
        return answer({"access_token": token, "expires_in": state.token_ttl,
                       "token_type": "Bearer"})

    def _window(p) -> str | None:
        try:
            depart = parse_time(p["departure_time"])
        except (KeyError, ValueError):
            return "departure_time must be yyyy-MM-dd HH:mm:ss"
        now = state.local_now()
        if depart < now + MIN_AHEAD or depart > now + MAX_AHEAD:
            return "booking must be 30 minutes to 3 days ahead"
        return None

    @app.post("/river/EstimatePrice/get")
    def estimate():
        p = g.params
        try:
            coords = [(float(p["flat"]), float(p["flng"])), (float(p["tlat"]), float(p["tlng"]))]
            passengers = int(p.get("passenger_count", "1"))
        except (KeyError, ValueError):
            return answer(errno=42200, errmsg="flat, flng, tlat, tlng required")
        problem = _window(p)
        if problem:
            return answer(errno=42201, errmsg=problem)
        metres = int(path_km(coords) * DETOUR * 1000)
        minutes = math.ceil(metres / 1000 / SPEED_KMH * 60)
        items = []
        for code, level in LEVELS.items():
            if level.seats < passengers:
                continue
            fee = {"start_price": level.start,
                   "normal_fee": round(level.per_km * metres / 1000),
                   "time_fee": level.per_minute * minutes}
            estimate_id = "didi_est_" + secrets.token_hex(8)
            item = {"require_level": code, "estimate_id": estimate_id,
                    "price": sum(fee.values()), "dist": metres, "time": minutes,
                    "fee_detail": fee}
            with state.lock:
                state.estimates[estimate_id] = {**item, "expires": state.now()
                                                + ESTIMATE_TTL_SECONDS, "coords": coords}
            items.append(item)
        return answer({"estimates": items})

    def public(order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    @app.post("/river/Order/Create")
    def create_order():
        p = g.params
        ref, estimate_id = p.get("callback_info"), p.get("estimate_id")
        if not ref or not estimate_id:
            return answer(errno=42200, errmsg="callback_info and estimate_id required")
        problem = _window(p)
        if problem:
            return answer(errno=42201, errmsg=problem)
        with state.lock:
            if ref in state.by_ref:
                return answer({"order_id": state.by_ref[ref]})
            est = state.estimates.get(estimate_id)
            if est is None or est["require_level"] != p.get("require_level"):
                return answer(errno=40400, errmsg="estimate not found")
            if est["expires"] < state.now():
                return answer(errno=40410, errmsg="estimate expired")
            order_id = _new_id()
            state.orders[order_id] = {
                "order_id": order_id, "status": STATUS["created"], "callback_info": ref,
                "require_level": est["require_level"], "departure_time": p["departure_time"],
                "passenger_name": p.get("passenger_name", ""), "driver_name": "",
                "driver_phone": "", "driver_car_number": "", "driver_car_type": "",
                "price": {"total_price": est["price"], **est["fee_detail"]},
                "_state": "created", "_metres": est["dist"], "_minutes": est["time"]}
            state.by_ref[ref] = order_id
        return answer({"order_id": order_id})

    def _new_id() -> str:
        return f"DD{time.strftime('%y%m%d')}{next(state.numbers):06d}"

    @app.get("/river/Order/detail")
    def detail():
        p = g.params
        with state.lock:
            order_id = p.get("order_id") or state.by_ref.get(p.get("callback_info", ""), "")
            order = state.orders.get(order_id)
            if order is None:
                return answer(errno=40400, errmsg="order not found")
            return answer(public(order))

    @app.get("/river/Order/getCancelFee")
    def cancel_fee():
        with state.lock:
            order = state.orders.get(g.params.get("order_id", ""))
            if order is None:
                return answer(errno=40400, errmsg="order not found")
            if order["_state"] not in CANCEL_COST:
                return answer(errno=40901, errmsg="order can no longer be cancelled")
            return answer({"cost": CANCEL_COST[order["_state"]]})

    @app.post("/river/Order/Cancel")
    def cancel():
        with state.lock:
            order = state.orders.get(g.params.get("order_id", ""))
            if order is None:
                return answer(errno=40400, errmsg="order not found")
            if order["_state"] != "cancelled":
                if order["_state"] not in CANCEL_COST:
                    return answer(errno=40901, errmsg="order can no longer be cancelled")
                order["cancel_fee"] = CANCEL_COST[order["_state"]]
                _move(order, "cancelled")
                notifier.send(order["order_id"], 1, "订单已取消")
            return answer({"order_id": order["order_id"]})

    def _move(order: dict, to: str) -> None:
        order["_state"], order["status"] = to, STATUS[to]

    @app.post("/__sandbox/config")
    def config():
        body = json_body()
        with state.lock:
            if "webhook_url" in body:
                state.webhook_url = body["webhook_url"]
            if "token_ttl" in body:
                state.token_ttl = int(body["token_ttl"])
            if body.get("expire_tokens"):
                state.tokens.clear()
            for key, attr, cast in (("clock_offset_seconds", "clock_offset", float),
                                    ("callback_attempts", "callback_attempts", int),
                                    ("callback_backoff", "callback_backoff", float)):
                if key in body:
                    setattr(state, attr, cast(body[key]))
        return jsonify({"ok": True})

    @app.post("/__sandbox/orders/<order_id>/advance")
    def advance(order_id):
        body = json_body()
        with state.lock:
            order = state.orders.get(order_id)
            if order is None or order["_state"] not in FLOW[:-1]:
                return {"error": "no such order or already final"}, 404
            to = body.get("to") or FLOW[FLOW.index(order["_state"]) + 1]
            if to not in FLOW or FLOW.index(to) <= FLOW.index(order["_state"]):
                return {"error": f"cannot move from {order['_state']} to {to}"}, 400
            if not order["driver_name"]:
                order.update(driver_name="王师傅", driver_phone="13912345678",
                             driver_car_number=f"苏DT{order_id[-4:]}", driver_car_type="比亚迪秦")
            if to in ("completed", "paid") and not order.get("_billed"):
                level = LEVELS[order["require_level"]]
                fee = {"start_price": level.start,
                       "normal_fee": round(level.per_km * order["_metres"] / 1000),
                       "time_fee": level.per_minute * order["_minutes"],
                       "highway_fee": int(body.get("highway_fee", 0)),
                       "park_fee": int(body.get("park_fee", 0)),
                       **{k: int(v) for k, v in (body.get("extra_fees") or {}).items()}}
                order["price"] = {"total_price": sum(fee.values()), **fee}
                order["_billed"] = True
            _move(order, to)
            notifier.send(order_id, 1, f"订单状态变更为{order['status']}")
            return jsonify(public(order))

    @app.post("/__sandbox/orders/<order_id>/reassign")
    def reassign(order_id):
        with state.lock:
            old = state.orders.get(order_id)
            if old is None or old["_state"] not in ("created", "assigned", "arrived"):
                return {"error": "no such order or too late to reassign"}, 404
            new_id = _new_id()
            state.orders[new_id] = {**old, "order_id": new_id, "pre_order_id": order_id,
                                    "driver_name": "", "driver_phone": "",
                                    "driver_car_number": "", "driver_car_type": ""}
            _move(state.orders[new_id], "created")
            _move(old, "reassigned")
            state.by_ref[old["callback_info"]] = new_id
            notifier.send(new_id, 3, f"订单已改派，原订单号{order_id}")
            return jsonify(public(state.orders[new_id]))

    @app.post("/__sandbox/orders/<order_id>/cancel_fee")
    def decide_cancel_fee(order_id):
        """The fee DiDi finally decides for a cancelled order (fen), notified."""
        with state.lock:
            order = state.orders.get(order_id)
            if order is None or order["_state"] != "cancelled":
                return {"error": "no such cancelled order"}, 404
            order["cancel_fee"] = int(json_body()["cost"])
            notifier.send(order_id, 2, "取消费已确定")
            return jsonify(public(order))

    @app.post("/__sandbox/callbacks/send")
    def send_callback():
        body = json_body()
        notifier.send(body["order_id"], int(body.get("notify_type", 1)), "sandbox",
                      sign=body.get("sign"))
        return jsonify({"ok": True})

    @app.get("/__sandbox/orders")
    def list_orders():
        with state.lock:
            return jsonify({"items": [public(o) for o in state.orders.values()]})

    @app.get("/__sandbox/callbacks")
    def list_callbacks():
        with state.lock:
            return jsonify({"items": list(state.callbacks)})

    @app.get("/__sandbox/requests")
    def list_requests():
        with state.lock:
            return jsonify({"items": list(state.requests)})

    return app
