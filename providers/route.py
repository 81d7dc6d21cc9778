"""Route distance and duration for estimates.

The straight-line estimate is the great-circle distance between consecutive stops times a
detour factor, driven at an average speed. ``GaodeRoute`` asks Gaode's driving-route API
for the road distance through the same points; ``FallbackRoute`` uses it and falls back to
the straight lines when it is down, slow or refuses. Points are (lat, lng) on WGS-84.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, Sequence

import requests

from providers.geo import wgs84_to_gcj02

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class RouteEstimate:
    km: Decimal  # one decimal place
    minutes: int
    source: str = "straight_line"  # or the map API's name that answered


class RouteEstimator(Protocol):
    def estimate(self, points: Sequence[tuple[float, float]]) -> RouteEstimate:
        """Distance and driving time through ``points`` ((lat, lng) pairs) in order."""


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def path_km(points: Sequence[tuple[float, float]]) -> float:
    return sum(haversine_km(a, b) for a, b in zip(points, points[1:]))


@dataclass(frozen=True)
class HaversineRoute:
    """Straight lines × ``detour`` (roads are rarely straight) at ``speed_kmh`` on average."""

    detour: float = 1.3
    speed_kmh: float = 40.0

    def estimate(self, points: Sequence[tuple[float, float]]) -> RouteEstimate:
        km = path_km(points) * self.detour
        minutes = math.ceil(km / self.speed_kmh * 60) if km else 0
        return RouteEstimate(km=Decimal(str(km)).quantize(Decimal("0.1"), ROUND_HALF_UP),
                             minutes=minutes)


class RouteUnavailable(Exception):
    """The routing API gave no usable answer (down, slow, refused, malformed)."""


def _lnglat(point: tuple[float, float]) -> str:
    lat, lng = wgs84_to_gcj02(*point)
    return f"{lng:.6f},{lat:.6f}"


@dataclass
class GaodeRoute:
    """Driving distance and time from Gaode's (AMap's) web-service driving-route API v3.

    ``GET {base_url}/v3/direction/driving?origin=lng,lat&destination=lng,lat
    &waypoints=lng,lat;lng,lat&key=…&extensions=base&strategy=0`` answers
    ``{"status": "1", "info": "OK", "infocode": "10000", "count": "1",
    "route": {"paths": [{"distance": "<metres>", "duration": "<seconds>", …}]}}``; a
    refusal is ``{"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}``.
    Numbers come as strings. Coordinates go out as GCJ-02 (converted here from our
    WGS-84). The first path is taken (strategy 0: Gaode's recommended route). Anything
    else raises ``RouteUnavailable``; ``FallbackRoute`` turns that into the straight-line
    estimate.
    """

    base_url: str
    key: str
    connect_timeout: float = 0.5
    read_timeout: float = 1.5
    max_waypoints: int = 16  # v3's limit
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    name: str = "gaode"

    def estimate(self, points: Sequence[tuple[float, float]]) -> RouteEstimate:
        points = _dedupe(points)
        if len(points) < 2:
            return RouteEstimate(km=Decimal("0.0"), minutes=0, source=self.name)
        if len(points) - 2 > self.max_waypoints:
            raise RouteUnavailable(f"{len(points) - 2} waypoints exceed {self.max_waypoints}")
        params = {"origin": _lnglat(points[0]), "destination": _lnglat(points[-1]),
                  "key": self.key, "extensions": "base", "strategy": "0", "output": "JSON"}
        if len(points) > 2:
            params["waypoints"] = ";".join(_lnglat(p) for p in points[1:-1])
        try:
            resp = self.session.get(f"{self.base_url.rstrip('/')}/v3/direction/driving",
                                    params=params,
                                    timeout=(self.connect_timeout, self.read_timeout))
        except requests.RequestException as exc:
            raise RouteUnavailable(f"routing API unreachable: {exc!r}") from exc
        if resp.status_code != 200:
            raise RouteUnavailable(f"routing API answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise RouteUnavailable("routing API answered malformed JSON") from exc
        if not isinstance(body, dict) or str(body.get("status")) != "1":
            info = body.get("info") if isinstance(body, dict) else None
            code = body.get("infocode") if isinstance(body, dict) else None
            raise RouteUnavailable(f"routing API refused: {info} ({code})")
        try:
            path = body["route"]["paths"][0]
            metres, seconds = Decimal(str(path["distance"])), int(str(path["duration"]))
        except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
            raise RouteUnavailable("routing API answer has no usable path") from exc
        if metres < 0 or seconds < 0 or not metres.is_finite():
            raise RouteUnavailable("routing API answered a negative distance or duration")
        return RouteEstimate(km=(metres / 1000).quantize(Decimal("0.1"), ROUND_HALF_UP),
                             minutes=math.ceil(seconds / 60), source=self.name)


def _dedupe(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Consecutive equal points add nothing to a route (and some APIs refuse them)."""
    out: list[tuple[float, float]] = []
    for point in points:
        if not out or tuple(out[-1]) != tuple(point):
            out.append(tuple(point))
    return out


@dataclass
class FallbackRoute:
    """``primary`` (a map API) when it answers, else ``fallback`` (the straight-line
    estimate): a routing outage never stops quoting."""

    primary: RouteEstimator
    fallback: RouteEstimator

    def estimate(self, points: Sequence[tuple[float, float]]) -> RouteEstimate:
        try:
            return self.primary.estimate(points)
        except RouteUnavailable as exc:
            log.warning("route estimate falls back to straight lines: %s", exc)
            return self.fallback.estimate(points)
