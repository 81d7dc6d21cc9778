"""Distances on the ground for tracks and rules: great-circle lengths, the distance from a
point to a polyline, and Douglas–Peucker simplification, all in WGS-84 degrees in and
kilometres or metres out. Within a city a local equirectangular projection around the
points is accurate to well under a metre per kilometre, which is all a corridor needs."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from simplification.cutil import simplify_coords_idx

from providers.route import EARTH_RADIUS_KM, haversine_km

LatLng = tuple[float, float]

__all__ = ["haversine_km", "distance_to_path_km", "simplify", "travelled_km", "LatLng"]
_KM_PER_DEG = math.pi / 180 * EARTH_RADIUS_KM


def _project(origin_lat: float, point: LatLng) -> tuple[float, float]:
    """(x, y) in km on a plane tangent at latitude ``origin_lat`` (x east, y north)."""
    k = math.pi / 180 * EARTH_RADIUS_KM
    return point[1] * k * math.cos(math.radians(origin_lat)), point[0] * k


def _segment_km(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


def distance_to_path_km(point: LatLng, path: Sequence[LatLng]) -> float:
    """How far ``point`` lies from the nearest straight segment of ``path`` (one point: from it)."""
    if not path:
        raise ValueError("empty path")
    lat0 = point[0]
    p = _project(lat0, point)
    projected = [_project(lat0, q) for q in path]
    if len(projected) == 1:
        return math.hypot(p[0] - projected[0][0], p[1] - projected[0][1])
    return min(_segment_km(p, a, b) for a, b in zip(projected, projected[1:]))


def travelled_km(points: Sequence[LatLng], jitter_km: float) -> float:
    """Distance along ``points``, counting a move only once it leaves ``jitter_km`` of the
    last counted point (a parked receiver's wander adds nothing). Each step is measured on
    the plane at its mean latitude: exact to well under 0.1 % for steps of a few km, and
    cheap enough for a day of fixes per request."""
    if not points:
        return 0.0
    total = 0.0
    a_lat, a_lng = points[0]
    for lat, lng in points[1:]:
        dy = (lat - a_lat) * _KM_PER_DEG
        dx = (lng - a_lng) * _KM_PER_DEG * math.cos(math.radians((lat + a_lat) / 2))
        step = math.sqrt(dx * dx + dy * dy)
        if step >= jitter_km:
            total += step
            a_lat, a_lng = lat, lng
    return total


def simplify(points: Sequence[LatLng], tolerance_m: float) -> list[int]:
    """Indices of the points Douglas–Peucker keeps at ``tolerance_m`` (first and last always)."""
    if len(points) <= 2:
        return list(range(len(points)))
    coords = np.asarray(points, dtype=float)
    metres = _KM_PER_DEG * 1000
    projected = np.column_stack((coords[:, 1] * metres * math.cos(math.radians(coords[0, 0])),
                                 coords[:, 0] * metres))
    return [int(i) for i in simplify_coords_idx(projected, tolerance_m)]
