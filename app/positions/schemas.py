"""Wire shapes of positions: what the gateway and phones send (documented; parsed by
``protocols``), what the live map and the tracks answer."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api import AwareDateTime
from app.positions.tracks import DATUMS

COORDS = fields.String(load_default="wgs84", validate=validate.OneOf(DATUMS), metadata={
    "description": "Datum of the coordinates answered: wgs84 (stored) or gcj02 (Gaode, the "
                   "WeChat map)"})


# --- what arrives (documentation of the protocols; app/positions/protocols.py parses) ------

class TraccarPositionSchema(Schema):
    deviceId = fields.Integer()
    protocol = fields.String()
    fixTime = fields.String(required=True, metadata={"example": "2026-12-04T01:00:00.000+00:00"})
    deviceTime = fields.String()
    serverTime = fields.String()
    valid = fields.Boolean()
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    altitude = fields.Float()
    speed = fields.Float(metadata={"description": "knots"})
    course = fields.Float()
    accuracy = fields.Float()
    attributes = fields.Dict()


class TraccarDeviceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    uniqueId = fields.String(required=True, metadata={"description": "the vehicle's device_id"})


class TraccarForwardSchema(Schema):
    """Traccar's position forwarding (``forward.type=json``): one position per request."""

    position = fields.Nested(TraccarPositionSchema, required=True)
    device = fields.Nested(TraccarDeviceSchema, required=True)


class OsmandCoordsSchema(Schema):
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    accuracy = fields.Float()
    speed = fields.Float(metadata={"description": "m/s"})
    heading = fields.Float()
    altitude = fields.Float()


class OsmandLocationSchema(Schema):
    timestamp = fields.String(required=True, metadata={"example": "2026-12-04T01:00:00.000Z"})
    coords = fields.Nested(OsmandCoordsSchema, required=True)
    is_moving = fields.Boolean()
    odometer = fields.Float()
    event = fields.String()
    battery = fields.Dict()
    activity = fields.Dict()


class OsmandJsonSchema(Schema):
    """Traccar Client 9+: one location per request (speed in m/s)."""

    location = fields.Nested(OsmandLocationSchema, required=True)
    device_id = fields.String(required=True)


class OsmandParamsSchema(Schema):
    """OsmAnd query or form parameters (speed in knots); ``key`` is the device's key."""

    id = fields.String(metadata={"description": "device id (or deviceid)"})
    deviceid = fields.String()
    key = fields.String(metadata={"description": "the vehicle's device key"})
    timestamp = fields.String(metadata={
        "description": "epoch seconds or milliseconds, ISO 8601, or yyyy-MM-dd HH:mm:ss (UTC)"})
    lat = fields.Float()
    lon = fields.Float()
    location = fields.String(metadata={"description": "lat,lon"})
    speed = fields.Float(metadata={"description": "knots"})
    bearing = fields.Float()
    heading = fields.Float()
    altitude = fields.Float()
    accuracy = fields.Float()
    hdop = fields.Float()
    batt = fields.Float()
    valid = fields.String()


class StoredFixSchema(Schema):
    status = fields.String(metadata={"enum": ["stored", "duplicate"]})
    vehicle_id = fields.Integer()
    valid = fields.Boolean()
    flaw = fields.String(allow_none=True, metadata={
        "enum": ["device_invalid", "null_island", "jump", None],
        "description": "why the fix was kept as invalid"})


# --- what is read -------------------------------------------------------------------------

class LatestArgs(Schema):
    coords = COORDS


class TrackArgs(Schema):
    from_ = AwareDateTime(data_key="from", required=True)
    to = AwareDateTime(required=True)
    full = fields.Boolean(load_default=False, metadata={
        "description": "every fix instead of the Douglas–Peucker simplified track"})
    coords = COORDS


class TripTrackArgs(Schema):
    full = fields.Boolean(load_default=False)
    coords = COORDS


class LatestPositionSchema(Schema):
    vehicle_id = fields.Integer()
    plate = fields.String()
    vehicle_class = fields.String()
    unit_id = fields.Integer()
    at = AwareDateTime()
    lat = fields.Float()
    lng = fields.Float()
    speed = fields.Float(allow_none=True, metadata={"description": "km/h"})
    course = fields.Float(allow_none=True)
    trip_id = fields.Integer(allow_none=True, metadata={"description": "the run it is on"})


class LatestPositionsSchema(Schema):
    datum = fields.String()
    items = fields.List(fields.Nested(LatestPositionSchema))


class _TrackSchema(Schema):
    datum = fields.String()
    point_count = fields.Integer(metadata={"description": "valid fixes in the range"})
    simplified = fields.Boolean()
    gps_km = fields.Decimal(as_string=True, places=1, allow_none=True)
    # Serialised by ``tracks`` (thousands per answer); documented as TrackPoint items.
    points = fields.Raw(metadata={"type": "array", "items": {
        "type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "lat": {"type": "number"},
            "lng": {"type": "number"},
            "speed": {"type": "number", "nullable": True, "description": "km/h"}}}})


class VehicleTrackSchema(_TrackSchema):
    vehicle_id = fields.Integer()
    plate = fields.String()
    from_ = AwareDateTime(data_key="from")
    to = AwareDateTime()


class TripTrackSchema(_TrackSchema):
    trip_id = fields.Integer()
    vehicle_id = fields.Integer(allow_none=True)
    started_at = AwareDateTime(allow_none=True)
    finished_at = AwareDateTime(allow_none=True)
    odometer_km = fields.Decimal(as_string=True, places=1, allow_none=True, metadata={
        "description": "the driver's odometer distance, beside gps_km"})


class DeviceKeySchema(Schema):
    vehicle_id = fields.Integer()
    device_id = fields.String(allow_none=True)
    key = fields.String(metadata={"description": "shown once: the OsmAnd ``key`` parameter"})


class UnknownDeviceSchema(Schema):
    device_id = fields.String()
    source = fields.String()
    count = fields.Integer()
    first_at = AwareDateTime()
    last_at = AwareDateTime()
