"""What the dispatch console shows beside the queue: the vehicles and drivers a dispatcher
may assign (scoped like assignment), and a per-day timeline of their assignments."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from marshmallow import Schema, fields
from sqlalchemy import select

from app import clock, db
from app.accounts.models import Driver, Role, User, Vehicle
from app.api import AwareDateTime, blueprint
from app.dispatch.models import Assignment, TripRun
from app.security import current_user, roles_required, scope_filter
from app.trips.models import Trip

blp = blueprint("dispatch-board", "/dispatch", "Vehicles, drivers and the day's timeline (调度台)")
dispatcher_only = roles_required(Role.DISPATCHER)


class PersonSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()


class FleetVehicleSchema(Schema):
    id = fields.Integer()
    plate = fields.String()
    vehicle_class = fields.Function(lambda v: str(v.vehicle_class))
    seats = fields.Integer()
    energy_type = fields.Function(lambda v: str(v.energy_type))
    nev = fields.Boolean()
    pooled = fields.Boolean()
    status = fields.Function(lambda v: str(v.status))
    unit_id = fields.Integer()
    unit_name = fields.Function(lambda v: v.unit.name)
    odometer_km = fields.Decimal(as_string=True, places=1)


class FleetDriverSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    license_class = fields.String()
    active = fields.Boolean()
    unit_id = fields.Integer()
    unit_name = fields.Function(lambda d: d.unit.name)


class TimelineBarSchema(Schema):
    assignment_id = fields.Integer(attribute="id")
    trip_id = fields.Integer()
    trip_state = fields.Function(lambda a: str(a.trip.state))
    vehicle_id = fields.Integer()
    plate = fields.Function(lambda a: a.vehicle.plate)
    driver_id = fields.Integer()
    driver_name = fields.Function(lambda a: a.driver.name)
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    busy_until = AwareDateTime()
    auto = fields.Boolean()
    purpose = fields.Function(lambda a: a.trip.purpose_text)
    route = fields.Function(lambda a: " → ".join(s.get("name", "") for s in a.trip.stops))
    applicant = fields.Function(lambda a: {"id": a.trip.applicant.id,
                                           "name": a.trip.applicant.name,
                                           "phone": a.trip.applicant.phone})


class TimelineVehicleSchema(FleetVehicleSchema):
    bars = fields.List(fields.Nested(TimelineBarSchema))


class TimelineDriverSchema(FleetDriverSchema):
    bars = fields.List(fields.Nested(TimelineBarSchema))


class TimelineSchema(Schema):
    date = fields.Date()
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    vehicles = fields.List(fields.Nested(TimelineVehicleSchema))
    drivers = fields.List(fields.Nested(TimelineDriverSchema))


class TimelineArgs(Schema):
    date = fields.Date(load_default=None, metadata={"description": "Asia/Shanghai day; today if omitted"})


class FleetListArgs(Schema):
    include_inactive = fields.Boolean(load_default=False)


def _vehicles(user: User, include_inactive: bool = False) -> list[Vehicle]:
    """Pooled vehicles in the dispatcher's scope (the ones assignment may choose)."""
    stmt = select(Vehicle).where(Vehicle.pooled, scope_filter(user, Vehicle.unit_id))
    if not include_inactive:
        stmt = stmt.where(Vehicle.status != "retired")
    return list(db.session.scalars(stmt.order_by(Vehicle.plate)))


def _drivers(user: User, include_inactive: bool = False) -> list[Driver]:
    stmt = select(Driver).where(scope_filter(user, Driver.unit_id))
    if not include_inactive:
        stmt = stmt.where(Driver.active)
    return list(db.session.scalars(stmt.order_by(Driver.name, Driver.id)))


@blp.route("/vehicles")
@dispatcher_only
@blp.arguments(FleetListArgs, location="query")
@blp.response(200, FleetVehicleSchema(many=True))
def vehicles(args):
    """The pooled vehicles a dispatcher may assign, with status and last odometer reading."""
    return _vehicles(current_user(), args["include_inactive"])


@blp.route("/drivers")
@dispatcher_only
@blp.arguments(FleetListArgs, location="query")
@blp.response(200, FleetDriverSchema(many=True))
def drivers(args):
    """The drivers a dispatcher may assign, with their licence class."""
    return _drivers(current_user(), args["include_inactive"])


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=clock.SHANGHAI)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


@blp.route("/timeline")
@dispatcher_only
@blp.arguments(TimelineArgs, location="query")
@blp.response(200, TimelineSchema)
def timeline(args):
    """One Asia/Shanghai day: every pooled vehicle and driver in scope with the active
    assignments that overlap the day (bars from start to the end of the busy time)."""
    user = current_user()
    day = args["date"] or clock.now().astimezone(clock.SHANGHAI).date()
    start, end = day_bounds(day)
    vehicles_, drivers_ = _vehicles(user), _drivers(user)
    rows = list(db.session.scalars(
        select(Assignment).join(Trip, Assignment.trip_id == Trip.id)
        .where(Assignment.active, Assignment.starts_at < end, Assignment.busy_until > start,
               scope_filter(user, Trip.unit_id))
        .order_by(Assignment.starts_at)))
    by_vehicle: dict[int, list] = {}
    by_driver: dict[int, list] = {}
    for row in rows:
        by_vehicle.setdefault(row.vehicle_id, []).append(row)
        by_driver.setdefault(row.driver_id, []).append(row)
    for v in vehicles_:
        v.bars = by_vehicle.get(v.id, [])
    for d in drivers_:
        d.bars = by_driver.get(d.id, [])
    return {"date": day, "starts_at": start, "ends_at": end, "vehicles": vehicles_,
            "drivers": drivers_}


def run_facts(session, trip_ids: list[int]) -> dict[int, dict]:
    """Plate, driver and km of the fleet trips that ran (app.trips.facts provider)."""
    rows = session.execute(
        select(TripRun.trip_id, Vehicle.plate, Driver.name, TripRun.km)
        .join(Vehicle, Vehicle.id == TripRun.vehicle_id)
        .join(Driver, Driver.id == TripRun.driver_id)
        .where(TripRun.trip_id.in_(trip_ids)))
    return {t: {"plate": plate, "driver_name": driver, "km": km}
            for t, plate, driver, km in rows}
