from decimal import Decimal

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.api import AwareDateTime, MoneyField
from app.billing.models import TariffKind
from app.billing.tariff import VEHICLE_CLASSES

# Field errors in Chinese: the admin and finance screens show them as they are.
ZH = {"required": "必填", "null": "不能为空"}
MONEY_RANGE = validate.Range(min=Decimal("0"), max=Decimal("99999.99"), error="应在 0 到 99999.99 之间")


class FeeLineSchema(Schema):
    """A charge line, and a quote's fee line: ``{kind, description, amount}``
    (``providers.base.FeeLine`` on the wire)."""

    kind = fields.String()
    description = fields.String()
    amount = MoneyField()


def _zh(invalid: str) -> dict:
    return {**ZH, "invalid": invalid, "invalid_awareness": invalid}


class ZhSchema(Schema):
    error_messages = {"unknown": "未知字段", "type": "请求体应为 JSON 对象"}


class ChargeSchema(Schema):
    trip_id = fields.Integer()
    lines = fields.List(fields.Nested(FeeLineSchema))
    total = MoneyField()
    final = fields.Boolean()
    estimate = MoneyField(allow_none=True)
    market_reference = MoneyField(allow_none=True)
    savings = MoneyField(allow_none=True)
    flags = fields.List(fields.String())
    ceiling = MoneyField(allow_none=True)
    held = fields.Boolean()
    supplier = fields.String()
    order_id = fields.String()
    channel = fields.Function(lambda c: str(c.channel))
    auto_confirmed = fields.Boolean()
    computed_at = AwareDateTime()
    finalized_at = AwareDateTime(allow_none=True)


class ReleaseSchema(ZhSchema):
    decision = fields.String(required=True, error_messages=ZH, validate=validate.OneOf(
        ["accept", "cap"], error="应为 accept（按账单结算）或 cap（按协议上限结算）"))
    reason = fields.String(required=True, error_messages=ZH,
                           validate=validate.Length(min=1, max=500, error="请填写理由（最多500字）"))


class PreviewSchema(ZhSchema):
    channel = fields.String(required=True, error_messages=ZH,
                            validate=validate.OneOf(["fleet", "rental"], error="应为 fleet 或 rental"))
    vehicle_class = fields.String(required=True, error_messages=ZH, validate=validate.OneOf(
        VEHICLE_CLASSES, error="车型应为 sedan、mpv、minibus 或 bus"))
    cross_region = fields.Boolean(load_default=False, error_messages=_zh("应为 true 或 false"))
    started_at = AwareDateTime(required=True, error_messages=_zh("应为带时区的 ISO 8601 时间"))
    finished_at = AwareDateTime(required=True, error_messages=_zh("应为带时区的 ISO 8601 时间"))
    odometer_km = fields.Decimal(load_default=Decimal("0"), error_messages=_zh("应为数字"),
                                 validate=validate.Range(min=Decimal("0"), max=Decimal("100000"),
                                                         error="应在 0 到 100000 公里之间"))
    waiting_minutes = fields.Integer(load_default=0, error_messages=_zh("应为整数（分钟）"),
                                     validate=validate.Range(min=0, max=14400,
                                                             error="应在 0 到 14400 分钟之间"))
    tolls = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE,
                       error_messages=_zh("金额应为字符串，如 \"12.50\""))
    parking = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE,
                         error_messages=_zh("金额应为字符串，如 \"12.50\""))
    lodging = MoneyField(load_default=Decimal("0.00"), validate=MONEY_RANGE,
                         error_messages=_zh("金额应为字符串，如 \"12.50\""))

    @validates_schema
    def _period(self, data, **kwargs):
        if data["finished_at"] < data["started_at"]:
            raise ValidationError("结束时间不能早于开始时间", field_name="finished_at")


class PreviewResultSchema(Schema):
    lines = fields.List(fields.Nested(FeeLineSchema))
    total = MoneyField()


class TariffArgs(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in TariffKind]))


class TariffBodySchema(ZhSchema):
    """A tariff as the engine's ``to_dict`` data plus its kind; the engine validates the rest."""

    class Meta:
        unknown = INCLUDE

    kind = fields.String(required=True, error_messages=ZH, validate=validate.OneOf(
        [k.value for k in TariffKind], error="应为 fleet（公车有偿使用）或 rental（租赁协议上限）"))
    effective_from = fields.String(required=True, error_messages=ZH)


class TariffSchema(Schema):
    id = fields.Integer(allow_none=True)
    kind = fields.String()
    effective_from = fields.Date()
    data = fields.Dict()
    created_by_id = fields.Integer(allow_none=True)
    created_at = AwareDateTime(allow_none=True)
    in_force = fields.Boolean()
