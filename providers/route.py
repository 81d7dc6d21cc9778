"""Route distance and duration for estimates.

The default is the great-circle distance between consecutive stops times a detour factor,
driven at an average speed. A map-API adapter implements the same ``RouteEstimator``
protocol and is swapped in by configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, Sequence

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class RouteEstimate:
    km: Decimal  # one decimal place
    minutes: int


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
