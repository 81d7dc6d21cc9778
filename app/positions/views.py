"""Positions over HTTP: the gateway's and phones' fixes in, the live map and tracks out."""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select

from app import db
from app.accounts.models import Role, Vehicle
from app.api import ErrorBodySchema, blueprint
from app.positions import devices, gateway, ingest, protocols, tracks
from app.positions.models import UnknownDevice
from app.positions.schemas import (DeviceKeySchema, LatestArgs, LatestPositionsSchema,
                                   OsmandJsonSchema, OsmandParamsSchema, StoredFixSchema,
                                   TrackArgs, TraccarForwardSchema, TripTrackArgs,
                                   TripTrackSchema, UnknownDeviceSchema, VehicleTrackSchema)
from app.security import current_user, roles_required, scoped_get
from app.web import defer_write_lock

telemetry_blp = blueprint("telemetry", "/telemetry",
                          "Fixes from the positioning gateway (Traccar) and drivers' phones (OsmAnd)")
vehicles_blp = blueprint("vehicle-positions", "/vehicles", "The live map and vehicles' tracks")
trips_blp = blueprint("trip-track", "/trips", "A trip's track")
admin_blp = blueprint("vehicle-devices", "/admin", "Vehicles' positioning devices (admin)")

GATEWAY_SECURITY = [{"traccarGateway": []}]
DEVICE_SECURITY = [{"deviceKey": []}]


def init_security(app) -> None:
    spec = app.extensions["otb.api"].spec
    spec.components.security_scheme("traccarGateway", {
        "type": "http", "scheme": "bearer",
        "description": "The gateway's secret, sent as Traccar's forward.header adds it"})
    spec.components.security_scheme("deviceKey", {
        "type": "apiKey", "in": "query", "name": "key",
        "description": "The vehicle's device key (OsmAnd has no authentication field)"})


def _stored(stored: ingest.Stored):
    """The ``StoredFixSchema`` document, built directly: this runs for every fix."""
    return current_app.json.response(stored.body())


def _json_body() -> bytes | None:
    return request.get_data(cache=False) if request.is_json else None


_REFUSALS = [(401, "Gateway secret or device key missing or wrong"),
             (404, "Device not registered to any vehicle (counted)"),
             (422, "Not a fix: field errors name what is missing or out of range")]


def _refusals(blp):
    def wrap(view):
        for status, description in _REFUSALS:
            view = blp.alt_response(status, schema=ErrorBodySchema, description=description)(view)
        return view
    return wrap


@telemetry_blp.route("/traccar", methods=["POST"])
@telemetry_blp.doc(security=GATEWAY_SECURITY, requestBody={
    "required": True, "content": {"application/json": {"schema": TraccarForwardSchema}}})
@telemetry_blp.response(200, StoredFixSchema)
@_refusals(telemetry_blp)
@defer_write_lock
def traccar():
    """One position forwarded by Traccar (``forward.type=json``; speed in knots).

    Plain forwards are answered before Flask by the same steps (app/positions/gateway.py);
    this view answers the rest (another media type, a chunked body, an Idempotency-Key)."""
    return _stored(gateway.receive_traccar(current_app.config,
                                           request.headers.get("Authorization", ""),
                                           _json_body()))


@telemetry_blp.route("/osmand", methods=["GET", "POST"])
@telemetry_blp.doc(security=DEVICE_SECURITY)
@telemetry_blp.doc(parameters=[{"in": "query", "name": name, "schema": {"type": "string"},
                                "required": False}
                               for name in ("id", "timestamp", "lat", "lon", "speed", "bearing",
                                            "altitude", "accuracy", "batt")])
@telemetry_blp.doc(requestBody={"required": False, "content": {
    "application/json": {"schema": OsmandJsonSchema},
    "application/x-www-form-urlencoded": {"schema": OsmandParamsSchema}}})
@telemetry_blp.response(200, StoredFixSchema)
@_refusals(telemetry_blp)
@defer_write_lock
def osmand():
    """A phone's fix, OsmAnd protocol: query or form parameters (speed in knots), or
    Traccar Client 9+'s JSON ``location`` (speed in m/s); the vehicle's key in ``key``."""
    params = request.values
    if request.method == "POST" and request.is_json:
        fix = protocols.parse_osmand_json(gateway.json_document(_json_body()))
    else:
        fix = protocols.parse_osmand_params(params)
    return _stored(gateway.store(current_app.config, fix, key=params.get("key"), check_key=True))


@telemetry_blp.route("/unknown-devices")
@roles_required(Role.ADMIN)
@telemetry_blp.response(200, UnknownDeviceSchema(many=True))
def unknown_devices():
    """Devices that sent fixes but no vehicle carries, most recent first, with counts."""
    return db.session.scalars(select(UnknownDevice).order_by(UnknownDevice.last_at.desc())
                              .limit(200)).all()


@vehicles_blp.route("/positions")
@roles_required(Role.DISPATCHER, Role.SUPERVISOR)
@vehicles_blp.arguments(LatestArgs, location="query")
@vehicles_blp.response(200, LatestPositionsSchema)
def latest_positions(args):
    """The latest valid position of every vehicle the caller oversees."""
    return {"datum": args["coords"],
            "items": tracks.latest(db.session, current_user(), datum=args["coords"])}


@vehicles_blp.route("/<int:vehicle_id>/track")
@roles_required(Role.DISPATCHER, Role.SUPERVISOR)
@vehicles_blp.arguments(TrackArgs, location="query")
@vehicles_blp.response(200, VehicleTrackSchema)
def vehicle_track(args, vehicle_id):
    """A vehicle's valid fixes in ``[from, to]`` (at most 7 days), Douglas–Peucker
    simplified unless ``full=true``, with the GPS distance."""
    return tracks.vehicle_track(db.session, current_user(), vehicle_id, args["from_"],
                                args["to"], full=args["full"], datum=args["coords"])


@trips_blp.route("/<int:trip_id>/track")
@trips_blp.arguments(TripTrackArgs, location="query")
@trips_blp.response(200, TripTrackSchema)
def trip_track(args, trip_id):
    """The track of the trip's run (whoever may see the trip), with the GPS distance beside
    the odometer's."""
    return tracks.trip_track(db.session, current_user(), trip_id, full=args["full"],
                             datum=args["coords"])


@admin_blp.route("/vehicles/<int:vehicle_id>/device-key", methods=["POST"])
@roles_required(Role.ADMIN)
@admin_blp.response(201, DeviceKeySchema)
def device_key(vehicle_id):
    """Issue a new OsmAnd key for the vehicle's phone (shown once; the old one stops)."""
    vehicle = scoped_get(Vehicle, vehicle_id)
    key = devices.new_device_key(db.session, actor=current_user(), vehicle=vehicle)
    return {"vehicle_id": vehicle.id, "device_id": vehicle.device_id, "key": key}
