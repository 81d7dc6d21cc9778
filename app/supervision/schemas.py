"""Wire shapes of supervision: cases, their history, rule versions, sweep counts."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api import ID, AwareDateTime, PageArgs, allowed_actions_field
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
