"""Wire shapes of supervision: cases, their history, rule versions, sweep counts."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api import ID, AwareDateTime, MoneyField, PageArgs, allowed_actions_field
from app.security import current_user
from app.supervision.models import VIOLATION_ACTIONS, Outcome, ViolationState
from app.violations import SEVERITIES, registered_rules


def _label(case) -> str:
    spec = registered_rules().get(case.rule)
    return spec.label if spec else case.rule


class ViolationEventSchema(Schema):
    from_state = fields.String(allow_none=True)
    to_state = fields.String(attribute="to_state", data_key="state")
    at = AwareDateTime()
    actor_id = fields.Integer(allow_none=True)
    comment = fields.String()
    data = fields.Dict()


class ViolationSchema(Schema):
    id = fields.Integer()
    rule = fields.String()
    rule_label = fields.Function(_label)
    rule_version = fields.Integer()
    severity = fields.String()
    state = fields.String()
    outcome = fields.String(allow_none=True)
    unit_id = fields.Integer()
    unit_name = fields.String(attribute="unit.name")
    trip_id = fields.Integer(allow_none=True)
    vehicle_id = fields.Integer(allow_none=True)
    subject = fields.String()
    occurred_at = AwareDateTime()
    detected_at = AwareDateTime()
    facts = fields.Dict()
    explanation = fields.String()
    close_comment = fields.String()
    closed_at = AwareDateTime(allow_none=True)
    allowed_actions = allowed_actions_field(
        VIOLATION_ACTIONS, lambda case: case.allowed_actions(current_user()),
        "What the caller may do with the case now")


class ViolationDetailSchema(ViolationSchema):
    history = fields.List(fields.Nested(ViolationEventSchema), attribute="events")


class ViolationListArgs(PageArgs):
    state = fields.Enum(ViolationState, by_value=True)
    rule = fields.String(validate=validate.Length(min=1, max=40))
    unit_id = fields.Integer(validate=ID)
    from_ = AwareDateTime(data_key="from")
    to = AwareDateTime()


class ExplainSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CloseSchema(Schema):
    outcome = fields.Enum(Outcome, by_value=True, required=True)
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class SweepCountSchema(Schema):
    found = fields.Integer()
    new = fields.Integer()


class SweepResultSchema(Schema):
    rules = fields.Dict(keys=fields.String(), values=fields.Nested(SweepCountSchema))
    new = fields.Integer()


class RuleSchema(Schema):
    code = fields.String()
    label = fields.String()
    description = fields.String()
    version = fields.Integer()
    params = fields.Dict()
    severity = fields.String()
    enabled = fields.Boolean()


class RuleVersionBody(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    params = fields.Dict(keys=fields.String())
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    enabled = fields.Boolean()
    note = fields.String(load_default="", validate=validate.Length(max=200))


class RuleListSchema(Schema):
    items = fields.List(fields.Nested(RuleSchema))


# --- reports -------------------------------------------------------------------------------

# Years 2000–2099, like every time the API takes.
PERIOD = validate.Regexp(r"^20\d{2}-(0[1-9]|1[0-2])$", error="月份格式应为 YYYY-MM（2000–2099 年）")
QUARTER = validate.Regexp(r"^20\d{2}Q[1-4]$", error="季度格式应为 YYYYQn，如 2026Q4")
YEAR = validate.Range(min=2000, max=2099, error="年份应在 2000 至 2099 之间")


def _km(**kw):
    return fields.Decimal(as_string=True, places=1, **kw)


def _share(**kw):
    return fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "A fraction with four decimals (\"0.3500\" is 35 %); null when the base is 0"},
        **kw)


class ReportArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(
        ["json", "xlsx"], error="格式应为 json 或 xlsx"))
    unit_id = fields.Integer(validate=ID)


class UtilisationArgs(ReportArgs):
    year = fields.Integer(validate=YEAR)


class PeriodOrYearArgs(ReportArgs):
    period = fields.String(validate=PERIOD)
    year = fields.Integer(validate=YEAR)


class MonthRangeArgs(ReportArgs):
    from_ = fields.String(data_key="from", validate=PERIOD)
    to = fields.String(validate=PERIOD)


class QuarterArgs(Schema):
    quarter = fields.String(required=True, validate=QUARTER)


class RecallSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class UtilisationRowSchema(Schema):
    vehicle_id = fields.Integer()
    plate = fields.String()
    vehicle_class = fields.String()
    energy_type = fields.String()
    nev = fields.Boolean()
    placement = fields.String(metadata={"enum": ["pooled", "stationed"]})
    unit_id = fields.Integer()
    unit_name = fields.String()
    status = fields.String()
    km = _km()
    days_in_service = fields.Integer()
    threshold_km = _km()
    below_threshold = fields.Boolean()
    recall_candidate = fields.Boolean()


class UtilisationTotalsSchema(Schema):
    vehicles = fields.Integer()
    km = _km()
    below_threshold = fields.Integer()
    recall_candidates = fields.Integer()


class UtilisationSchema(Schema):
    year = fields.Integer()
    threshold_km_per_year = _km()
    items = fields.List(fields.Nested(UtilisationRowSchema))
    totals = fields.Nested(UtilisationTotalsSchema)


class NevTotalsSchema(Schema):
    vehicles = fields.Integer()
    nev_vehicles = fields.Integer()
    vehicle_share = _share()
    km = _km()
    nev_km = _km()
    km_share = _share()


class NevRowSchema(NevTotalsSchema):
    """One unit's figures: the totals' fields, per unit."""
    unit_id = fields.Integer()
    unit_name = fields.String()
    region_code = fields.String()


class NevRegionSchema(NevTotalsSchema):
    region_code = fields.String()


class NevShareSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    items = fields.List(fields.Nested(NevRowSchema))
    regions = fields.List(fields.Nested(NevRegionSchema))
    totals = fields.Nested(NevTotalsSchema)


class SavingsTotalsSchema(Schema):
    trips = fields.Integer()
    market_reference = MoneyField()
    charged = MoneyField()
    savings = MoneyField()
    savings_rate = _share()


class SavingsRowSchema(SavingsTotalsSchema):
    """One unit's month: the totals' fields, per unit and month."""
    unit_id = fields.Integer()
    unit_name = fields.String()
    month = fields.String()


class SavingsSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    items = fields.List(fields.Nested(SavingsRowSchema))
    totals = fields.Nested(SavingsTotalsSchema)


class SpendRowSchema(Schema):
    unit_id = fields.Integer()
    unit_name = fields.String()
    channel = fields.String()
    supplier = fields.String()
    month = fields.String()
    trips = fields.Integer()
    amount = MoneyField()


class SpendTotalsSchema(Schema):
    trips = fields.Integer()
    amount = MoneyField()


class SpendSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    items = fields.List(fields.Nested(SpendRowSchema))
    totals = fields.Nested(SpendTotalsSchema)


class ListedUnitSchema(Schema):
    unit_id = fields.Integer()
    unit_name = fields.String()
    trips = fields.Integer()
    upheld_violations = fields.Integer()


class QuarterListSchema(Schema):
    quarter = fields.String()
    published = fields.Boolean()
    published_at = AwareDateTime(allow_none=True)
    positive = fields.List(fields.Nested(ListedUnitSchema))
    negative = fields.List(fields.Nested(ListedUnitSchema))


class RecalledVehicleSchema(Schema):
    id = fields.Integer()
    plate = fields.String()
    placement = fields.Function(lambda v: "pooled" if v.pooled else "stationed")
    unit_id = fields.Integer()


class VisitorSavingsArgs(PeriodOrYearArgs):
    partner_id = fields.Integer(validate=ID)
    direction = fields.String(load_default="inbound", validate=validate.OneOf(
        ["inbound", "outbound"], error="方向应为 inbound（来访）或 outbound（外出）"),
        metadata={"description": "inbound: partner cities' travellers on our fleet; "
                                 "outbound: ours on partner fleets"})


class VisitorSavingsTotalsSchema(SavingsTotalsSchema):
    km = _km(allow_none=True, metadata={"description": "null outbound"})


class VisitorSavingsRowSchema(VisitorSavingsTotalsSchema):
    """One partner city's month: its travellers' trips on our fleet."""
    partner_id = fields.Integer()
    partner_code = fields.String()
    partner_name = fields.String()
    city = fields.String()
    unit_id = fields.Integer(allow_none=True, metadata={
        "description": "The local unit standing for the partner (inbound; null outbound)"})
    month = fields.String()


class VisitorSavingsSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    direction = fields.String()
    items = fields.List(fields.Nested(VisitorSavingsRowSchema))
    totals = fields.Nested(VisitorSavingsTotalsSchema)
