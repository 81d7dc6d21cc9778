"""Storing fixes: which vehicle carries the device, whether a fix is plausible, once only.

The path is built for volume (every vehicle of the city every 10 s, one request each) and
works on a batch of fixes (``store_batch``, called by the group-commit writer,
app/positions/writer.py): one lookup of the batch's devices with their vehicles' latest
positions, the fixes judged in time order per vehicle (a fix's "earlier" may be the one
before it in the same batch; only a fix older than the vehicle's latest costs a lookup of
the fix before it), one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` for the batch keyed
by (vehicle, time) — a gateway's retry stores nothing twice, and what it returns tells
stored from duplicate — one conditional upsert of each vehicle's newest valid fix, so a
late (out-of-order) fix never moves the live map backwards, and one count per unknown
device. The caller commits once and only then answers.

The statements go to the driver's connection as plain SQL with one row of VALUES per fix,
their parameters converted by the columns' own SQLAlchemy types (so that a time is stored
exactly as every other reader and writer of the tables stores it): at the city's rate
SQLAlchemy's per-statement execution machinery cost more than the database's work. On
PostgreSQL the insert of the fixes and the upsert of the latest positions are one
statement (a data-modifying CTE): one round trip, atomic on its own. There the writer also
remembers the devices it stored fixes for and their vehicles' latest fixes
(``KnownDevices``): a batch of known devices skips the lookup and is stored by one guarded
statement, so one round trip per batch instead of two.
"""
from __future__ import annotations

import hashlib
import hmac
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.types import NullType

from app.errors import AppError, NotFound, Unauthorized, ValidationFailed
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


FIX_COLUMNS = ("vehicle_id", "at", "lat", "lng", "speed_kmh", "course", "source",
               "received_at", "altitude", "accuracy", "valid", "flaw", "attributes")
LATEST_COLUMNS = FIX_COLUMNS[:8]
UNKNOWN_COLUMNS = ("device_id", "source", "count", "first_at", "last_at")


class _Statements:
    """The ingest's SQL for one dialect, and the columns' conversions for its driver."""

    def __init__(self, dialect):
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.fix_binds = _binds(Position.__table__, FIX_COLUMNS, dialect)
        self.unknown_binds = _binds(UnknownDevice.__table__, UNKNOWN_COLUMNS, dialect)
        at_type = Position.__table__.c.at.type.dialect_impl(dialect)
        self.bind_at = at_type.bind_processor(dialect) or (lambda value: value)
        self.read_at = at_type.result_processor(dialect, None) or (lambda value: value)
        self.devices = (
            "SELECT v.device_id, v.id, v.device_key_sha256, l.at, l.lat, l.lng FROM vehicles v "
            "LEFT JOIN latest_positions l ON l.vehicle_id = v.id WHERE v.device_id IN ({})")
        self.earlier = (f"SELECT at, lat, lng FROM positions WHERE vehicle_id = {self.mark} "
                        f"AND at < {self.mark} AND valid ORDER BY at DESC LIMIT 1")
        fixes, latest = ", ".join(FIX_COLUMNS), ", ".join(LATEST_COLUMNS)
        insert_fixes = (f"INSERT INTO positions ({fixes}) VALUES {{}} "
                        "ON CONFLICT (vehicle_id, at) DO NOTHING")
        upsert_latest = (
            "ON CONFLICT (vehicle_id) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in LATEST_COLUMNS[1:])
            + " WHERE latest_positions.at < excluded.at")
        # PostgreSQL: the fixes and, from the rows the insert stored, each vehicle's newest
        # valid one as its latest position, in one statement.
        self.latest_with_fixes = dialect.name == "postgresql"
        self.known = self.known_row = ""  # PostgreSQL only (``KnownDevices``)
        if self.latest_with_fixes:
            self.known, self.known_row = _known_statement(dialect, latest, upsert_latest)
            self.fixes = (
                f"WITH stored AS ({insert_fixes} RETURNING {latest}, valid), "
                f"newest AS (INSERT INTO latest_positions ({latest}) "
                f"SELECT DISTINCT ON (vehicle_id) {latest} FROM stored WHERE valid "
                f"ORDER BY vehicle_id, at DESC {upsert_latest}) "
                "SELECT vehicle_id, at FROM stored")
        else:
            self.fixes = f"{insert_fixes} RETURNING vehicle_id, at"
            # SQLite hands back each returned row in a call of its own (and the GIL with
            # each): the insert is first tried without RETURNING, its row count telling
            # whether every fix was new (see ``Recount``).
            self.fixes_counted = insert_fixes
        self.latest = f"INSERT INTO latest_positions ({latest}) VALUES {{}} {upsert_latest}"
        self.unknown = (
            f"INSERT INTO unknown_devices ({', '.join(UNKNOWN_COLUMNS)}) VALUES {{}} "
            "ON CONFLICT (device_id) DO UPDATE SET count = unknown_devices.count + "
            "excluded.count, last_at = excluded.last_at, source = excluded.source")

    def values(self, rows: int, columns: int) -> str:
        row = f"({', '.join([self.mark] * columns)})"
        return ", ".join([row] * rows)


def _known_statement(dialect, latest: str, upsert_latest: str) -> tuple[str, str]:
    """PostgreSQL: the batch's fixes of known devices in one statement, ``{}`` standing for
    its rows of VALUES, and one such row (``device_id, expected_at`` then FIX_COLUMNS, each
    cast to its column's type). A fix is stored only where the writer's knowledge still
    holds: the device is still fitted to the vehicle and the vehicle's latest valid fix is
    still the one the fix was judged against; each stored fix's vehicle and time come back,
    then the vehicles whose knowledge no longer held (time NULL, not stored)."""
    table = Position.__table__
    time_type = table.c.at.type.compile(dialect=dialect)
    types = []
    for name in FIX_COLUMNS:
        type_ = table.c[name].type
        if isinstance(type_, NullType):  # a foreign key's type is its target's
            type_ = next(iter(table.c[name].foreign_keys)).column.type
        types.append(type_.compile(dialect=dialect))
    row = ", ".join(f"%s::{type_}" for type_ in
                    ["VARCHAR", time_type, *types])
    fixes = ", ".join(FIX_COLUMNS)
    return (
        f"WITH f (device_id, expected_at, {fixes}) AS (VALUES {{}}), "
        "checked AS (SELECT f.*, v.id IS NOT NULL AND l.at IS NOT DISTINCT FROM f.expected_at "
        "AS fresh FROM f LEFT JOIN vehicles v ON v.id = f.vehicle_id AND v.device_id = "
        "f.device_id LEFT JOIN latest_positions l ON l.vehicle_id = f.vehicle_id), "
        f"stored AS (INSERT INTO positions ({fixes}) SELECT {fixes} FROM checked WHERE fresh "
        f"ON CONFLICT (vehicle_id, at) DO NOTHING RETURNING {latest}, valid), "
        f"newest AS (INSERT INTO latest_positions ({latest}) "
        f"SELECT DISTINCT ON (vehicle_id) {latest} FROM stored WHERE valid "
        f"ORDER BY vehicle_id, at DESC {upsert_latest}) "
        "SELECT vehicle_id, at FROM stored UNION ALL "
        f"SELECT DISTINCT vehicle_id, NULL::{time_type} FROM checked WHERE NOT fresh"), \
        f"({row})"


def _binds(table, names: Sequence[str], dialect) -> list:
    """Each column's bind conversion for ``dialect`` (None where the driver takes the value
    as it is)."""
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def _bound(binds: list, values: Sequence) -> list:
    return [value if bind is None or value is None else bind(value)
            for bind, value in zip(binds, values)]


_STATEMENTS: dict[str, _Statements] = {}


def statements(dialect) -> _Statements:
    if dialect.name not in _STATEMENTS:
        _STATEMENTS[dialect.name] = _Statements(dialect)
    return _STATEMENTS[dialect.name]


def _rows(driver, sql: str, params: Sequence) -> list[tuple]:
    """Run ``sql`` on the driver's connection, in its current transaction; its rows."""
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def unknown_device(device_id: str) -> NotFound:
    return NotFound(f"设备 {device_id} 未登记到任何车辆，请管理员在车辆管理中登记设备编号",
                    code="unknown_device", errors={"device_id": [device_id]})


def check_window(fix: Fix, now: datetime, retention_months: int) -> None:
    """A fix from the future (beyond the receivers' clock drift) or older than the kept
    months is refused."""
    if fix.at > now + FUTURE_TOLERANCE:
        raise ValidationFailed("定位时间晚于服务器时间，请检查设备时钟", code="fix_in_future",
                               errors={"timestamp": ["晚于当前时间"]})
    if fix.at < retention_start(now, retention_months):
        raise ValidationFailed("定位时间早于轨迹保存期限", code="fix_too_old",
                               errors={"timestamp": ["早于保存期限"]})


def in_window(item: Received) -> bool:
    """Whether the fix falls in the kept window (``check_window`` does not refuse it)."""
    try:
        check_window(item.fix, item.now, item.retention_months)
    except AppError:
        return False
    return True


@dataclass(frozen=True)
class Received:
    """A parsed fix as a request thread hands it over: when it arrived, the retention in
    force, and for a phone (OsmAnd) the key it sent."""
    fix: Fix
    now: datetime
    retention_months: int
    key: str | None = None
    check_key: bool = False


Outcome = Stored | AppError


class Recount(Exception):
    """Some fix of the batch was stored before (a gateway's retry): which one is not known
    from the insert's row count; the caller rolls back and stores the batch again with
    ``exact=True``."""


def _earlier(driver, sql: _Statements, vehicle_id: int, at: datetime) -> Earlier | None:
    """The vehicle's valid fix before ``at`` (for a fix older than its latest)."""
    row = _rows(driver, sql.earlier, (vehicle_id, sql.bind_at(at)))
    return Earlier(sql.read_at(row[0][0]), row[0][1], row[0][2]) if row else None


def _judge(sql: _Statements, batch: Sequence[Received], per_vehicle: dict[int, list[int]],
           latest_of, earlier_of) -> tuple[list[list], dict[int, tuple], list[list]]:
    """Each vehicle's fixes judged in time order: the rows to insert (FIX_COLUMNS, converted
    for the driver); per fix index (vehicle, converted time, flaw, a repeat in the batch);
    the valid rows newer than their vehicle's latest, in time order. The vehicle's latest
    valid fix before the batch is ``latest_of(vehicle, index)`` (``index`` one of its
    fixes); the valid fix before a late one is ``earlier_of(vehicle, at)``."""
    rows: list[list] = []
    judged: dict[int, tuple] = {}
    newer: list[list] = []
    for vehicle_id, indexes in per_vehicle.items():
        latest = latest_of(vehicle_id, indexes[0])
        indexes.sort(key=lambda i: batch[i].fix.at)
        before: Earlier | None = None  # the batch's last valid fix so far
        first_at: dict[datetime, int] = {}
        for index in indexes:
            item = batch[index]
            fix = item.fix
            if fix.at in first_at:  # the same fix twice in one batch: one row
                _, at, flaw, _ = judged[first_at[fix.at]]
                judged[index] = (vehicle_id, at, flaw, True)
                continue
            first_at[fix.at] = index
            if latest is None or latest.at < fix.at:
                earlier = latest
            else:  # a late fix: the valid one before it, wherever it is
                earlier = earlier_of(vehicle_id, fix.at)
            if before is not None and (earlier is None or earlier.at < before.at):
                earlier = before
            flaw = judge(fix, earlier)
            row = _bound(sql.fix_binds, (
                vehicle_id, fix.at, fix.lat, fix.lng, fix.speed_kmh, fix.course, fix.source,
                item.now, fix.altitude, fix.accuracy, flaw is None, flaw,
                fix.attributes or None))
            judged[index] = (vehicle_id, row[1], flaw, False)
            rows.append(row)
            if flaw is None:
                before = Earlier(fix.at, fix.lat, fix.lng)
                if latest is None or latest.at < fix.at:
                    newer.append(row)
    return rows, judged, newer


class KnownDevices:
    """What one writer has learnt from the fixes it stored (PostgreSQL): device → (the
    vehicle it is fitted to, that vehicle's newest valid fix).

    With it a batch needs no lookup before its insert: the fixes are judged against the
    known latest fix and stored by one statement that checks the knowledge still holds
    (``_Statements.known``); where it does not (an admin moved the device, or another
    process stored a newer fix of the vehicle) nothing is stored and those fixes take the
    looked-up way, which teaches the writer again. When most of what it tries no longer
    holds (several processes taking the same vehicles' fixes), the writer rests the known
    way for a while rather than paying for two statements."""

    LIMIT = 100_000  # devices remembered; a city has a few thousand
    WINDOW, REST = 200, 1000  # vehicles tried per verdict; batches rested after a bad one

    def __init__(self):
        self.devices: dict[str, tuple[int, Earlier | None]] = {}
        self.tried = self.stale = self.resting = 0

    def learn(self, device_id: str, vehicle_id: int, latest: Earlier | None) -> None:
        if len(self.devices) >= self.LIMIT and device_id not in self.devices:
            self.devices.clear()
        self.devices[device_id] = (vehicle_id, latest)

    def forget(self) -> None:
        """After a failed batch: what was learnt may not have been committed."""
        self.devices.clear()

    def usable(self) -> bool:
        if self.resting:
            self.resting -= 1
            return False
        return True

    def count(self, tried: int, stale: int) -> None:
        self.tried += tried
        self.stale += stale
        if self.tried >= self.WINDOW:
            if self.stale * 4 > self.tried:
                self.resting = self.REST
            self.tried = self.stale = 0


def store_batch(driver, dialect, batch: Sequence[Received], *, exact: bool = False,
                known: KnownDevices | None = None) -> list[Outcome]:
    """Store a batch of fixes through ``driver`` (a DB-API connection of ``dialect``) in its
    current transaction, which the caller commits: the outcome of each fix, in order —
    ``Stored`` (stored or duplicate) or the refusal to answer (unknown device, counted; bad
    key; out of the kept window). On SQLite, unless ``exact``, raises ``Recount`` when a
    fix of the batch is a duplicate. On PostgreSQL, with the writer's ``known`` devices,
    the fixes of known devices are stored by one statement (``KnownDevices``)."""
    sql = statements(dialect)
    if known is not None and sql.known and known.usable():
        return _store_known(driver, sql, batch, known)
    return _store_looked_up(driver, sql, batch, exact, known if sql.known else None)


def _store_known(driver, sql: _Statements, batch: Sequence[Received],
                 known: KnownDevices) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(batch)
    rest: list[int] = []  # the fixes that take the looked-up way
    per_vehicle: dict[int, list[int]] = defaultdict(list)
    devices: dict[int, tuple[str, Earlier | None]] = {}  # vehicle → (device, latest known)
    for index, item in enumerate(batch):
        entry = known.devices.get(item.fix.device_id)
        # an unknown device, a phone (its key is checked on the looked-up row), a fix out of
        # the kept window (refused once the device is known to be registered still) and a
        # second device remembered for one vehicle take the looked-up way
        if entry is None or item.check_key or devices.get(entry[0], (item.fix.device_id,))[0] \
                != item.fix.device_id or not in_window(item):
            rest.append(index)
            continue
        devices[entry[0]] = (item.fix.device_id, entry[1])
        per_vehicle[entry[0]].append(index)
    for vehicle_id, indexes in list(per_vehicle.items()):
        latest = devices[vehicle_id][1]
        if latest is not None and any(batch[i].fix.at <= latest.at for i in indexes):
            rest.extend(per_vehicle.pop(vehicle_id))  # a late fix: its earlier one is looked up
    if per_vehicle:
        rows, judged, _ = _judge(sql, batch, per_vehicle,
                                 lambda vehicle_id, _: devices[vehicle_id][1], _no_lookup)
        params = []
        for row in rows:
            device_id, latest = devices[row[0]]
            params += [device_id, sql.bind_at(latest.at) if latest else None, *row]
        answer = _rows(driver, sql.known.format(", ".join([sql.known_row] * len(rows))), params)
        inserted = {(vehicle_id, at) for vehicle_id, at in answer if at is not None}
        stale = {vehicle_id for vehicle_id, at in answer if at is None}
        known.count(len(per_vehicle), len(stale))
        rest += [index for index, judgement in judged.items() if judgement[0] in stale]
        newest = _answer(batch, {index: judgement for index, judgement in judged.items()
                                 if judgement[0] not in stale}, inserted, outcomes)
        for vehicle_id, fix in newest.items():
            known.learn(fix.device_id, vehicle_id, Earlier(fix.at, fix.lat, fix.lng))
    if rest:
        rest.sort()
        for index, outcome in zip(rest, _store_looked_up(
                driver, sql, [batch[i] for i in rest], True, known)):
            outcomes[index] = outcome
    return outcomes  # type: ignore[return-value]


def _answer(batch: Sequence[Received], judged: dict[int, tuple], inserted: set[tuple],
            outcomes: list) -> dict[int, Fix]:
    """Each judged fix's outcome, stored or duplicate (``inserted``: the (vehicle, time) the
    insert returned), into ``outcomes``; returns each vehicle's newest valid fix stored now."""
    newest: dict[int, Fix] = {}
    for index, (vehicle_id, at, flaw, repeated) in judged.items():
        duplicate = repeated or (vehicle_id, at) not in inserted
        outcomes[index] = Stored(vehicle_id, duplicate=duplicate, valid=flaw is None, flaw=flaw)
        fix = batch[index].fix
        if flaw is None and not duplicate and (
                vehicle_id not in newest or newest[vehicle_id].at < fix.at):
            newest[vehicle_id] = fix
    return newest


def _no_lookup(vehicle_id: int, at: datetime) -> Earlier | None:
    raise AssertionError("a late fix takes the looked-up way")


def _store_looked_up(driver, sql: _Statements, batch: Sequence[Received], exact: bool,
                     known: KnownDevices | None) -> list[Outcome]:
    """The batch's devices and their vehicles' latest fixes looked up, then stored."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    wanted = sorted({item.fix.device_id for item in batch})
    found = {}
    for device_id, vehicle_id, key_sha256, at, lat, lng in _rows(
            driver, sql.devices.format(", ".join([sql.mark] * len(wanted))), wanted):
        latest = Earlier(sql.read_at(at), lat, lng) if at is not None else None
        found[device_id] = Device(vehicle_id, key_sha256, latest)
    unknown: dict[str, list] = {}  # device → [count, the last fix from it]
    per_vehicle: dict[int, list[int]] = defaultdict(list)
    for index, item in enumerate(batch):
        device = found.get(item.fix.device_id)
        if device is None:
            unknown.setdefault(item.fix.device_id, [0, item])[0] += 1
            unknown[item.fix.device_id][1] = item
            outcomes[index] = unknown_device(item.fix.device_id)
            continue
        try:
            if item.check_key:
                check_device_key(device, item.key)
            check_window(item.fix, item.now, item.retention_months)
        except AppError as refusal:
            outcomes[index] = refusal
            continue
        per_vehicle[device.vehicle_id].append(index)

    rows, judged, newer = _judge(
        sql, batch, per_vehicle, lambda _, index: found[batch[index].fix.device_id].latest,
        lambda vehicle_id, at: _earlier(driver, sql, vehicle_id, at))
    if unknown:
        counts = [_bound(sql.unknown_binds, (device_id, item.fix.source, count, item.now,
                                             item.now))
                  for device_id, (count, item) in unknown.items()]
        _rows(driver, sql.unknown.format(sql.values(len(counts), len(UNKNOWN_COLUMNS))),
              [value for row in counts for value in row])
    inserted: set[tuple] = set()  # (vehicle, at as the driver returns it)
    if rows and not sql.latest_with_fixes and not exact:
        cursor = driver.cursor()
        try:
            cursor.execute(sql.fixes_counted.format(sql.values(len(rows), len(FIX_COLUMNS))),
                           [value for row in rows for value in row])
            if cursor.rowcount != len(rows):
                raise Recount()
        finally:
            cursor.close()
        inserted = {(row[0], row[1]) for row in rows}
    elif rows:
        inserted = set(_rows(driver, sql.fixes.format(sql.values(len(rows), len(FIX_COLUMNS))),
                             [value for row in rows for value in row]))
    if not sql.latest_with_fixes:
        newest: dict[int, list] = {}  # vehicle → its newest valid fix stored now
        for row in newer:
            if (row[0], row[1]) in inserted:
                newest[row[0]] = row[:len(LATEST_COLUMNS)]
        if newest:
            _rows(driver, sql.latest.format(sql.values(len(newest), len(LATEST_COLUMNS))),
                  [value for row in newest.values() for value in row])
    newest_fix = _answer(batch, judged, inserted, outcomes)
    if known is not None:  # the vehicles' latest fixes as they are now
        for device_id, device in found.items():
            fix = newest_fix.get(device.vehicle_id)
            latest = device.latest
            if fix is not None and (latest is None or latest.at < fix.at):
                latest = Earlier(fix.at, fix.lat, fix.lng)
            known.learn(device_id, device.vehicle_id, latest)
    return outcomes  # type: ignore[return-value]
