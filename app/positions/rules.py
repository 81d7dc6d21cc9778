"""The position rules of SPEC §6.1/§6.3 as pure functions over plain fixes (no database).

Each takes the valid fixes of one subject (in time order) and its parameters, and answers
the facts of its finding, or None:

- ``route_deviation``: the track leaves the corridor around the trip's path — the straight
  segments between consecutive stops, or the planned route when the routing adapter gave
  one — farther than ``corridor_km`` for at least ``min_minutes``;
- ``unassigned_movement``: a pooled vehicle covers at least ``min_km`` outside every
  assignment and run of its own;
- ``parked_off_site``: a vehicle spends the night window (00:00–05:00 Asia/Shanghai) more
  than ``radius_km`` from its home depot (the finder skips nights with an overnight trip);
- ``odometer_gps_mismatch``: a run's odometer distance differs from its GPS distance by
  more than ``ratio`` and at least ``min_gap_km``, when the GPS covered the run.

Distances travelled are measured on the de-jittered track (``travelled_km``): a parked
receiver wanders a few metres every fix, which over a day would add up to kilometres.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from app.positions import geometry
from app.positions.geometry import LatLng, distance_to_path_km, haversine_km

Params = Mapping[str, Any]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "route_deviation": {"corridor_km": Decimal("3"), "min_minutes": 10},
    "unassigned_movement": {"min_km": Decimal("2")},
    "parked_off_site": {"radius_km": Decimal("1"), "night_start": "00:00", "night_end": "05:00"},
    "odometer_gps_mismatch": {"ratio": Decimal("0.15"), "min_gap_km": Decimal("3"),
                              "max_gap_minutes": 5},
}

# A receiver at rest wanders; the track advances only once it is this far from where it was.
JITTER_KM = 0.03


@dataclass(frozen=True)
class Fix:
    at: datetime
    lat: float
    lng: float

    @property
    def point(self) -> LatLng:
        return (self.lat, self.lng)


def travelled_km(fixes: Sequence[Fix], *, jitter_km: float = JITTER_KM) -> float:
    """Distance along the fixes, counting a move only once it leaves ``jitter_km`` of the
    last counted point (so a parked receiver's wander adds nothing)."""
    return geometry.travelled_km([fix.point for fix in fixes], jitter_km)


def corridor_path(stops: Sequence[Mapping], *, one_way: bool = False,
                  planned_route: Sequence[LatLng] | None = None) -> list[LatLng]:
    """The path a trip's vehicle should stay near: the planned route when one was given,
    else the stops in order and, unless one-way, back to the origin."""
    if planned_route:
        return [tuple(p) for p in planned_route]
    path = [(float(s["lat"]), float(s["lng"])) for s in stops]
    if not one_way and len(path) > 1:
        path.append(path[0])
    return path


def route_deviation(fixes: Sequence[Fix], path: Sequence[LatLng], params: Params) -> dict | None:
    """The first stretch of consecutive fixes all farther than ``corridor_km`` from ``path``
    lasting at least ``min_minutes`` (from its first fix outside to its last), or None."""
    if not fixes or not path:
        return None
    corridor = float(params["corridor_km"])
    needed = timedelta(minutes=int(params["min_minutes"]))
    start = None
    farthest = 0.0
    best = None
    for fix in fixes:
        away = distance_to_path_km(fix.point, path)
        if away > corridor:
            if start is None:
                start, farthest = fix, 0.0
            farthest = max(farthest, away)
            if fix.at - start.at >= needed:
                best = {"started_at": start.at.isoformat(), "until": fix.at.isoformat(),
                        "minutes": int((fix.at - start.at).total_seconds() // 60),
                        "max_km": round(farthest, 2), "lat": fix.lat, "lng": fix.lng,
                        "corridor_km": str(params["corridor_km"])}
        else:
            if best is not None:
                return best
            start = None
    return best


def _busy(at: datetime, windows: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(start <= at <= end for start, end in windows)


def unassigned_movement(fixes: Sequence[Fix], busy: Sequence[tuple[datetime, datetime]],
                        params: Params) -> dict | None:
    """At least ``min_km`` travelled between fixes that both fall outside every busy window
    (an assignment's, a run's)."""
    legs: list[list[Fix]] = []
    for fix in fixes:
        if _busy(fix.at, busy):
            legs.append([])
        elif legs and legs[-1]:
            legs[-1].append(fix)
        else:
            legs.append([fix])
    km = sum(travelled_km(leg) for leg in legs if len(leg) > 1)
    if km < float(params["min_km"]):
        return None
    moving = [leg for leg in legs if len(leg) > 1 and travelled_km(leg) > 0]
    return {"km": round(km, 2), "min_km": str(params["min_km"]),
            "from": moving[0][0].at.isoformat(), "to": moving[-1][-1].at.isoformat()}


def parked_off_site(fixes: Sequence[Fix], depot: LatLng | None, params: Params) -> dict | None:
    """Every fix of the night window more than ``radius_km`` from the depot (the vehicle
    spent the night elsewhere); no fix, or no depot, is no finding."""
    if not fixes or depot is None:
        return None
    nearest = min(haversine_km(fix.point, depot) for fix in fixes)
    if nearest <= float(params["radius_km"]):
        return None
    last = fixes[-1]
    return {"nearest_km": round(nearest, 2), "radius_km": str(params["radius_km"]),
            "lat": last.lat, "lng": last.lng, "fixes": len(fixes)}


def covered(fixes: Sequence[Fix], start: datetime, end: datetime, max_gap: timedelta) -> bool:
    """Whether the fixes cover ``[start, end]`` with no gap longer than ``max_gap``."""
    if not fixes:
        return False
    moments = [start, *(f.at for f in fixes), end]
    return all(b - a <= max_gap for a, b in zip(moments, moments[1:]))


def odometer_gps_mismatch(odometer_km: Decimal, fixes: Sequence[Fix], start: datetime,
                          end: datetime, params: Params) -> dict | None:
    """The driver's odometer distance against the GPS distance of the same run: off by more
    than ``ratio`` of the GPS distance and at least ``min_gap_km`` (only for a run the GPS
    covered without a gap over ``max_gap_minutes``)."""
    if not covered(fixes, start, end, timedelta(minutes=int(params["max_gap_minutes"]))):
        return None
    gps = Decimal(str(round(travelled_km(fixes), 1)))
    gap = Decimal(odometer_km) - gps
    if abs(gap) > gps * Decimal(str(params["ratio"])) and abs(gap) >= Decimal(str(params["min_gap_km"])):
        return {"odometer_km": str(odometer_km), "gps_km": str(gps), "gap_km": str(gap)}
    return None
