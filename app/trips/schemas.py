from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema

from app import clock, db
from app.accounts.models import VehicleClass
from app.accounts.schemas import name_field
from app.api import ID, AwareDateTime, List, MoneyField, PageArgs, allowed_actions_field
from app.security import current_user
from app.trips import lifecycle
from app.trips.models import TRIP_ACTIONS, Channel, Purpose, TripState


# A trip departs at most a year ahead and lasts at most 30 days (longer travel is several
# trips); a year-9999 departure or a ten-year trip is a mistake or an attack.
MAX_LEAD = timedelta(days=365)
MAX_DURATION = timedelta(days=30)


class PurposeSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf([p.value for p in Purpose]))
    text = fields.String(load_default="", validate=validate.Length(max=200))


class PassengerSchema(Schema):
    name = name_field(40, required=True)


class StopSchema(Schema):
    name = name_field(100, required=True)
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    region_code = fields.String(validate=validate.Regexp(r"^\d{6}$"))


class TripCreateSchema(Schema):
    purpose = fields.Nested(PurposeSchema, required=True)
    passengers = List(fields.Nested(PassengerSchema), required=True,
                      validate=validate.Length(min=1, max=45, error="乘车人数须为1至45人"))
    stops = List(fields.Nested(StopSchema), required=True,
                 validate=validate.Length(min=2, max=10, error="请填写起点和终点（最多10个地点）"))
    depart_at = AwareDateTime(required=True)
    return_at = AwareDateTime(required=True)
    vehicle_class = fields.String(load_default=None, allow_none=True,
                                  validate=validate.OneOf([c.value for c in VehicleClass]))
    one_way = fields.Boolean(load_default=False, metadata={
        "description": "true: the trip ends at its last stop; false (default): the vehicle "
                       "comes back to the origin, and the route estimate is out and back"})

    @validates_schema
    def _times(self, data, **kwargs):
        if data["depart_at"] > clock.now() + MAX_LEAD:
            raise ValidationError(f"出发时间不能晚于{MAX_LEAD.days}天之后", "depart_at")
        if data["return_at"] <= data["depart_at"]:
            raise ValidationError("返回时间须晚于出发时间", "return_at")
        if data["return_at"] - data["depart_at"] > MAX_DURATION:
            raise ValidationError(f"行程时长不能超过{MAX_DURATION.days}天", "return_at")


class TripEventSchema(Schema):
    state = fields.Function(lambda e: str(e.to_state))
    from_state = fields.Function(lambda e: str(e.from_state))
    at = AwareDateTime()
    actor_id = fields.Integer(allow_none=True)
    on_behalf_of_id = fields.Integer(allow_none=True)
    comment = fields.String()
    action = fields.Function(lambda e: e.data.get("action"))


class History(fields.List):
    """A trip's history: the rows a list page read for it (``service.attach_histories``),
    else its ``events``."""

    def get_value(self, obj, attr, accessor=None, default=missing):
        rows = getattr(obj, "__dict__", {}).get("_history_rows")
        return rows if rows is not None else super().get_value(obj, attr, accessor, default)


class TripSchema(Schema):
    id = fields.Integer()
    state = fields.Function(lambda t: str(t.state))
    cross_region = fields.Boolean()
    one_way = fields.Boolean()
    emergency = fields.Boolean()
    unit_id = fields.Integer()
    applicant_id = fields.Integer()
    purpose = fields.Function(lambda t: {"category": str(t.purpose_category),
                                         "text": t.purpose_text})
    passengers = fields.List(fields.Dict())
    stops = fields.List(fields.Dict())
    depart_at = AwareDateTime()
    return_at = AwareDateTime()
    vehicle_class = fields.Function(lambda t: str(t.vehicle_class) if t.vehicle_class else None)
    est_distance_km = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "The full route estimate at the last quote: out and back unless one_way"})
    est_duration_min = fields.Integer(allow_none=True)
    selected_offer_id = fields.Integer(allow_none=True)
    channel = fields.Function(lambda t: str(t.channel) if t.channel else None)
    partner = fields.Dict(allow_none=True, metadata={
        "description": "A partner city's trip: {code, name, order_id, order_ref, approval_ref}"})
    estimate = MoneyField(allow_none=True)
    price_change = fields.Function(lambda t: t.price_change(), metadata={
        "type": "object", "nullable": True,
        "description": "In state price_changed: the approved estimate, the provider's new "
                       "price (null: the product is no longer offered), the new offer's id, "
                       "the provider and why the trip came back (Chinese)"})
    created_at = AwareDateTime()
    history = History(fields.Nested(TripEventSchema), attribute="events")
    allowed_actions = allowed_actions_field(
        TRIP_ACTIONS, lambda trip: lifecycle.allowed_actions(db.session, trip, current_user()),
        "What the caller may do with the trip now, from its state and the caller's part in it")


class TripListArgs(PageArgs):
    """The list's filters; a parameter it does not know is refused (422, the view loads it
    with ``unknown=RAISE``), not ignored."""

    state = fields.String(validate=validate.OneOf([s.value for s in TripState]))
    mine = fields.Boolean(load_default=False)
    channel = fields.String(validate=validate.OneOf([c.value for c in Channel]))
    unit_id = fields.Integer(validate=ID, metadata={"description": "Trips of this unit only"})
    depart_from = AwareDateTime(metadata={"description": "Departing at or after this time"})
    depart_to = AwareDateTime(metadata={"description": "Departing before this time"})
    plate = fields.String(validate=validate.Length(min=1, max=20),
                          metadata={"description": "Trips driven by the vehicle with this "
                                                   "plate (fleet or provider)"})

    @validates_schema
    def _range(self, data, **kwargs):
        if (data.get("depart_from") and data.get("depart_to")
                and data["depart_to"] <= data["depart_from"]):
            raise ValidationError("结束时间须晚于开始时间", "depart_to")


class TripBriefSchema(TripSchema):
    """A trip without its history, for lists that embed trips."""

    class Meta:
        exclude = ("history",)
