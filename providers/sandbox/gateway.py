"""A fake positioning gateway: what Traccar does for us, simulated on loopback.

Traccar decodes the terminals' JT/T 808 and forwards each position to us as JSON, one HTTP
request per position, with the header its ``forward.header`` setting adds. This sandbox
does the same from simulated vehicles: each device either drives a route (stops in order,
at a speed, from a start time, a fix every ``every_s`` seconds) or is parked at a point
(a fix every ``park_every_s``), and a background thread posts the fixes as they fall due.
Controls (real HTTP, like the other sandboxes):

    POST   /__sandbox/target              {"url": ".../api/v1/telemetry/traccar", "token": "…"}
    PUT    /__sandbox/devices/<id>        {"route": [[lat, lng], …], "speed_kmh": 40,
                                           "start": ISO time, "every_s": 10} | {"park": [lat, lng]}
    POST   /__sandbox/devices/<id>/deviate {"offset_km": 5, "minutes": 15}  (from now on)
    POST   /__sandbox/devices/<id>/replay  {"route", "speed_kmh", "start", "every_s",
                                            "deviation": {"after_minutes", "minutes", "offset_km"}}
           posts a whole drive now (past times), one request per fix
    POST   /__sandbox/devices/<id>/night-move {"km": 5}  a drive out and back from its parking
           point at 01:00 Asia/Shanghai of the last night (an off-hours movement)
    GET    /__sandbox/devices             every device's state and what its posts answered
    DELETE /__sandbox/devices/<id>

Latency and faults of the sandbox's own endpoints come from ``server.install_faults``.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests
from flask import Flask, jsonify, request

from providers.route import EARTH_RADIUS_KM, haversine_km
from providers.sandbox.server import install_faults, json_body

KNOT_KMH = 1.852
SHANGHAI = ZoneInfo("Asia/Shanghai")
KM_PER_DEG = math.pi / 180 * EARTH_RADIUS_KM


@dataclass(frozen=True)
class SimFix:
    at: datetime
    lat: float
    lng: float
    speed_kmh: float
    course: float


@dataclass(frozen=True)
class Deviation:
    """Shift the vehicle ``offset_km`` to the left of its route from ``after_minutes`` into
    the drive for ``minutes``."""

    after_minutes: float
    minutes: float
    offset_km: float


def _offset(lat: float, lng: float, course: float, km: float) -> tuple[float, float]:
    """The point ``km`` to the left of a vehicle heading ``course`` degrees."""
    left = math.radians(course - 90)
    return (lat + km * math.cos(left) / KM_PER_DEG,
            lng + km * math.sin(left) / (KM_PER_DEG * math.cos(math.radians(lat))))


def _course(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (b[0] - a[0]) * KM_PER_DEG
    dx = (b[1] - a[1]) * KM_PER_DEG * math.cos(math.radians(a[0]))
    return math.degrees(math.atan2(dx, dy)) % 360


def position_along(route: list[tuple[float, float]], km: float) -> tuple[float, float, float, bool]:
    """(lat, lng, course, arrived) ``km`` along the route (at its end once past it)."""
    for a, b in zip(route, route[1:]):
        leg = haversine_km(a, b)
        if km <= leg and leg > 0:
            f = km / leg
            return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, _course(a, b), False
        km -= leg
    last = route[-1]
    course = _course(route[-2], route[-1]) if len(route) > 1 else 0.0
    return last[0], last[1], course, True


def drive_fix(route, start: datetime, speed_kmh: float, at: datetime,
              deviation: Deviation | None = None) -> SimFix:
    """Where a vehicle that left ``start`` along ``route`` at ``speed_kmh`` is at ``at``."""
    hours = max((at - start).total_seconds(), 0) / 3600
    lat, lng, course, arrived = position_along(route, speed_kmh * hours)
    if deviation is not None:
        begins = start + timedelta(minutes=deviation.after_minutes)
        if begins <= at <= begins + timedelta(minutes=deviation.minutes):
            lat, lng = _offset(lat, lng, course, deviation.offset_km)
    return SimFix(at, round(lat, 7), round(lng, 7), 0.0 if arrived else speed_kmh, round(course, 1))


def drive_fixes(route, start: datetime, speed_kmh: float, every_s: float,
                deviation: Deviation | None = None) -> list[SimFix]:
    """Every fix of a whole drive, from ``start`` to arrival."""
    total_km = sum(haversine_km(a, b) for a, b in zip(route, route[1:]))
    seconds = total_km / speed_kmh * 3600 if speed_kmh > 0 else 0
    count = int(seconds // every_s) + 1
    fixes = [drive_fix(route, start, speed_kmh, start + timedelta(seconds=every_s * i), deviation)
             for i in range(count)]
    end = start + timedelta(seconds=seconds)
    if fixes[-1].at < end:
        fixes.append(drive_fix(route, start, speed_kmh, end, deviation))
    return fixes


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def forward_body(device_id: str, fix: SimFix, *, position_id: int = 0) -> dict:
    """A position as Traccar's JSON forwarding posts it (speed in knots)."""
    return {
        "position": {"id": position_id, "attributes": {"ignition": fix.speed_kmh > 0,
                                                       "motion": fix.speed_kmh > 0},
                     "deviceId": 0, "protocol": "jt808", "serverTime": _iso(fix.at),
                     "deviceTime": _iso(fix.at), "fixTime": _iso(fix.at), "outdated": False,
                     "valid": True, "latitude": fix.lat, "longitude": fix.lng, "altitude": 8.0,
                     "speed": round(fix.speed_kmh / KNOT_KMH, 3), "course": fix.course,
                     "address": None, "accuracy": 5.0, "network": None},
        "device": {"id": 0, "name": device_id, "uniqueId": device_id, "status": "online",
                   "lastUpdate": _iso(fix.at), "positionId": position_id, "category": "car",
                   "disabled": False}}


@dataclass
class Device:
    device_id: str
    route: list[tuple[float, float]] | None = None
    start: datetime | None = None
    speed_kmh: float = 40.0
    every_s: float = 10.0
    park: tuple[float, float] | None = None
    deviation: Deviation | None = None
    last_at: datetime | None = None
    statuses: Counter = field(default_factory=Counter)

    def due(self, now: datetime, park_every_s: float) -> SimFix | None:
        """The fix to post now, if one is due (only the newest after a pause)."""
        if self.route:
            if now < self.start:
                return None
            slot = self.start + timedelta(
                seconds=self.every_s * int((now - self.start).total_seconds() // self.every_s))
            if self.last_at is not None and slot <= self.last_at:
                return None
            return drive_fix(self.route, self.start, self.speed_kmh, slot, self.deviation)
        if self.park:
            if self.last_at is not None and (now - self.last_at).total_seconds() < park_every_s:
                return None
            return SimFix(now.replace(microsecond=0), self.park[0], self.park[1], 0.0, 0.0)
        return None

    def state(self) -> dict:
        return {"device_id": self.device_id, "route": self.route, "park": self.park,
                "start": self.start.isoformat() if self.start else None,
                "speed_kmh": self.speed_kmh, "deviating": self.deviation is not None,
                "last_at": self.last_at.isoformat() if self.last_at else None,
                "statuses": dict(self.statuses)}


class Gateway:
    """The simulated devices and the thread that forwards their fixes."""

    def __init__(self, *, tick: float = 1.0, park_every_s: float = 60.0):
        self.devices: dict[str, Device] = {}
        self.url: str | None = None
        self.token: str | None = None
        self.park_every_s = park_every_s
        self.lock = threading.Lock()
        self.http = requests.Session()
        self._stop = threading.Event()
        self._tick = tick
        self._posted = 0
        self._thread = threading.Thread(target=self._loop, name="gateway-sim", daemon=True)
        self._thread.start()

    def post(self, device: Device, fix: SimFix) -> int:
        if not self.url:
            return 0
        self._posted += 1
        try:
            status = self.http.post(self.url, json=forward_body(device.device_id, fix,
                                                                position_id=self._posted),
                                    headers={"Authorization": f"Bearer {self.token}"},
                                    timeout=10).status_code
        except requests.RequestException:
            status = 0  # Traccar would retry later; the simulator moves on
        device.statuses[str(status)] += 1
        device.last_at = fix.at
        return status

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            now = datetime.now(timezone.utc)
            with self.lock:
                due = [(d, d.due(now, self.park_every_s)) for d in list(self.devices.values())]
            for device, fix in due:
                if fix is not None:
                    self.post(device, fix)

    def stop(self) -> None:
        self._stop.set()


def _points(value) -> list[tuple[float, float]]:
    return [(float(p[0]), float(p[1])) for p in value]


def _deviation(body: dict | None) -> Deviation | None:
    if not body:
        return None
    return Deviation(float(body.get("after_minutes", 0)), float(body["minutes"]),
                     float(body["offset_km"]))


def _when(text: str | None) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc) if text else \
        datetime.now(timezone.utc)


def create_app(*, tick: float = 1.0, park_every_s: float = 60.0) -> Flask:
    app = Flask("sandbox-gateway")
    install_faults(app)
    gateway = Gateway(tick=tick, park_every_s=park_every_s)
    app.extensions["gateway"] = gateway

    def device(device_id: str) -> Device:
        return gateway.devices.setdefault(device_id, Device(device_id))

    @app.post("/__sandbox/target")
    def target():
        body = json_body()
        gateway.url, gateway.token = body.get("url"), body.get("token")
        return jsonify({"ok": True})

    @app.get("/__sandbox/devices")
    def devices():
        with gateway.lock:
            return jsonify([d.state() for d in gateway.devices.values()])

    @app.put("/__sandbox/devices/<device_id>")
    def set_device(device_id):
        body = json_body()
        with gateway.lock:
            d = device(device_id)
            if body.get("route"):
                d.route, d.park = _points(body["route"]), None
                d.start = _when(body.get("start"))
                d.speed_kmh = float(body.get("speed_kmh", 40))
                d.every_s = float(body.get("every_s", 10))
                d.deviation, d.last_at = None, None
            elif body.get("park"):
                (lat, lng), = _points([body["park"]])
                if d.park != (lat, lng) or d.route:
                    d.park, d.route, d.deviation, d.last_at = (lat, lng), None, None, None
            else:
                return jsonify({"error": "route or park required"}), 400
            return jsonify(d.state())

    @app.delete("/__sandbox/devices/<device_id>")
    def forget(device_id):
        with gateway.lock:
            gateway.devices.pop(device_id, None)
        return jsonify({"ok": True})

    @app.post("/__sandbox/devices/<device_id>/deviate")
    def deviate(device_id):
        body = json_body()
        with gateway.lock:
            d = gateway.devices.get(device_id)
            if d is None or not d.route:
                return jsonify({"error": "the device is not driving"}), 409
            minutes_in = (datetime.now(timezone.utc) - d.start).total_seconds() / 60
            d.deviation = Deviation(minutes_in, float(body.get("minutes", 15)),
                                    float(body.get("offset_km", 5)))
            return jsonify(d.state())

    def replay(d: Device, fixes: list[SimFix]) -> dict:
        before = Counter(d.statuses)
        for fix in fixes:
            gateway.post(d, fix)
        return {"posted": len(fixes), "statuses": dict(d.statuses - before)}

    @app.post("/__sandbox/devices/<device_id>/replay")
    def replay_drive(device_id):
        body = json_body()
        fixes = drive_fixes(_points(body["route"]), _when(body.get("start")),
                            float(body.get("speed_kmh", 40)), float(body.get("every_s", 10)),
                            _deviation(body.get("deviation")))
        return jsonify(replay(Device(device_id), fixes))

    @app.post("/__sandbox/devices/<device_id>/night-move")
    def night_move(device_id):
        body = json_body()
        with gateway.lock:
            known = gateway.devices.get(device_id)
        home = (known.park or (known.route[-1] if known.route else None)) if known else None
        if body.get("from"):
            home = tuple(body["from"])
        if home is None:
            return jsonify({"error": "unknown parking point; give \"from\": [lat, lng]"}), 409
        local_now = datetime.now(SHANGHAI)
        night = local_now.replace(hour=1, minute=0, second=0, microsecond=0)
        if night > local_now:
            night -= timedelta(days=1)
        km = float(body.get("km", 5))
        away = (home[0] + km / 2 / KM_PER_DEG, home[1])
        route = [home, away, home]
        fixes = drive_fixes(route, night, 30.0, float(body.get("every_s", 30)))
        return jsonify(replay(Device(device_id), fixes))

    return app
