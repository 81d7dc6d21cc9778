"""Billing preview: the same engine that prices real trips, for finance and admins (SPEC §5)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.models import Role, VehicleClass
from app.api import AwareDateTime, Money, blueprint
from app.billing import tariff
from app.errors import ValidationFailed
from app.security import roles_required

blp = blueprint("billing", "/billing", "Tariff preview")


class PreviewSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(["fleet", "rental"]))
    vehicle_class = fields.String(required=True,
                                  validate=validate.OneOf([c.value for c in VehicleClass]))
    cross_region = fields.Boolean(load_default=False)
    started_at = AwareDateTime(required=True)
    finished_at = AwareDateTime(required=True)
    odometer_km = fields.Decimal(required=True, validate=validate.Range(min=0))
    waiting_minutes = fields.Integer(load_default=0, validate=validate.Range(min=0))
    tolls = Money(load_default="0")
    parking = Money(load_default="0")
    lodging = Money(load_default="0")

    @validates_schema
    def _order(self, data, **kwargs):
        if data["finished_at"] <= data["started_at"]:
            raise ValidationError("结束时间须晚于开始时间", "finished_at")


class LineSchema(Schema):
    kind = fields.String()
    description = fields.String()
    amount = Money()


class PreviewResultSchema(Schema):
    lines = fields.List(fields.Nested(LineSchema))
    total = Money()


@blp.route("/preview", methods=["POST"])
@roles_required(Role.FINANCE, Role.ADMIN)
@blp.arguments(PreviewSchema)
@blp.response(200, PreviewResultSchema)
def preview(data):
    """Price a trip by the default paid-use tariff (fleet) or agreement ceiling (rental)."""
    channel = data.pop("channel")
    try:
        facts = tariff.TripFacts(**data)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("行程数据不合法") from exc
    if channel == "fleet":
        return tariff.fleet_charge(tariff.DEFAULT_FLEET_TARIFF, facts)
    return tariff.rental_quote(tariff.DEFAULT_RENTAL_AGREEMENT, facts)
