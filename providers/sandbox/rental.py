"""Rental company API simulator (framework-agreement supplier with driver), real HTTP on loopback.

Each instance is one company with its own ``price_factor`` applied to its list prices
(the undiscounted agreement rates), so two companies quote differently.

    POST /api/v2/quote                  {vehicle_classes: [...], start_at, end_at, est_km,
                                         passengers, with_driver: true}
                                        → {quotes: [{quote_id, vehicle_class, model, seats, nev,
                                           price, lines: [{kind, description, amount}],
                                           valid_until}]}
    POST /api/v2/reservations           {quote_id, out_order_id, contact_name, contact_phone,
                                         pickup} (same out_order_id → the same reservation)
    POST /api/v2/reservations/cancel    {reservation_id, reason} → {reservation_id, state, fee}
    GET  /api/v2/reservations/detail    ?reservation_id= (or ?out_order_id=, our reference)

Cancellation is free until ``CANCEL_CUTOFF`` before the start, then costs 20 % of the price.
Error codes: 40101 bad signature, 40400 unknown quote or reservation, 40410 quote expired,
40901 no longer cancellable, 42200 bad parameters.
``POST /__sandbox/orders/<reservation_id>/advance {"to"?, "actual_km"?, "hours"?, "tolls"?,
"parking"?}`` moves reserved → assigned (plate, driver, phone) → in_service → finished (final
bill) and posts the callback ``{event: "reservation.state", order_id, out_order_id, state,
occurred_at, vehicle?, bill?: {lines, total}}``, signed as Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``).
"""
from __future__ import annotations

import itertools
import math
import secrets
import threading
from datetime import datetime, timedelta
from decimal import Decimal

from flask import Flask

from providers.sandbox.server import json_body
from providers.money import CENT, round_money
from providers.sandbox.supplier import create_supplier_app, iso, params, refuse, reply

QUOTE_TTL_SECONDS = 1800
CANCEL_CUTOFF = timedelta(hours=2)
LATE_CANCEL_SHARE = Decimal("0.20")
STATES = ["reserved", "assigned", "in_service", "finished"]

# class -> (list day rate, list rate per km beyond 100 km a day, model, seats, nev)
PRICE_LIST = {
    "sedan": (Decimal("500"), Decimal("5.0"), "大众帕萨特", 5, False),
    "mpv": (Decimal("600"), Decimal("5.9"), "别克GL8", 7, False),
    "minibus": (Decimal("900"), Decimal("8.0"), "丰田考斯特", 18, False),
    "bus": (Decimal("1400"), Decimal("12.0"), "宇通E12纯电客车", 45, True),
}


def _price(vehicle_class: str, factor: Decimal, hours: float, km: Decimal) -> list[dict]:
    day, per_km, *_ = PRICE_LIST[vehicle_class]
    day, per_km = day * factor, per_km * factor
    if hours <= 4 and km <= 50:
        return [{"kind": "rental", "description": "半日租（含司机）",
                 "amount": str(round_money(day / 2))}]
    days = max(1, math.ceil(hours / 24))
    lines = [{"kind": "rental", "description": f"{days}日租（含司机）",
              "amount": str(round_money(day * days))}]
    extra_km = km - 100 * days
    if extra_km > 0:
        lines.append({"kind": "extra_km", "description": f"超里程{extra_km}公里",
                      "amount": str(round_money(per_km * extra_km))})
    return lines


def _total(lines: list[dict]) -> str:
    return str(sum(Decimal(line["amount"]) for line in lines))


def create_app(app_key: str = "otb-rental", secret: str = "sandbox-rental-secret",
               webhook_url: str | None = None, price_factor: str = "0.80",
               company: str = "常州租车") -> Flask:
    app, state, sender = create_supplier_app("rental_sandbox", app_key, secret, webhook_url,
                                             standard_webhooks=True)
    factor = Decimal(price_factor)
    quotes: dict[str, dict] = {}
    reservations: dict[str, dict] = {}
    by_out_id: dict[str, str] = {}
    numbers = itertools.count(1)
    lock = threading.Lock()

    @app.post("/api/v2/quote")
    def quote():
        body = params()
        try:
            start = datetime.fromisoformat(body["start_at"])
            end = datetime.fromisoformat(body["end_at"])
            km = Decimal(str(body["est_km"]))
            classes = [c for c in body["vehicle_classes"] if c in PRICE_LIST]
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return refuse(state, 42200, "vehicle_classes, start_at, end_at and est_km required")
        if end <= start or start.tzinfo is None:
            return refuse(state, 42200, "bad time range")
        hours = (end - start).total_seconds() / 3600
        valid_until = state.now() + QUOTE_TTL_SECONDS
        items = []
        for vehicle_class in classes:
            _, _, model, seats, nev = PRICE_LIST[vehicle_class]
            lines = _price(vehicle_class, factor, hours, km)
            if state.price_change:  # the market moved since the last quote
                lines.append({"kind": "other", "description": "价格调整",
                              "amount": str(round_money(state.price_change))})
            item = {"quote_id": "q_" + secrets.token_hex(8), "company": company,
                    "vehicle_class": vehicle_class, "model": model, "seats": seats, "nev": nev,
                    "price": _total(lines), "lines": lines, "valid_until": iso(valid_until)}
            with lock:
                quotes[item["quote_id"]] = {**item, "_expires": valid_until, "_start": start}
            items.append(item)
        return reply(state, {"quotes": items})

    @app.post("/api/v2/reservations")
    def reserve():
        body = params()
        out_id, quote_id = body.get("out_order_id"), body.get("quote_id")
        if not out_id or not quote_id:
            return refuse(state, 42200, "out_order_id and quote_id required")
        with lock:
            if out_id in by_out_id:
                return reply(state, reservations[by_out_id[out_id]]["public"])
            q = quotes.get(quote_id)
            if q is None:
                return refuse(state, 40400, "quote not found")
            if q["_expires"] < state.now():
                return refuse(state, 40410, "quote expired")
            rid = f"RS{next(numbers):07d}"
            reservations[rid] = {"start": q["_start"], "class": q["vehicle_class"], "public": {
                "reservation_id": rid, "out_order_id": out_id, "quote_id": quote_id,
                "vehicle_class": q["vehicle_class"], "price": q["price"], "state": "reserved",
                "start_at": q["_start"].isoformat(), "vehicle": None, "bill": None}}
            by_out_id[out_id] = rid
            return reply(state, reservations[rid]["public"])

    @app.post("/api/v2/reservations/cancel")
    def cancel():
        body = params()
        with lock:
            row = reservations.get(body.get("reservation_id", ""))
            if row is None:
                return refuse(state, 40400, "reservation not found")
            res = row["public"]
            if res["state"] != "cancelled":
                if res["state"] != "reserved" and res["state"] != "assigned":
                    return refuse(state, 40901, f"cannot cancel in state {res['state']}")
                late = state.now_dt() > row["start"] - CANCEL_CUTOFF
                fee = (Decimal(res["price"]) * LATE_CANCEL_SHARE).quantize(CENT) if late \
                    else Decimal("0.00")
                res.update(state="cancelled", cancel_fee=str(fee),
                           cancel_reason=body.get("reason", ""))
                sender.send(_callback(res))
            return reply(state, {"reservation_id": res["reservation_id"], "state": "cancelled",
                                 "fee": res["cancel_fee"]})

    @app.get("/api/v2/reservations/detail")
    def detail():
        query = params()
        row = reservations.get(query.get("reservation_id")
                               or by_out_id.get(query.get("out_order_id", ""), ""))
        if row is None:
            return refuse(state, 40400, "reservation not found")
        return reply(state, row["public"])

    @app.post("/__sandbox/orders/<rid>/advance")
    def advance(rid):
        body = json_body()
        with lock:
            row = reservations.get(rid)
            if row is None or row["public"]["state"] in ("finished", "cancelled"):
                return {"error": "no such reservation or already final"}, 404
            res = row["public"]
            to = body.get("to") or STATES[STATES.index(res["state"]) + 1]
            if to not in STATES or STATES.index(to) <= STATES.index(res["state"]):
                return {"error": f"cannot move from {res['state']} to {to}"}, 400
            if res["vehicle"] is None:
                res["vehicle"] = {"plate": f"苏D·Z{rid[-4:]}", "driver_name": "刘师傅",
                                  "driver_phone": "13787654321",
                                  "model": PRICE_LIST[row["class"]][2]}
            if to == "finished":
                km = Decimal(str(body.get("actual_km", "80")))
                lines = _price(row["class"], factor, float(body.get("hours", 8)), km)
                for kind, label in (("tolls", "通行费"), ("parking", "停车费")):
                    if body.get(kind):
                        lines.append({"kind": kind, "description": label,
                                      "amount": str(Decimal(str(body[kind])).quantize(CENT))})
                res["bill"] = {"lines": lines, "total": _total(lines), "actual_km": str(km)}
            res["state"] = to
            sender.send(_callback(res))
            return res

    def _callback(res: dict) -> dict:
        payload = {"event": "reservation.state", "order_id": res["reservation_id"],
                   "out_order_id": res["out_order_id"], "state": res["state"],
                   "occurred_at": iso(state.now())}
        for key in ("vehicle", "bill", "cancel_fee"):
            if res.get(key):
                payload[key] = res[key]
        return payload

    return app
