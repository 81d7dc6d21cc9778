from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app import clock
from app.api import ID, AwareDateTime, MoneyField, PageArgs, allowed_actions_field
from app.security import current_user
from app.settlements.models import ACTIONS


PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="结算期间格式应为 YYYY-MM")
REQUIRED = {"required": "必填"}


class GenerateSchema(Schema):
    period = fields.String(required=True, validate=PERIOD)


class SettlementSchema(Schema):
    id = fields.Integer()
    period = fields.String()
    unit_id = fields.Integer()
    unit_name = fields.Function(lambda s: s.unit.name)
    supplier = fields.String()
    state = fields.Function(lambda s: str(s.state))
    total = MoneyField()
    line_count = fields.Integer()
    generated_at = AwareDateTime()
    closed_at = AwareDateTime(allow_none=True)
    dispute_reason = fields.String(allow_none=True)
    allowed_actions = allowed_actions_field(
        ACTIONS, lambda s: s.allowed_actions(current_user()),
        "What the caller may do with the statement now: platform finance issues drafts and "
        "closes confirmed statements, finance in scope confirms, disputes and exports")


class TripFactsSchema(Schema):
    """The trip a line settles, as the statement's reader needs it."""

    date = fields.Function(lambda f: clock.local_date(f["depart_at"]).isoformat()
                           if f.get("depart_at") else None)
    depart_at = AwareDateTime()
    return_at = AwareDateTime()
    route = fields.String()
    purpose = fields.String()
    plate = fields.String(allow_none=True)
    km = fields.Decimal(as_string=True, allow_none=True)
    driver_name = fields.String(allow_none=True)
    applicant_name = fields.String()
    applicant_phone = fields.String()


class SettlementLineSchema(Schema):
    trip = fields.Nested(TripFactsSchema, allow_none=True, attribute="trip_facts",
                         metadata={"description": "date, route, plate, km and applicant"})
    id = fields.Integer()
    trip_id = fields.Integer(allow_none=True)
    order_id = fields.String()
    kind = fields.String()
    description = fields.String()
    amount = MoneyField()
    finished_at = AwareDateTime()
    disputed = fields.Boolean()


class SettlementListArgs(PageArgs):
    period = fields.String(validate=PERIOD)
    unit_id = fields.Integer(validate=ID)
    supplier = fields.String()


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class GenerateResultSchema(Schema):
    period = fields.String()
    items = fields.List(fields.Nested(SettlementSchema))


class ExportArgs(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(
        ["xlsx", "csv"], error="导出格式应为 xlsx 或 csv"))


class ReconciliationFormSchema(Schema):
    provider = fields.String(required=True, error_messages=REQUIRED,
                             validate=validate.Length(min=1, max=40))
    period = fields.String(required=True, error_messages=REQUIRED, validate=PERIOD)


class ReconciliationFileSchema(Schema):
    file = Upload(required=True, error_messages=REQUIRED)


class OrderAmountSchema(Schema):
    order_id = fields.String()
    amount = MoneyField()


class AmountMismatchSchema(Schema):
    order_id = fields.String()
    ours = MoneyField()
    theirs = MoneyField()
    difference = MoneyField()


class PeriodExportArgs(ExportArgs):
    period = fields.String(required=True, error_messages=REQUIRED, validate=PERIOD)
    supplier = fields.String(validate=validate.Length(min=1, max=40))


class ReconciliationRunSchema(Schema):
    id = fields.Integer()
    supplier = fields.String()
    period = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    uploaded_by_id = fields.Integer()
    uploaded_at = AwareDateTime()
    matched = fields.Integer()
    problems = fields.Integer()
    result = fields.Dict()


class ReconciliationRunListArgs(PageArgs):
    period = fields.String(validate=PERIOD)
    supplier = fields.String(validate=validate.Length(min=1, max=40))


class ReconciliationSchema(Schema):
    run_id = fields.Integer(metadata={"description": "the kept record of this upload"})
    matched = fields.Integer()
    missing_on_our_side = fields.List(fields.Nested(OrderAmountSchema))
    missing_on_theirs = fields.List(fields.Nested(OrderAmountSchema))
    amount_mismatches = fields.List(fields.Nested(AmountMismatchSchema))
