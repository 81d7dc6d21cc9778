from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import clock
from app.accounts.models import VehicleClass
from app.api import ID, AwareDateTime, List, MoneyField, PageArgs, allowed_actions_field
from app.approvals.models import TASK_ACTIONS, DayKind, TaskState
from app.approvals.policy import APPROVER_SOURCES, CONDITIONS, MODES
from app.security import current_user
from app.trips.schemas import TripSchema


class SubmitSchema(Schema):
    offer_id = fields.Integer(required=True, validate=ID)


class WithdrawSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class ApproveSchema(Schema):
    comment = fields.String(load_default="", validate=validate.Length(max=500))


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500,
                                                                   error="请填写驳回理由"))


class TripSummarySchema(Schema):
    """What an approver needs to see in the inbox list."""

    id = fields.Integer()
    state = fields.Function(lambda t: str(t.state))
    applicant_name = fields.Function(lambda t: t.applicant.name)
    unit_name = fields.Function(lambda t: t.unit.name)
    purpose = fields.Function(lambda t: {"category": str(t.purpose_category),
                                         "text": t.purpose_text})
    origin = fields.Function(lambda t: t.stops[0]["name"] if t.stops else None)
    destination = fields.Function(lambda t: t.stops[-1]["name"] if t.stops else None)
    depart_at = AwareDateTime()
    return_at = AwareDateTime()
    passenger_count = fields.Integer()
    vehicle_class = fields.Function(lambda t: str(t.vehicle_class) if t.vehicle_class else None)
    channel = fields.Function(lambda t: str(t.channel) if t.channel else None)
    estimate = MoneyField(allow_none=True)
    cross_region = fields.Boolean()
    emergency = fields.Boolean()


class TaskSchema(Schema):
    id = fields.Integer()
    trip_id = fields.Integer()
    step = fields.Function(lambda t: t.step.seq)
    step_key = fields.Function(lambda t: t.step.key)
    step_name = fields.Function(lambda t: t.step.name)
    step_mode = fields.Function(lambda t: str(t.step.mode))
    state = fields.Function(lambda t: str(t.state))
    assignee_id = fields.Integer()
    escalated = fields.Boolean()
    created_at = AwareDateTime()
    decided_at = AwareDateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    on_behalf_of_id = fields.Integer(allow_none=True)
    comment = fields.String()
    allowed_actions = allowed_actions_field(
        TASK_ACTIONS, lambda t: t.allowed_actions(current_user()),
        "What the caller may do with the task now: approve and reject while it is pending "
        "and the caller is its assignee or their active delegate")
    trip = fields.Nested(TripSummarySchema)


class StepTaskSchema(TaskSchema):
    class Meta:
        exclude = ("trip",)


class InboxArgs(PageArgs):
    state = fields.String(load_default="pending",
                          validate=validate.OneOf([s.value for s in TaskState] + ["all"]))


class StepSchema(Schema):
    seq = fields.Integer()
    key = fields.String()
    name = fields.String()
    mode = fields.Function(lambda s: str(s.mode))
    state = fields.Function(lambda s: str(s.state))
    reasons = fields.List(fields.String())
    activated_at = AwareDateTime(allow_none=True)
    decided_at = AwareDateTime(allow_none=True)
    escalated_at = AwareDateTime(allow_none=True)
    tasks = fields.List(fields.Nested(StepTaskSchema))


class WorkflowSchema(Schema):
    id = fields.Integer()
    trip_id = fields.Integer()
    state = fields.Function(lambda w: str(w.state))
    policy_version = fields.Integer()
    calendar_unknown = fields.Boolean()
    submitted_at = AwareDateTime()
    decided_at = AwareDateTime(allow_none=True)
    flagged_at = AwareDateTime(allow_none=True)
    dispatchable = fields.Function(lambda w: w.trip.dispatchable)
    steps = fields.List(fields.Nested(StepSchema))


class SubmittedTripSchema(TripSchema):
    dispatchable = fields.Function(lambda trip: trip.dispatchable)


class DelegationSchema(Schema):
    id = fields.Integer(dump_only=True)
    delegator_id = fields.Integer(dump_only=True)
    delegate_id = fields.Integer(required=True, validate=ID)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    revoked_at = AwareDateTime(dump_only=True, allow_none=True)
    active = fields.Function(lambda d: d.revoked_at is None
                             and d.starts_at <= clock.now() < d.ends_at, dump_only=True)


# --- admin: policies and calendar ----------------------------------------------------------

class ConditionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    amount = MoneyField()
    classes = List(fields.String(validate=validate.OneOf([c.value for c in VehicleClass])),
                   validate=validate.Length(min=1, max=len(VehicleClass)))

    @validates_schema
    def _params(self, data, **kwargs):
        if data["type"] == "estimate_at_least" and "amount" not in data:
            raise ValidationError("请填写金额", "amount")
        if data["type"] == "vehicle_class_in" and "classes" not in data:
            raise ValidationError("请选择车型", "classes")


class PolicyStepSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    approvers = fields.String(required=True, validate=validate.OneOf(APPROVER_SOURCES))
    mode = fields.String(load_default="any", validate=validate.OneOf(MODES))
    when = List(fields.Nested(ConditionSchema), load_default=list,
                validate=validate.Length(max=len(CONDITIONS)))


class RequoteToleranceSchema(Schema):
    """How far a re-quoted price may exceed the approved estimate and still be booked."""

    max_increase_pct = fields.Decimal(required=True, as_string=True, places=2,
                                      validate=validate.Range(min=0, max=100))
    max_increase_amount = MoneyField(required=True, validate=validate.Range(min=0, max=100000))


class PolicyRulesSchema(Schema):
    steps = List(fields.Nested(PolicyStepSchema), required=True,
                 validate=validate.Length(min=1, max=5, error="审批环节须为1至5个"))
    requote = fields.Nested(RequoteToleranceSchema, metadata={
        "description": "Re-quote at booking: a new price at most this much above the approved "
                       "estimate (both bounds) is booked; beyond it the trip goes back to the "
                       "traveler. Default 10 % and 50.00 yuan"})

    @validates_schema
    def _unique_keys(self, data, **kwargs):
        keys = [s["key"] for s in data["steps"]]
        if len(keys) != len(set(keys)):
            raise ValidationError("环节标识不能重复", "steps")


class PolicySchema(Schema):
    id = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)
    effective_from = AwareDateTime(required=True)
    rules = fields.Nested(PolicyRulesSchema, required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))
    created_by_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)
    in_force = fields.Boolean(dump_only=True)


class CurrentPolicySchema(PolicySchema):
    """The rules in force now; whence they apply is not stated here (see the versions)."""

    effective_from = AwareDateTime(allow_none=True)


class CalendarDaySchema(Schema):
    date = fields.Date(required=True, attribute="day", data_key="date")
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in DayKind]))
    note = fields.String(load_default="", validate=validate.Length(max=100))


class CalendarArgs(Schema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class DayVerdictSchema(Schema):
    date = fields.Date()
    workday = fields.Boolean()
    known = fields.Boolean()
    source = fields.String()
