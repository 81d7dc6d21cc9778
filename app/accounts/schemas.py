from decimal import Decimal

from marshmallow import Schema, fields, validate

from app.accounts.models import (LICENCE_VEHICLE_CLASSES, EnergyType, Role, UnitLevel,
                                 VehicleClass, VehicleStatus)
from app.api import PageArgs

PHONE = validate.Regexp(r"^1\d{10}$", error="请输入11位手机号")
LICENCE_CLASS = validate.OneOf(list(LICENCE_VEHICLE_CLASSES), error="准驾车型不在允许范围内")


def _choice(enum_cls):
    return validate.OneOf([m.value for m in enum_cls], error="取值不在允许范围内")


class UnitSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True, validate=_choice(UnitLevel))
    parent_id = fields.Integer(allow_none=True, load_default=None)
    region_code = fields.String(required=True, validate=validate.Regexp(r"^\d{6,12}$"))


class UnitPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    region_code = fields.String(validate=validate.Regexp(r"^\d{6,12}$"))


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(required=True, validate=PHONE)
    unit_id = fields.Integer(required=True)
    roles = fields.List(fields.String(validate=_choice(Role)), required=True,
                        validate=validate.Length(min=1))
    active = fields.Boolean(load_default=True)
    bound = fields.Method("_bound", dump_only=True)

    def _bound(self, user):
        return user.openid is not None


class UserPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=60))
    phone = fields.String(validate=PHONE)
    unit_id = fields.Integer()
    roles = fields.List(fields.String(validate=_choice(Role)), validate=validate.Length(min=1))
    active = fields.Boolean()


class VehicleSchema(Schema):
    id = fields.Integer(dump_only=True)
    plate = fields.String(required=True, validate=validate.Length(min=5, max=16))
    vehicle_class = fields.String(required=True, validate=_choice(VehicleClass))
    seats = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    energy_type = fields.String(required=True, validate=_choice(EnergyType))
    nev = fields.Boolean(dump_only=True)
    pooled = fields.Boolean(load_default=True)
    unit_id = fields.Integer(required=True)
    odometer_km = fields.Decimal(as_string=True, places=1, load_default="0",
                                 validate=validate.Range(min=0))
    status = fields.String(load_default=VehicleStatus.AVAILABLE.value,
                           validate=_choice(VehicleStatus))


class VehiclePatchSchema(Schema):
    seats = fields.Integer(validate=validate.Range(min=1, max=60))
    energy_type = fields.String(validate=_choice(EnergyType))
    pooled = fields.Boolean()
    unit_id = fields.Integer()
    status = fields.String(validate=_choice(VehicleStatus))


class OdometerCorrectionSchema(Schema):
    """An admin's correction of a vehicle's recorded odometer reading, with the reason."""
    odometer_km = fields.Decimal(required=True, as_string=True, places=1,
                                 validate=validate.Range(min=0, max=Decimal("9999999.9")))
    reason = fields.String(required=True, validate=validate.Length(
        min=1, max=500, error="请填写原因（最多500字）"))


class DriverSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(required=True, validate=PHONE)
    unit_id = fields.Integer(required=True)
    user_id = fields.Integer(allow_none=True, load_default=None)
    license_class = fields.String(load_default="B1", validate=LICENCE_CLASS)
    active = fields.Boolean(load_default=True)


class DriverPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=60))
    phone = fields.String(validate=PHONE)
    unit_id = fields.Integer()
    license_class = fields.String(validate=LICENCE_CLASS)
    active = fields.Boolean()


class UnitListArgs(PageArgs):
    parent_id = fields.Integer()


class MeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    roles = fields.List(fields.String())
    unit = fields.Nested(UnitSchema)
