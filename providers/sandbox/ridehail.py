"""Ride-hailing enterprise API simulator (T3 / DiDi-enterprise style), real HTTP on loopback.

Signed calls, answers ``{code, msg, data, app_key, timestamp, nonce, sign}``:

    POST /v1/estimate        {points: [{name, lat, lng}, ...], depart_at, passengers}
                             → {estimates: [{tier, estimate_id, price, distance_m, duration_s,
                                expires_at, seats, nev, vehicle_class, breakdown}]}
    POST /v1/orders          {estimate_id, out_order_id, passenger_name, passenger_phone}
                             (same out_order_id → the same order)
    POST /v1/orders/cancel   {order_id, reason} → {order_id, state, fee}
    GET  /v1/orders/detail   ?order_id= (or ?out_order_id=, our reference)
    GET  /v1/orders/driver-location ?order_id=

Error codes: 40101 bad signature, 40400 unknown estimate or order, 40410 estimate expired,
40901 order can no longer be cancelled, 40902 no driver yet, 42200 bad parameters.
``POST /__sandbox/orders/<order_id>/advance {"to"?, "tolls"?, "parking"?, "other"?,
"actual_km"?, "actual_minutes"?}`` moves an order to its next state (or ``to``) and posts
the callback ``{event: "order.state", order_id, out_order_id, state, occurred_at,
driver?, fee?}`` to the webhook, signed in its fields like every call; ``fee`` (at completion) holds base, distance, time, tolls,
parking, other and total as strings.
"""
from __future__ import annotations

import itertools
import math
import secrets
import threading
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask import Flask, jsonify, request

from providers.route import path_km
from providers.sandbox.server import json_body
from providers.money import CENT, round_money
from providers.sandbox.supplier import create_supplier_app, iso, params, refuse, reply

ESTIMATE_TTL_SECONDS = 600
DETOUR = 1.25
SPEED_KMH = 30.0
STATES = ["created", "assigned", "arrived", "in_trip", "completed", "paid"]
CANCEL_FEES = {"created": Decimal("0.00"), "assigned": Decimal("5.00"),
               "arrived": Decimal("10.00")}


@dataclass(frozen=True)
class Tier:
    label: str
    vehicle_class: str
    seats: int
    nev: bool
    base: Decimal
    per_km: Decimal
    per_minute: Decimal


TIERS = {
    "economy": Tier("经济型", "sedan", 4, True, Decimal("10.00"), Decimal("1.80"), Decimal("0.30")),
    "comfort": Tier("舒适型", "sedan", 4, True, Decimal("14.00"), Decimal("2.40"), Decimal("0.45")),
    "business": Tier("商务型", "mpv", 6, False, Decimal("22.00"), Decimal("3.50"), Decimal("0.70")),
    "luxury": Tier("豪华型", "sedan", 4, False, Decimal("35.00"), Decimal("5.20"), Decimal("1.10")),
}


def _fare(tier: Tier, km: Decimal, minutes: int) -> dict[str, Decimal]:
    return {"base": tier.base,
            "distance": round_money(tier.per_km * km),
            "time": round_money(tier.per_minute * minutes)}


def _strings(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {key: str(value) for key, value in amounts.items()}


def create_app(app_key: str = "otb-ridehail", secret: str = "sandbox-ridehail-secret",
               webhook_url: str | None = None) -> Flask:
    app, state, sender = create_supplier_app("ridehail_sandbox", app_key, secret, webhook_url)
    estimates: dict[str, dict] = {}
    orders: dict[str, dict] = {}
    by_out_id: dict[str, str] = {}
    numbers = itertools.count(1)
    lock = threading.Lock()

    def public(order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    @app.post("/v1/estimate")
    def estimate():
        body = params()
        points = body.get("points")
        try:
            coords = [(float(p["lat"]), float(p["lng"])) for p in points]
            passengers = int(body.get("passengers", 1))
        except (TypeError, KeyError, ValueError):
            return refuse(state, 42200, "points and passengers required")
        if len(coords) < 2:
            return refuse(state, 42200, "at least two points")
        km = Decimal(str(path_km(coords) * DETOUR)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        minutes = math.ceil(float(km) / SPEED_KMH * 60)
        expires = state.now() + ESTIMATE_TTL_SECONDS
        items = []
        for code, tier in TIERS.items():
            if tier.seats < passengers:
                continue
            fare = _fare(tier, km, minutes)
            estimate_id = "est_" + secrets.token_hex(8)
            item = {"tier": code, "tier_name": tier.label, "estimate_id": estimate_id,
                    "price": str(sum(fare.values())), "breakdown": _strings(fare),
                    "distance_m": int(km * 1000), "duration_s": minutes * 60,
                    "expires_at": int(expires), "seats": tier.seats, "nev": tier.nev,
                    "vehicle_class": tier.vehicle_class}
            with lock:
                estimates[estimate_id] = {**item, "_km": km, "_minutes": minutes,
                                          "_origin": coords[0]}
            items.append(item)
        return reply(state, {"estimates": items})

    @app.post("/v1/orders")
    def create_order():
        body = params()
        out_id, estimate_id = body.get("out_order_id"), body.get("estimate_id")
        if not out_id or not estimate_id:
            return refuse(state, 42200, "out_order_id and estimate_id required")
        with lock:
            if out_id in by_out_id:
                return reply(state, public(orders[by_out_id[out_id]]))
            est = estimates.get(estimate_id)
            if est is None:
                return refuse(state, 40400, "estimate not found")
            if est["expires_at"] < state.now():
                return refuse(state, 40410, "estimate expired")
            order_id = f"RH{next(numbers):08d}"
            orders[order_id] = {
                "order_id": order_id, "out_order_id": out_id, "estimate_id": estimate_id,
                "tier": est["tier"], "state": "created", "estimate_price": est["price"],
                "passenger_name": body.get("passenger_name", ""),
                "created_at": iso(state.now()), "driver": None, "fee": None,
                "_km": est["_km"], "_minutes": est["_minutes"], "_origin": est["_origin"]}
            by_out_id[out_id] = order_id
            return reply(state, public(orders[order_id]))

    @app.post("/v1/orders/cancel")
    def cancel_order():
        body = params()
        with lock:
            order = orders.get(body.get("order_id", ""))
            if order is None:
                return refuse(state, 40400, "order not found")
            if order["state"] != "cancelled":
                if order["state"] not in CANCEL_FEES:
                    return refuse(state, 40901, f"cannot cancel in state {order['state']}")
                order["cancel_fee"] = str(CANCEL_FEES[order["state"]])
                order["cancel_reason"] = body.get("reason", "")
                order["state"] = "cancelled"
                sender.send(_callback(order))
            return reply(state, {"order_id": order["order_id"], "state": "cancelled",
                                 "fee": order["cancel_fee"]})

    @app.get("/v1/orders/detail")
    def order_detail():
        query = params()
        order = orders.get(query.get("order_id")
                           or by_out_id.get(query.get("out_order_id", ""), ""))
        if order is None:
            return refuse(state, 40400, "order not found")
        return reply(state, public(order))

    @app.get("/v1/orders/driver-location")
    def driver_location():
        order = orders.get(params().get("order_id", ""))
        if order is None:
            return refuse(state, 40400, "order not found")
        if order["state"] not in ("assigned", "arrived", "in_trip"):
            return refuse(state, 40902, "no driver on the way")
        lat, lng = order["_origin"]
        return reply(state, {"lat": round(lat + 0.002, 6), "lng": round(lng + 0.002, 6),
                             "at": iso(state.now())})

    @app.get("/__sandbox/orders")
    def list_orders():
        """Every order the sandbox holds (``?out_order_id=`` narrows), for tests and demos."""
        wanted = request.args.get("out_order_id")
        with lock:
            items = [public(o) for o in orders.values()
                     if wanted is None or o["out_order_id"] == wanted]
        return jsonify({"items": items})

    @app.post("/__sandbox/orders/<order_id>/advance")
    def advance(order_id):
        body = json_body()
        with lock:
            order = orders.get(order_id)
            if order is None or order["state"] in ("paid", "cancelled"):
                return {"error": "no such order or already final"}, 404
            to = body.get("to") or STATES[STATES.index(order["state"]) + 1]
            if to not in STATES or STATES.index(to) <= STATES.index(order["state"]):
                return {"error": f"cannot move from {order['state']} to {to}"}, 400
            if to == "assigned" or (order["driver"] is None and to != "created"):
                order["driver"] = {"name": "王师傅", "phone": "13912345678",
                                   "plate": f"苏D·T{order_id[-4:]}", "car": "东风风神E70"}
            if to in ("completed", "paid") and order["fee"] is None:
                tier = TIERS[order["tier"]]
                km = Decimal(str(body.get("actual_km", order["_km"])))
                fare = _fare(tier, km, int(body.get("actual_minutes", order["_minutes"])))
                for extra in ("tolls", "parking", "other"):
                    fare[extra] = Decimal(str(body.get(extra, "0"))).quantize(CENT)
                order["fee"] = {**_strings(fare), "total": str(sum(fare.values()))}
            order["state"] = to
            sender.send(_callback(order))
            return public(order)

    def _callback(order: dict) -> dict:
        payload = {"event": "order.state", "order_id": order["order_id"],
                   "out_order_id": order["out_order_id"], "state": order["state"],
                   "occurred_at": iso(state.now())}
        if order["driver"]:
            payload["driver"] = order["driver"]
        if order["fee"]:
            payload["fee"] = order["fee"]
        if order["state"] == "cancelled":
            payload["cancel_fee"] = order["cancel_fee"]
        return payload

    return app
