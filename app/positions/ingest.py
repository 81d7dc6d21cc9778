"""Storing a fix: which vehicle carries the device, whether the fix is plausible, once only.

The path is built for volume (every vehicle of the city every 10 s, one request each): a
lookup of the device, a lookup of the fix before it, one ``INSERT … ON CONFLICT DO
NOTHING`` keyed by (vehicle, time) — a gateway's retry stores nothing twice — and, for a
valid fix newer than the vehicle's latest, one conditional upsert of the latest position,
so a late (out-of-order) fix never moves the live map backwards.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import Vehicle
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.positions.geometry import haversine_km
from app.positions.models import LatestPosition, Position, UnknownDevice
from app.positions.partitions import retention_start
from app.positions.protocols import Fix

# No road vehicle moves faster: a fix implying more from the fix before it is a jump.
MAX_PLAUSIBLE_KMH = 300.0
# Below this a "jump" is the receiver's jitter between two close fixes, not a jump.
JUMP_MIN_KM = 0.5
# Within this of (0, 0) a fix is the receiver's "no position" (Null Island).
NULL_ISLAND_DEG = 1e-4
# Receivers' clocks drift a little; a fix further ahead of ours is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Earlier:
    at: datetime
    lat: float
    lng: float


@dataclass(frozen=True)
class Device:
    vehicle_id: int
    key_sha256: str | None
    latest: Earlier | None = None  # the vehicle's newest valid fix, read with the device


@dataclass(frozen=True)
class Stored:
    vehicle_id: int
    duplicate: bool
    valid: bool
    flaw: str | None

    def body(self) -> dict:
        return {"status": "duplicate" if self.duplicate else "stored",
                "vehicle_id": self.vehicle_id, "valid": self.valid, "flaw": self.flaw}


def judge(fix: Fix, earlier: Earlier | None) -> str | None:
    """Why a fix is absurd (``device_invalid``, ``null_island``, ``jump``), or None."""
    if not fix.device_valid:
        return "device_invalid"
    if abs(fix.lat) < NULL_ISLAND_DEG and abs(fix.lng) < NULL_ISLAND_DEG:
        return "null_island"
    if earlier is not None:
        km = haversine_km((earlier.lat, earlier.lng), (fix.lat, fix.lng))
        hours = abs((fix.at - earlier.at).total_seconds()) / 3600
        if km > JUMP_MIN_KM and (hours == 0 or km / hours > MAX_PLAUSIBLE_KMH):
            return "jump"
    return None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_device_key(found: Device, key: str | None) -> None:
    """OsmAnd has no authentication field: each phone sends its vehicle's key as ``key``."""
    if not key:
        raise Unauthorized("缺少设备密钥参数 key", code="device_key_required",
                           errors={"key": ["必填"]})
    if found.key_sha256 is None or not hmac.compare_digest(key_digest(key), found.key_sha256):
        raise Unauthorized("设备密钥错误", code="bad_device_key", errors={"key": ["密钥不正确"]})


class _Statements:
    """The ingest's statements, built once per dialect on Core tables: a fix is a handful of
    cached, pre-compiled statements, not an ORM flush (it runs for every fix of the city)."""

    def __init__(self, dialect: str):
        insert = (postgresql if dialect == "postgresql" else sqlite).insert
        positions, latest = Position.__table__, LatestPosition.__table__
        devices, vehicles = UnknownDevice.__table__, Vehicle.__table__
        self.device = (select(vehicles.c.id, vehicles.c.device_key_sha256, latest.c.at,
                              latest.c.lat, latest.c.lng)
                       .select_from(vehicles.outerjoin(
                           latest, latest.c.vehicle_id == vehicles.c.id))
                       .where(vehicles.c.device_id == bindparam("device_id")))
        self.earlier = (select(positions.c.at, positions.c.lat, positions.c.lng)
                        .where(positions.c.vehicle_id == bindparam("vehicle_id"),
                               positions.c.at < bindparam("at"), positions.c.valid)
                        .order_by(positions.c.at.desc()).limit(1))
        self.fix = (insert(positions)
                    .on_conflict_do_nothing(index_elements=["vehicle_id", "at"])
                    .returning(positions.c.vehicle_id))
        newer = insert(latest)
        self.newer = newer.on_conflict_do_update(
            index_elements=["vehicle_id"],
            set_={name: newer.excluded[name] for name in LATEST_COLUMNS if name != "vehicle_id"},
            where=latest.c.at < newer.excluded.at)
        unknown = insert(devices)
        self.unknown = unknown.on_conflict_do_update(
            index_elements=["device_id"],
            set_={"count": devices.c.count + 1, "last_at": unknown.excluded.last_at,
                  "source": unknown.excluded.source})


LATEST_COLUMNS = ("vehicle_id", "at", "lat", "lng", "speed_kmh", "course", "source",
                  "received_at")
_STATEMENTS: dict[str, _Statements] = {}


def _sql(session) -> tuple[_Statements, object]:
    """The dialect's statements and the session's connection (Core, no ORM work)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _Statements(dialect)
    return _STATEMENTS[dialect], connection


def device(session, device_id: str) -> Device | None:
    sql, connection = _sql(session)
    row = connection.execute(sql.device, {"device_id": device_id}).first()
    if row is None:
        return None
    return Device(row[0], row[1], Earlier(row[2], row[3], row[4]) if row[2] else None)


def count_unknown(session, device_id: str, source: str, now: datetime) -> None:
    """One more fix from a device no vehicle carries."""
    sql, connection = _sql(session)
    connection.execute(sql.unknown, {"device_id": device_id, "source": source, "count": 1,
                                     "first_at": now, "last_at": now})


def unknown_device(device_id: str) -> NotFound:
    return NotFound(f"设备 {device_id} 未登记到任何车辆，请管理员在车辆管理中登记设备编号",
                    code="unknown_device", errors={"device_id": [device_id]})


def _earlier(sql: _Statements, connection, found: Device,
             at: datetime) -> tuple[Earlier | None, bool]:
    """The valid fix before ``at`` and whether ``at`` is newer than the vehicle's latest."""
    latest = found.latest
    if latest is None or latest.at < at:
        return latest, True
    row = connection.execute(sql.earlier, {"vehicle_id": found.vehicle_id, "at": at}).first()
    return (Earlier(*row) if row else None), False


def store(session, fix: Fix, found: Device, *, now: datetime, retention_months: int) -> Stored:
    """Store one fix of ``found``'s vehicle (a repeat of a stored fix changes nothing)."""
    if fix.at > now + FUTURE_TOLERANCE:
        raise ValidationFailed("定位时间晚于服务器时间，请检查设备时钟", code="fix_in_future",
                               errors={"timestamp": ["晚于当前时间"]})
    if fix.at < retention_start(now, retention_months):
        raise ValidationFailed("定位时间早于轨迹保存期限", code="fix_too_old",
                               errors={"timestamp": ["早于保存期限"]})
    sql, connection = _sql(session)
    if connection.dialect.name == "postgresql":
        # A fix is acknowledged once PostgreSQL has it in memory: a crash of the server may
        # lose the last moments of fixes (never corrupt them), and commits stop waiting
        # for the disk, which is what lets one worker keep up with the city's terminals.
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    earlier, newest = _earlier(sql, connection, found, fix.at)
    flaw = judge(fix, earlier)
    row = dict(vehicle_id=found.vehicle_id, at=fix.at, lat=fix.lat, lng=fix.lng,
               speed_kmh=fix.speed_kmh, course=fix.course, source=fix.source, received_at=now)
    inserted = connection.execute(sql.fix, {
        **row, "altitude": fix.altitude, "accuracy": fix.accuracy, "valid": flaw is None,
        "flaw": flaw, "attributes": fix.attributes or None}).first() is not None
    if inserted and flaw is None and newest:
        connection.execute(sql.newer, row)
    return Stored(found.vehicle_id, duplicate=not inserted, valid=flaw is None, flaw=flaw)
