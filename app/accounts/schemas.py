import unicodedata
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from app.accounts.models import (LICENCE_VEHICLE_CLASSES, EnergyType, Role, UnitLevel,
                                 VehicleClass, VehicleStatus)
from app.api import ID, AwareDateTime, List, PageArgs

PHONE = validate.Regexp(r"^1\d{10}$", error="请输入11位手机号")
LICENCE_CLASS = validate.OneOf(list(LICENCE_VEHICLE_CLASSES), error="准驾车型不在允许范围内")
# Control (C0, DEL, C1), invisible format (bidi overrides, zero-width) and surrogate code points.
HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs")


def printable(value: str) -> None:
    """Names are shown to people and written to messages and exports: nothing hidden in them."""
    if any(unicodedata.category(ch) in HIDDEN_CATEGORIES for ch in value):
        raise ValidationError("不能包含控制字符或不可见字符")


def name_field(max_length: int, *, min_length: int = 1, **kwargs) -> fields.String:
    """A name (person, unit, place, plate): ``min_length``..``max_length`` printable characters."""
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), printable],
                         **kwargs)


def _choice(enum_cls):
    return validate.OneOf([m.value for m in enum_cls], error="取值不在允许范围内")


class UnitSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = name_field(100, required=True)
    level = fields.String(required=True, validate=_choice(UnitLevel))
    parent_id = fields.Integer(allow_none=True, load_default=None, validate=ID)
    region_code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$"))


class UnitPatchSchema(Schema):
    name = name_field(100)
    region_code = fields.String(validate=validate.Regexp(r"^\d{6,12}$"))


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = name_field(60, required=True)
    phone = fields.String(required=True, validate=PHONE)
    unit_id = fields.Integer(required=True, validate=ID)
    roles = List(fields.String(validate=_choice(Role)), required=True,
                 validate=validate.Length(min=1, max=len(Role)))
    active = fields.Boolean(load_default=True)
    bound = fields.Method("_bound", dump_only=True)

    def _bound(self, user):
        return user.openid is not None


class UserPatchSchema(Schema):
    name = name_field(60)
    phone = fields.String(validate=PHONE)
    unit_id = fields.Integer(validate=ID)
    roles = List(fields.String(validate=_choice(Role)), validate=validate.Length(min=1, max=len(Role)))
    active = fields.Boolean()


# Positioning (SPEC §6.3): the terminal's id at the gateway (Traccar's uniqueId, OsmAnd's
# id) and the home depot in WGS-84, where the vehicle parks overnight.
DEVICE_ID = fields.String(allow_none=True, validate=[
    validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$", error="设备编号为 1 至 64 位字母、数字或 ._:-"),
    printable], metadata={"description": "the positioning terminal's id (Traccar uniqueId)"})
DEPOT_LAT = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90),
                         metadata={"description": "home depot latitude, WGS-84"})
DEPOT_LNG = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180),
                         metadata={"description": "home depot longitude, WGS-84"})


class VehicleSchema(Schema):
    id = fields.Integer(dump_only=True)
    plate = name_field(16, min_length=5, required=True)
    vehicle_class = fields.String(required=True, validate=_choice(VehicleClass))
    seats = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    energy_type = fields.String(required=True, validate=_choice(EnergyType))
    nev = fields.Boolean(dump_only=True)
    pooled = fields.Boolean(load_default=True)
    unit_id = fields.Integer(required=True, validate=ID)
    odometer_km = fields.Decimal(as_string=True, places=1, load_default="0",
                                 validate=validate.Range(min=0, max=Decimal("9999999.9")))
    status = fields.String(load_default=VehicleStatus.AVAILABLE.value,
                           validate=_choice(VehicleStatus))
    device_id = DEVICE_ID
    depot_lat = DEPOT_LAT
    depot_lng = DEPOT_LNG
    # When the odometer was last read (the next reading is judged against it).
    odometer_at = AwareDateTime(dump_only=True)
    placement = fields.Function(lambda v: "pooled" if v.pooled else "stationed",
                                dump_only=True, metadata={"enum": ["pooled", "stationed"]})


class VehiclePatchSchema(Schema):
    seats = fields.Integer(validate=validate.Range(min=1, max=60))
    energy_type = fields.String(validate=_choice(EnergyType))
    pooled = fields.Boolean()
    unit_id = fields.Integer(validate=ID)
    status = fields.String(validate=_choice(VehicleStatus))
    device_id = DEVICE_ID
    depot_lat = DEPOT_LAT
    depot_lng = DEPOT_LNG


class OdometerCorrectionSchema(Schema):
    """An admin's correction of a vehicle's recorded odometer reading, with the reason."""
    odometer_km = fields.Decimal(required=True, as_string=True, places=1,
                                 validate=validate.Range(min=0, max=Decimal("9999999.9")))
    reason = fields.String(required=True, validate=validate.Length(
        min=1, max=500, error="请填写原因（最多500字）"))


class DriverSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = name_field(60, required=True)
    phone = fields.String(required=True, validate=PHONE)
    unit_id = fields.Integer(required=True, validate=ID)
    user_id = fields.Integer(allow_none=True, load_default=None, validate=ID)
    license_class = fields.String(load_default="B1", validate=LICENCE_CLASS)
    active = fields.Boolean(load_default=True)


class DriverPatchSchema(Schema):
    name = name_field(60)
    phone = fields.String(validate=PHONE)
    unit_id = fields.Integer(validate=ID)
    license_class = fields.String(validate=LICENCE_CLASS)
    active = fields.Boolean()


class UnitListArgs(PageArgs):
    parent_id = fields.Integer(validate=ID)


class MeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    roles = fields.List(fields.String())
    unit = fields.Nested(UnitSchema)
