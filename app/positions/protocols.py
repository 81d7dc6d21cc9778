"""The two ways fixes arrive, parsed into one ``Fix`` (pure: no database, no Flask).

- Traccar position forwarding (``forward.type=json``): one POST per position, the body
  ``{"position": {...}, "device": {...}}`` with ``fixTime`` in ISO 8601, ``latitude``,
  ``longitude``, ``speed`` in knots, ``course``, ``altitude``, ``accuracy``, ``valid`` and
  ``attributes``; ``device.uniqueId`` names the terminal.
- OsmAnd, as Traccar documents it, from a driver's phone: query or form parameters ``id``
  (or ``deviceid``), ``timestamp`` (epoch seconds or milliseconds, ISO 8601, or
  ``yyyy-MM-dd HH:mm:ss`` in UTC), ``lat``/``lon`` (or ``location=lat,lon``), ``speed`` in
  knots, ``bearing`` (or ``heading``), ``altitude``, ``accuracy``, ``batt``, ``valid``; or
  Traccar Client 9+'s JSON body ``{"location": {"timestamp", "coords": {...}, ...},
  "device_id"}`` whose ``coords.speed`` is in m/s.

Speeds become km/h, times aware UTC. Anything that cannot be a fix (no device, no time,
coordinates off the globe) is refused with the field named; a fix that can be stored but
is absurd is judged later (``ingest``) and kept as invalid.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from app.errors import ValidationFailed

KNOT_KMH = 1.852
MPS_KMH = 3.6
# Attributes kept with a fix: scalars only, a bounded number, short strings.
MAX_ATTRIBUTES = 40
MAX_ATTRIBUTE_TEXT = 100
MAX_DEVICE_ID = 64


@dataclass(frozen=True)
class Fix:
    device_id: str
    at: datetime
    lat: float
    lng: float
    source: str
    speed_kmh: float | None = None
    course: float | None = None
    altitude: float | None = None
    accuracy: float | None = None
    device_valid: bool = True
    attributes: dict = field(default_factory=dict)


def _refuse(location: str, message: str) -> ValidationFailed:
    return ValidationFailed("定位数据不合法", code="invalid_position", errors={location: [message]})


def _number(value: Any, name: str, *, required: bool = False) -> float | None:
    if value is None or value == "":
        if required:
            raise _refuse(name, "必填")
        return None
    if isinstance(value, bool):
        raise _refuse(name, "应为数字")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _refuse(name, "应为数字") from None
    if not math.isfinite(number):
        raise _refuse(name, "不能为 NaN 或无穷大")
    return number


def _coordinates(lat: Any, lng: Any, lat_name: str, lng_name: str) -> tuple[float, float]:
    lat_value = _number(lat, lat_name, required=True)
    lng_value = _number(lng, lng_name, required=True)
    if not -90 <= lat_value <= 90:
        raise _refuse(lat_name, "纬度应在 -90 到 90 之间")
    if not -180 <= lng_value <= 180:
        raise _refuse(lng_name, "经度应在 -180 到 180 之间")
    return lat_value, lng_value


def _speed(value: Any, name: str, factor: float) -> float | None:
    speed = _number(value, name)
    # Receivers send -1 (or nothing) when they do not know the speed.
    return None if speed is None or speed < 0 else round(speed * factor, 2)


def _course(value: Any, name: str) -> float | None:
    course = _number(value, name)
    return None if course is None or course < 0 else course % 360


def _device_id(value: Any, name: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str) or not value.strip():
        raise _refuse(name, "必填：设备编号")
    value = value.strip()
    if len(value) > MAX_DEVICE_ID or not value.isprintable():
        raise _refuse(name, f"设备编号应为不超过 {MAX_DEVICE_ID} 个可见字符")
    return value


def _iso_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise _refuse(name, "必填：定位时间")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _refuse(name, "应为 ISO 8601 时间，如 2026-03-01T01:00:00.000+00:00") from None
    if moment.tzinfo is None:
        # Traccar and its clients write UTC; a time without an offset is read as UTC.
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise _refuse(name, "时间超出可表示的范围") from None


def _osmand_time(value: Any, name: str) -> datetime:
    """Epoch seconds or milliseconds, ISO 8601, or ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    if value is None or value == "":
        raise _refuse(name, "必填：定位时间")
    text = str(value).strip()
    try:
        epoch = float(text)
    except ValueError:
        return _iso_time(text.replace(" ", "T", 1) if " " in text else text, name)
    if not math.isfinite(epoch) or epoch < 0:
        raise _refuse(name, "时间戳无效")
    if epoch > 1e11:  # milliseconds
        epoch /= 1000
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _refuse(name, "时间戳无效") from None


def _flag(value: Any, name: str, default: bool = True) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _refuse(name, "应为 true、false、1 或 0")


def _scalars(attributes: Any) -> dict:
    """The attributes worth keeping with a fix (ignition, battery, odometer, …)."""
    if not isinstance(attributes, Mapping):
        return {}
    kept = {}
    for key, value in attributes.items():
        if len(kept) >= MAX_ATTRIBUTES:
            break
        if not isinstance(key, str) or len(key) > 40:
            continue
        if isinstance(value, bool) or value is None:
            kept[key] = value
        elif isinstance(value, (int, float)) and math.isfinite(value):
            kept[key] = value
        elif isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_TEXT and "\x00" not in value:
            kept[key] = value
    return kept


def parse_traccar(body: Any) -> Fix:
    """A Traccar position-forwarding body (``position`` + ``device``)."""
    if not isinstance(body, Mapping):
        raise _refuse("json", "应为 Traccar 转发的 JSON 对象")
    position, device = body.get("position"), body.get("device")
    if not isinstance(position, Mapping):
        raise _refuse("position", "必填：应为对象")
    if not isinstance(device, Mapping):
        raise _refuse("device", "必填：应为对象")
    lat, lng = _coordinates(position.get("latitude"), position.get("longitude"),
                            "position.latitude", "position.longitude")
    at_text = position.get("fixTime") or position.get("deviceTime")
    return Fix(
        device_id=_device_id(device.get("uniqueId"), "device.uniqueId"),
        at=_iso_time(at_text, "position.fixTime"), lat=lat, lng=lng, source="traccar",
        speed_kmh=_speed(position.get("speed"), "position.speed", KNOT_KMH),
        course=_course(position.get("course"), "position.course"),
        altitude=_number(position.get("altitude"), "position.altitude"),
        accuracy=_number(position.get("accuracy"), "position.accuracy"),
        device_valid=_flag(position.get("valid"), "position.valid"),
        attributes=_scalars(position.get("attributes")))


def parse_osmand_params(params: Mapping[str, Any]) -> Fix:
    """OsmAnd query or form parameters (speed in knots)."""
    device = params.get("id") or params.get("deviceid")
    lat, lng = params.get("lat"), params.get("lon")
    if (lat is None or lng is None) and params.get("location"):
        lat, _, lng = str(params["location"]).partition(",")
    lat, lng = _coordinates(lat, lng, "lat", "lon")
    attributes = {}
    for name in ("batt", "hdop", "charge", "driverUniqueId"):
        if params.get(name) not in (None, ""):
            attributes[name] = params[name]
    if "batt" in attributes:
        attributes["batteryLevel"] = _number(attributes.pop("batt"), "batt")
    if "hdop" in attributes:
        attributes["hdop"] = _number(attributes["hdop"], "hdop")
    return Fix(
        device_id=_device_id(device, "id"), at=_osmand_time(params.get("timestamp"), "timestamp"),
        lat=lat, lng=lng, source="osmand",
        speed_kmh=_speed(params.get("speed"), "speed", KNOT_KMH),
        course=_course(params.get("bearing", params.get("heading")), "bearing"),
        altitude=_number(params.get("altitude"), "altitude"),
        accuracy=_number(params.get("accuracy"), "accuracy"),
        device_valid=_flag(params.get("valid"), "valid"), attributes=_scalars(attributes))


def parse_osmand_json(body: Any) -> Fix:
    """Traccar Client 9+'s JSON body (``location`` + ``device_id``; speed in m/s)."""
    if not isinstance(body, Mapping):
        raise _refuse("json", "应为 JSON 对象")
    location = body.get("location")
    if not isinstance(location, Mapping):
        raise _refuse("location", "必填：应为对象")
    coords = location.get("coords")
    if not isinstance(coords, Mapping):
        raise _refuse("location.coords", "必填：应为对象")
    lat, lng = _coordinates(coords.get("latitude"), coords.get("longitude"),
                            "location.coords.latitude", "location.coords.longitude")
    attributes: dict[str, Any] = {}
    battery = location.get("battery")
    if isinstance(battery, Mapping):
        level = _number(battery.get("level"), "location.battery.level")
        if level is not None and level >= 0:
            attributes["batteryLevel"] = round(level * 100, 1)
        if isinstance(battery.get("is_charging"), bool):
            attributes["charge"] = battery["is_charging"]
    for name in ("is_moving", "odometer", "event"):
        if name in location:
            attributes["motion" if name == "is_moving" else name] = location[name]
    activity = location.get("activity")
    if isinstance(activity, Mapping) and isinstance(activity.get("type"), str):
        attributes["activity"] = activity["type"]
    return Fix(
        device_id=_device_id(body.get("device_id"), "device_id"),
        at=_iso_time(location.get("timestamp"), "location.timestamp"), lat=lat, lng=lng,
        source="osmand", speed_kmh=_speed(coords.get("speed"), "location.coords.speed", MPS_KMH),
        course=_course(coords.get("heading"), "location.coords.heading"),
        altitude=_number(coords.get("altitude"), "location.coords.altitude"),
        accuracy=_number(coords.get("accuracy"), "location.coords.accuracy"),
        attributes=_scalars(attributes))
