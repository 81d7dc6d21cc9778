"""Reading positions: the live map, a vehicle's track, a trip's track with its GPS distance.

Stored coordinates are WGS-84; a client drawing on a GCJ-02 map (Gaode, the WeChat map)
asks for ``coords=gcj02`` and the conversion happens here, at the edge."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, bindparam, select, type_coerce
from sqlalchemy.types import NullType

from app import clock
from app.accounts.models import Role, User, Vehicle
from app.dispatch.models import TripRun
from app.errors import ValidationFailed
from app.positions.geometry import simplify, travelled_km
from app.positions.rules import JITTER_KM
from app.positions.models import LatestPosition, Position
from app.security import scope_filter, scoped_get
from app.trips import service as trips
from providers.geo import wgs84_to_gcj02

# The longest range one track read covers (a week at one fix per 10 s is 60,480 fixes).
MAX_SPAN = timedelta(days=7)
# Douglas–Peucker tolerance of a simplified track: invisible at street zoom.
DEFAULT_TOLERANCE_M = 10.0
DATUMS = ("wgs84", "gcj02")


def km(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def to_datum(lat: float, lng: float, datum: str) -> tuple[float, float]:
    if datum == "gcj02":
        lat, lng = wgs84_to_gcj02(lat, lng)
    return round(lat, 7), round(lng, 7)


def _sees_every_vehicle(user: User) -> bool:
    """Supervisors oversee the whole platform wherever their role is held (SPEC §1)."""
    return user.has_role(Role.SUPERVISOR)


def latest(session, user: User, *, datum: str = "wgs84") -> list[dict]:
    """The newest valid fix of every vehicle the caller oversees, with the trip it is on."""
    stmt = (select(LatestPosition, Vehicle.plate, Vehicle.vehicle_class, Vehicle.unit_id,
                   TripRun.trip_id)
            .join(Vehicle, Vehicle.id == LatestPosition.vehicle_id)
            .outerjoin(TripRun, and_(TripRun.vehicle_id == Vehicle.id,
                                     TripRun.finished_at.is_(None)))
            .order_by(Vehicle.plate))
    if not _sees_every_vehicle(user):
        stmt = stmt.where(scope_filter(user, Vehicle.unit_id))
    items = []
    for position, plate, vehicle_class, unit_id, trip_id in session.execute(stmt):
        lat, lng = to_datum(position.lat, position.lng, datum)
        items.append({"vehicle_id": position.vehicle_id, "plate": plate,
                      "vehicle_class": str(vehicle_class), "unit_id": unit_id,
                      "at": position.at, "lat": lat, "lng": lng, "speed": position.speed_kmh,
                      "course": position.course, "trip_id": trip_id})
    return items


_POINTS = Position.__table__
# Times come back as the driver gives them (no per-row conversion): only the fixes a track
# answers with are made aware (``_aware``); distances and simplification need none.
_TRACK = (select(type_coerce(_POINTS.c.at, NullType()), _POINTS.c.lat, _POINTS.c.lng,
                 _POINTS.c.speed_kmh)
          .where(_POINTS.c.vehicle_id == bindparam("vehicle_id"),
                 _POINTS.c.at >= bindparam("start"), _POINTS.c.at <= bindparam("end"),
                 _POINTS.c.valid)
          .order_by(_POINTS.c.at))


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite's text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else \
        value.astimezone(timezone.utc)


def _rows(session, vehicle_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(raw time, lat, lng, speed) of the valid fixes of ``[start, end]`` in time order."""
    return session.connection().execute(_TRACK, {
        "vehicle_id": vehicle_id, "start": start, "end": end}).all()


def track(session, vehicle_id: int, start: datetime, end: datetime, *, full: bool = False,
          tolerance_m: float = DEFAULT_TOLERANCE_M, datum: str = "wgs84",
          max_span: timedelta | None = MAX_SPAN) -> dict:
    """The valid fixes of ``[start, end]``, simplified unless ``full``, and their length."""
    if end < start:
        raise ValidationFailed("结束时间不能早于开始时间", code="invalid_range",
                               errors={"to": ["不能早于 from"]})
    if max_span is not None and end - start > max_span:
        raise ValidationFailed("一次最多查询 7 天的轨迹", code="range_too_long",
                               errors={"to": ["与 from 相隔不能超过 7 天"]})
    rows = _rows(session, vehicle_id, start, end)
    coords = [(row[1], row[2]) for row in rows]
    kept = range(len(rows)) if full else simplify(coords, tolerance_m)
    return {"vehicle_id": vehicle_id, "from_": start, "to": end, "datum": datum,
            "point_count": len(rows), "simplified": len(kept) < len(rows),
            "gps_km": km(travelled_km(coords, JITTER_KM)),
            "points": [_point(rows[i], to_datum(*coords[i], datum)) for i in kept]}


def _point(row: tuple, lat_lng: tuple[float, float]) -> dict:
    """A track point as it is answered (serialised here: a full day is 8,640 of them)."""
    return {"at": clock.local(_aware(row[0])).isoformat(), "lat": lat_lng[0],
            "lng": lat_lng[1], "speed": row[3]}


def vehicle_track(session, user: User, vehicle_id: int, start: datetime, end: datetime,
                  **options) -> dict:
    """A vehicle's track, for dispatchers (their subtree's vehicles) and supervisors."""
    if _sees_every_vehicle(user):
        vehicle = session.get(Vehicle, vehicle_id)
        if vehicle is None:
            scoped_get(Vehicle, vehicle_id, user)  # the same 404
    else:
        vehicle = scoped_get(Vehicle, vehicle_id, user)
    return {"plate": vehicle.plate, **track(session, vehicle.id, start, end, **options)}


def trip_track(session, user: User, trip_id: int, **options) -> dict:
    """The track of a trip's run, from setting off to return (now while on the road), with
    its GPS distance beside the odometer's."""
    trip = trips.get_visible(session, user, trip_id)
    run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
    if run is None:
        return {"trip_id": trip.id, "vehicle_id": None, "started_at": None,
                "finished_at": None, "odometer_km": None, "gps_km": None, "point_count": 0,
                "simplified": False, "datum": options.get("datum", "wgs84"), "points": []}
    end = max(run.finished_at or clock.now(), run.started_at)
    # A run is as long as its trip, which the trip's own limits bound.
    read = track(session, run.vehicle_id, run.started_at, end, max_span=None, **options)
    return {"trip_id": trip.id, "started_at": run.started_at, "finished_at": run.finished_at,
            "odometer_km": run.km, **{k: v for k, v in read.items() if k not in ("from_", "to")}}

