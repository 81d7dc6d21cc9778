"""Dispatch endpoints: the queue, assignments, the driver's tasks and trip records,
passenger confirmation and disputes, cancellation."""
from __future__ import annotations

from sqlalchemy import select

from app import db
from app.accounts.models import Role
from app.api import PageArgs, blueprint, page_schema, paginate
from app.dispatch import assignment, passenger, run
from app.dispatch.models import Assignment, TripDispute, TripRun
from app.dispatch.schemas import (AssignBodySchema, AssignmentSchema, DispatchedTripSchema,
                                  DisputeListArgs, DisputeSchema, DriverTaskSchema,
                                  FinishBodySchema, ReasonBodySchema, ReassignBodySchema,
                                  ResolveBodySchema,
                                  StartBodySchema, TripRunSchema)
from app.security import current_user, roles_required, scope_filter
from app.trips import lifecycle
from app.trips import service as trips
from app.trips.models import Trip

blp = blueprint("dispatch", "/dispatch", "The dispatch queue and disputes (调度)")
trip_blp = blueprint("trip-dispatch", "/trips",
                     "Assigning, driving, confirming and cancelling a trip")
driver_blp = blueprint("driver", "/driver", "The logged-in driver's tasks")

dispatcher_only = roles_required(Role.DISPATCHER)


@blp.route("/queue")
@dispatcher_only
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(DispatchedTripSchema))
def queue(args):
    """Fleet trips waiting for a vehicle, and provider trips whose booking failed (with why)."""
    user = current_user()
    stmt = select(Trip).where(assignment.queue_condition(), scope_filter(user, Trip.unit_id))
    page = paginate(stmt, Trip.id, limit=args["limit"], cursor=args["cursor"])
    trips.attach_histories(db.session, page["items"])
    lifecycle.annotate(db.session, page["items"], user)
    return page


@blp.route("/disputes")
@roles_required(Role.DISPATCHER, Role.FINANCE, Role.SUPERVISOR)
@blp.arguments(DisputeListArgs, location="query")
@blp.response(200, page_schema(DisputeSchema))
def disputes(args):
    """Passengers' disputes over trips in the caller's unit subtree."""
    user = current_user()
    stmt = (select(TripDispute).join(Trip, TripDispute.trip_id == Trip.id)
            .where(scope_filter(user, Trip.unit_id)))
    if args.get("open") is not None:
        stmt = stmt.where(TripDispute.open == args["open"])
    return paginate(stmt, TripDispute.id, limit=args["limit"], cursor=args["cursor"])


@trip_blp.route("/<int:trip_id>/assign", methods=["POST"])
@dispatcher_only
@trip_blp.arguments(AssignBodySchema)
@trip_blp.response(200, AssignmentSchema)
def assign(data, trip_id):
    """Assign a vehicle and a driver; omit both to auto-assign (NEV first, least used)."""
    return assignment.assign(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/reassign", methods=["POST"])
@dispatcher_only
@trip_blp.arguments(ReassignBodySchema)
@trip_blp.response(200, AssignmentSchema)
def reassign(data, trip_id):
    """Change the vehicle and/or driver before departure (an omitted one is kept)."""
    return assignment.reassign(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/unassign", methods=["POST"])
@dispatcher_only
@trip_blp.arguments(ReasonBodySchema)
@trip_blp.response(200, DispatchedTripSchema)
def unassign(data, trip_id):
    """Release the vehicle and driver; the trip waits in the queue again."""
    return assignment.unassign(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/start", methods=["POST"])
@roles_required(Role.DRIVER)
@trip_blp.arguments(StartBodySchema)
@trip_blp.response(200, TripRunSchema)
def start(data, trip_id):
    """The assigned driver sets off; ``at`` records a time afterwards when offline."""
    return run.start_trip(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/finish", methods=["POST"])
@roles_required(Role.DRIVER)
@trip_blp.arguments(FinishBodySchema)
@trip_blp.response(200, TripRunSchema)
def finish(data, trip_id):
    """The assigned driver returns with odometer, tolls, parking, lodging and waiting time."""
    return run.finish_trip(db.session, actor=current_user(), trip_id=trip_id,
                           report=run.FinishReport(**data))


@trip_blp.route("/<int:trip_id>/confirm", methods=["POST"])
@roles_required()
@trip_blp.response(200, DispatchedTripSchema)
def confirm(trip_id):
    """The applicant confirms the completed trip's mileage and charge."""
    return passenger.confirm(db.session, actor=current_user(), trip_id=trip_id)


@trip_blp.route("/<int:trip_id>/dispute", methods=["POST"])
@roles_required()
@trip_blp.arguments(ReasonBodySchema)
@trip_blp.response(201, DisputeSchema)
def dispute(data, trip_id):
    """The applicant disputes the completed trip; it is not auto-confirmed meanwhile."""
    return passenger.dispute(db.session, actor=current_user(), trip_id=trip_id, **data)


@trip_blp.route("/<int:trip_id>/dispute/resolve", methods=["POST"])
@dispatcher_only
@trip_blp.arguments(ResolveBodySchema)
@trip_blp.response(200, DisputeSchema)
def resolve_dispute(data, trip_id):
    """Answer the open dispute; corrected fleet facts recompute the (provisional) charge."""
    resolution = data.pop("resolution")
    return passenger.resolve_dispute(db.session, actor=current_user(), trip_id=trip_id,
                                     resolution=resolution,
                                     correction=passenger.Correction(**data))


@trip_blp.route("/<int:trip_id>/cancel", methods=["POST"])
@roles_required()
@trip_blp.arguments(ReasonBodySchema)
@trip_blp.response(200, DispatchedTripSchema)
def cancel(data, trip_id):
    """Cancel before departure (traveler: own trips; dispatcher: any in scope)."""
    return trips.cancel(db.session, actor=current_user(), trip_id=trip_id, **data)


@driver_blp.route("/tasks")
@roles_required(Role.DRIVER)
@driver_blp.arguments(PageArgs, location="query")
@driver_blp.response(200, page_schema(DriverTaskSchema))
def tasks(args):
    """The driver's upcoming and running tasks."""
    user = current_user()
    driver = run.driver_of(db.session, user)
    stmt = select(Assignment).where(Assignment.driver_id == driver.id, Assignment.active)
    page = paginate(stmt, Assignment.id, limit=args["limit"], cursor=args["cursor"])
    lifecycle.annotate(db.session, [a.trip for a in page["items"]], user)
    return page
