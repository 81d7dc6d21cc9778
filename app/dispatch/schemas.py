from decimal import Decimal

from marshmallow import Schema, fields, validate

from app.api import ID, AwareDateTime, MoneyField, PageArgs
from app.trips.schemas import TripBriefSchema, TripSchema

MONEY_RANGE = validate.Range(min=Decimal("0"), max=Decimal("99999.99"))


class OdometerKm(fields.Decimal):
    """An odometer reading in km with one decimal ("12345.6"); numbers are accepted too."""

    def __init__(self, **kwargs):
        super().__init__(places=1, as_string=True, rounding="ROUND_HALF_UP",
                         validate=validate.Range(min=Decimal("0"), max=Decimal("9999999.9")),
                         **kwargs)


class Reason(fields.String):
    def __init__(self, **kwargs):
        super().__init__(required=True, validate=validate.Length(min=1, max=500,
                                                                 error="请填写原因（最多500字）"),
                         **kwargs)


class AssignBodySchema(Schema):
    vehicle_id = fields.Integer(load_default=None, allow_none=True, validate=ID)
    driver_id = fields.Integer(load_default=None, allow_none=True, validate=ID)


class ReassignBodySchema(AssignBodySchema):
    reason = Reason()


class ReasonBodySchema(Schema):
    reason = Reason()


class ResolveBodySchema(Schema):
    """The answer to the passenger, and the corrected facts of a fleet trip if any."""
    resolution = Reason()
    odometer_km = OdometerKm(load_default=None, allow_none=True,
                             metadata={"description": "corrected end reading"})
    tolls = MoneyField(load_default=None, allow_none=True, validate=MONEY_RANGE)
    parking = MoneyField(load_default=None, allow_none=True, validate=MONEY_RANGE)
    lodging = MoneyField(load_default=None, allow_none=True, validate=MONEY_RANGE)
    waiting_minutes = fields.Integer(load_default=None, allow_none=True,
                                     validate=validate.Range(min=0, max=14400))


class StartBodySchema(Schema):
    odometer_km = OdometerKm(required=True)
    at = AwareDateTime(load_default=None, allow_none=True)


class FinishBodySchema(Schema):
    odometer_km = OdometerKm(required=True)
    tolls = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE)
    parking = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE)
    lodging = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE)
    waiting_minutes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=14400))
    at = AwareDateTime(load_default=None, allow_none=True)


class VehicleBriefSchema(Schema):
    id = fields.Integer()
    plate = fields.String()
    vehicle_class = fields.Function(lambda v: str(v.vehicle_class))
    seats = fields.Integer()
    nev = fields.Boolean()
    odometer_km = fields.Decimal(as_string=True, places=1,
                                 metadata={"description": "last recorded reading; start from it"})


class DriverBriefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()


class AssignmentSchema(Schema):
    id = fields.Integer()
    trip_id = fields.Integer()
    trip_state = fields.Function(lambda a: str(a.trip.state))
    vehicle = fields.Nested(VehicleBriefSchema)
    driver = fields.Nested(DriverBriefSchema)
    starts_at = AwareDateTime()
    ends_at = AwareDateTime()
    active = fields.Boolean()
    auto = fields.Boolean()
    assigned_by_id = fields.Integer(allow_none=True)
    assigned_at = AwareDateTime()
    reason = fields.String()
    released_at = AwareDateTime(allow_none=True)
    released_by_id = fields.Integer(allow_none=True)
    release_reason = fields.Function(lambda a: str(a.release_reason) if a.release_reason else None)
    release_comment = fields.String()


class DriverTaskSchema(AssignmentSchema):
    trip = fields.Nested(TripBriefSchema)


class TripRunSchema(Schema):
    trip_id = fields.Integer()
    trip_state = fields.Function(lambda r: str(r.trip.state))
    assignment_id = fields.Integer()
    vehicle_id = fields.Integer()
    driver_id = fields.Integer()
    started_at = AwareDateTime()
    start_odometer_km = fields.Decimal(as_string=True)
    odometer_gap_km = fields.Decimal(as_string=True)
    finished_at = AwareDateTime(allow_none=True)
    end_odometer_km = fields.Decimal(as_string=True, allow_none=True)
    km = fields.Decimal(as_string=True, allow_none=True)
    tolls = MoneyField(allow_none=True)
    parking = MoneyField(allow_none=True)
    lodging = MoneyField(allow_none=True)
    waiting_minutes = fields.Integer(allow_none=True)


class DisputeSchema(Schema):
    id = fields.Integer()
    trip_id = fields.Integer()
    raised_by_id = fields.Integer()
    reason = fields.String()
    raised_at = AwareDateTime()
    open = fields.Boolean()
    closed_at = AwareDateTime(allow_none=True)
    resolution = fields.String()


class DispatchedTripSchema(TripSchema):
    """A trip as dispatch sees it: why it is stuck, and what cancelling it cost."""

    dispatch_issue = fields.String(allow_none=True)
    cancellation_fee = MoneyField(allow_none=True)
    applicant = fields.Function(
        lambda t: getattr(t, "applicant_info", None) or {
            "id": t.applicant.id, "name": t.applicant.name, "phone": t.applicant.phone},
        metadata={"description": "who applied, with the phone dispatch calls"})
    unit_name = fields.Function(lambda t: t.unit.name)


class ProviderOrderSchema(Schema):
    """A rental or ride-hailing trip's order with its provider (app/orders)."""

    provider = fields.String()
    out_order_id = fields.String()
    order_id = fields.String(allow_none=True)
    state = fields.String()
    plate = fields.String(allow_none=True)
    driver_name = fields.String(allow_none=True)
    driver_phone = fields.String(allow_none=True)
    bill = fields.List(fields.Dict(), allow_none=True)
    cancel_fee = MoneyField(allow_none=True)
    attempts = fields.Integer()
    last_event_at = AwareDateTime(allow_none=True)
    error = fields.String(allow_none=True)


class TripDispatchSchema(Schema):
    """Everything dispatch knows about one trip."""

    trip_id = fields.Integer()
    state = fields.String()
    dispatch_issue = fields.String(allow_none=True)
    cancellation_fee = MoneyField(allow_none=True)
    assignments = fields.List(fields.Nested(AssignmentSchema))
    run = fields.Nested(TripRunSchema, allow_none=True)
    disputes = fields.List(fields.Nested(DisputeSchema))
    provider_order = fields.Nested(ProviderOrderSchema, allow_none=True)


class DisputeListArgs(PageArgs):
    open = fields.Boolean(load_default=None, allow_none=True)
