"""The partner API's bodies and the partner admin's, with their field errors (Chinese)."""
from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import clock
from app.accounts.models import VehicleClass
from app.accounts.schemas import name_field
from app.api import ID, AwareDateTime, List, MoneyField
from app.settlements.schemas import PERIOD, SettlementSchema

REF = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$", error="只能包含字母、数字和 _ . : -，最长64位")
CODE = validate.Regexp(r"^[a-z][a-z0-9-]{1,17}$",
                       error="小写字母开头，只含小写字母、数字和 -，2至18位")


# --- the partner API ---------------------------------------------------------------------

class PartnerStopSchema(Schema):
    name = name_field(100, required=True)
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class PartnerTripSchema(Schema):
    stops = List(fields.Nested(PartnerStopSchema), required=True,
                 validate=validate.Length(min=2, max=10, error="请填写起点和终点（最多10个地点）"))
    depart_at = AwareDateTime(required=True)
    return_at = AwareDateTime(required=True)
    passengers = fields.Integer(required=True, validate=validate.Range(min=1, max=45))
    vehicle_class = fields.String(load_default=None, allow_none=True,
                                  validate=validate.OneOf([c.value for c in VehicleClass]))

    @validates_schema
    def _times(self, data, **kwargs):
        if data["return_at"] <= data["depart_at"]:
            raise ValidationError("返回时间须晚于出发时间", "return_at")
        if data["depart_at"] > clock.now() + timedelta(days=30):
            raise ValidationError("出发时间不能晚于30天之后", "depart_at")


class ContactSchema(Schema):
    name = name_field(40, required=True)
    phone = fields.String(required=True, validate=validate.Regexp(r"^\+?[0-9-]{5,20}$",
                                                                  error="电话号码格式不正确"))


class PartnerOrderSchema(PartnerTripSchema):
    order_ref = fields.String(required=True, validate=REF)
    approval_ref = fields.String(required=True, validate=REF)
    quote_id = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=80))
    quoted_price = MoneyField(load_default=None, allow_none=True)
    contact = fields.Nested(ContactSchema, required=True)


class PartnerCancelSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=200))


# --- admin -------------------------------------------------------------------------------

class AreaSchema(Schema):
    south = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    west = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    north = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    east = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class PartnerSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=CODE)
    name = name_field(80, required=True)
    city = name_field(40, required=True)
    service_area = fields.Nested(AreaSchema, required=True)
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"},
                          validate=validate.Length(max=300))
    our_id = fields.String(required=True, validate=CODE)
    secret = fields.String(required=True, load_only=True, validate=validate.Length(min=24, max=200))
    secret_hint = fields.String(dump_only=True)
    unit_id = fields.Integer(load_default=None, allow_none=True, validate=ID)
    unit_name = fields.Function(lambda p: p.unit.name, dump_only=True)
    provider = fields.String(attribute="provider_name", dump_only=True)
    enabled = fields.Boolean(load_default=True)
    created_at = AwareDateTime(dump_only=True)
    updated_at = AwareDateTime(dump_only=True)


class PartnerPatchSchema(Schema):
    name = name_field(80)
    city = name_field(40)
    service_area = fields.Nested(AreaSchema)
    base_url = fields.Url(require_tld=False, schemes={"http", "https"},
                          validate=validate.Length(max=300))
    our_id = fields.String(validate=CODE)
    secret = fields.String(validate=validate.Length(min=24, max=200))
    unit_id = fields.Integer(validate=ID)
    enabled = fields.Boolean()


class PartnerListSchema(Schema):
    items = fields.List(fields.Nested(PartnerSchema))


class PeriodArgs(Schema):
    period = fields.String(required=True, validate=PERIOD)
    direction = fields.String(load_default="outbound",
                              validate=validate.OneOf(["outbound", "inbound"]))


class StatementLineSchema(Schema):
    order_id = fields.String()
    trip_id = fields.Integer(allow_none=True)
    kind = fields.String()
    amount = MoneyField()
    finished_at = AwareDateTime()


class DirectionSchema(Schema):
    direction = fields.String()
    generated = fields.Boolean()
    total = MoneyField()
    statements = fields.List(fields.Nested(SettlementSchema))
    lines = fields.List(fields.Nested(StatementLineSchema))


class PartnerStatementSchema(Schema):
    partner_id = fields.Integer()
    period = fields.String()
    outbound = fields.Nested(DirectionSchema)
    inbound = fields.Nested(DirectionSchema)


class ReconcileFormSchema(Schema):
    period = fields.String(required=True, validate=PERIOD)
    direction = fields.String(required=True, validate=validate.OneOf(["outbound", "inbound"]))


class PartnerQuoteSchema(Schema):
    quote_id = fields.String()
    product = fields.String()
    vehicle_class = fields.String()
    seats = fields.Integer()
    nev = fields.Boolean()
    price = MoneyField()
    lines = fields.List(fields.Dict())
    valid_until = fields.String()
    available = fields.Boolean()


class PartnerQuotesSchema(Schema):
    quotes = fields.List(fields.Nested(PartnerQuoteSchema))


class PartnerOrderViewSchema(Schema):
    id = fields.String()
    order_ref = fields.String()
    approval_ref = fields.String()
    state = fields.String()
    version = fields.Integer(metadata={
        "description": "The order's change count: each callback carries the next, a read the "
                       "last; order what you hear by it (a step back to created included)"})
    trip_state = fields.String()
    vehicle_class = fields.String()
    quoted_price = MoneyField()
    vehicle = fields.Dict(allow_none=True)
    bill = fields.Dict(allow_none=True)
    cancel_fee = MoneyField(allow_none=True)
    occurred_at = fields.String()
