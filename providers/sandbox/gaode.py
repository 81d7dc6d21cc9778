"""Gaode (AMap) driving-route API simulator, real HTTP on loopback.

    GET /v3/direction/driving?origin=lng,lat&destination=lng,lat[&waypoints=lng,lat;…]&key=…
        → {"status": "1", "info": "OK", "infocode": "10000", "count": "1",
           "route": {"origin", "destination", "taxi_cost",
                     "paths": [{"distance": "<m>", "duration": "<s>", "strategy", "tolls",
                                "toll_distance", "steps": []}]}}

Like the real service it answers HTTP 200 with ``status "0"`` for refusals:
``INVALID_USER_KEY`` (10001) for a wrong or missing key, ``INVALID_PARAMS`` (20000) for a
missing or unreadable coordinate, ``OVER_DIRECTION_RANGE`` (20803) beyond 16 waypoints.
Coordinates are GCJ-02 ``lng,lat`` with at most 6 decimals. The road distance is the
great-circle distance between the points times ``ROAD_FACTOR`` (roads are not straight),
driven at ``SPEED_KMH``; every request is kept in ``GET /__sandbox/requests`` so tests see
what was sent. Latency and faults: ``/__sandbox/faults`` (providers/sandbox/server.py).
"""
from __future__ import annotations

import math
import threading

from flask import Flask, jsonify, request

from providers.route import haversine_km
from providers.sandbox.server import install_faults

ROAD_FACTOR = 1.25
SPEED_KMH = 75.0
MAX_WAYPOINTS = 16
SANDBOX_KEY = "sandbox-gaode-key"


def _refuse(info: str, infocode: str):
    return jsonify({"status": "0", "info": info, "infocode": infocode})


def _point(text: str) -> tuple[float, float] | None:
    """``lng,lat`` → (lat, lng), or None when it is not a coordinate pair."""
    try:
        lng_text, lat_text = text.split(",")
        if any(len(part.partition(".")[2]) > 6 for part in (lng_text, lat_text)):
            return None
        lng, lat = float(lng_text), float(lat_text)
    except ValueError:
        return None
    if not (-180 <= lng <= 180 and -90 <= lat <= 90):
        return None
    return lat, lng


def create_app(key: str = SANDBOX_KEY) -> Flask:
    app = Flask("gaode_sandbox")
    install_faults(app)
    seen: list[dict] = []
    lock = threading.Lock()

    @app.get("/v3/direction/driving")
    def driving():
        args = request.args.to_dict()
        with lock:
            seen.append(args)
        if args.get("key") != key:
            return _refuse("INVALID_USER_KEY", "10001")
        waypoints = [w for w in args.get("waypoints", "").split(";") if w]
        if len(waypoints) > MAX_WAYPOINTS:
            return _refuse("OVER_DIRECTION_RANGE", "20803")
        points = [_point(t) for t in (args.get("origin", ""), *waypoints,
                                      args.get("destination", ""))]
        if any(p is None for p in points):
            return _refuse("INVALID_PARAMS", "20000")
        km = sum(haversine_km(a, b) for a, b in zip(points, points[1:])) * ROAD_FACTOR
        metres = round(km * 1000)
        seconds = round(km / SPEED_KMH * 3600)
        return jsonify({
            "status": "1", "info": "OK", "infocode": "10000", "count": "1",
            "route": {"origin": args["origin"], "destination": args["destination"],
                      "taxi_cost": str(round(13 + 2.5 * km)),
                      "paths": [{"distance": str(metres), "duration": str(seconds),
                                 "strategy": "速度最快", "tolls": str(math.floor(km * 0.45)),
                                 "toll_distance": str(round(metres * 0.8)), "steps": []}]}})

    @app.get("/__sandbox/requests")
    def requests_seen():
        with lock:
            return jsonify({"requests": list(seen)})

    @app.delete("/__sandbox/requests")
    def forget_requests():
        with lock:
            seen.clear()
        return jsonify({"ok": True})

    return app
