"""Supervision routes: cases (list, detail, explain, close), the sweep, rule versions."""
from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from marshmallow import RAISE
from sqlalchemy import select

from app import db
from app.accounts.models import Role, Unit
from app.api import blueprint, page_schema, paginate
from app.errors import NotFound
from app.security import current_user, platform_admin, roles_required
from app.supervision import service
from app.supervision.models import Violation
from app.supervision.schemas import (CloseSchema, ExplainSchema, RuleListSchema, RuleSchema,
                                     RuleVersionBody, SweepResultSchema, ViolationDetailSchema,
                                     ViolationListArgs, ViolationSchema)

blp = blueprint("supervision", "/supervision", "Violations (违规线索) and their cases")
admin_blp = blueprint("violation-rules", "/admin", "Violation rules as versioned data")


@blp.route("/violations")
# A misspelt filter is an error, not a silently wider list.
@blp.arguments(ViolationListArgs, location="query", unknown=RAISE)
@blp.response(200, page_schema(ViolationSchema))
def list_violations(args):
    """Cases newest first: supervisors see all, unit approvers and admins their subtree's;
    ``from``/``to`` bound when it happened."""
    user = current_user()
    stmt = select(Violation)
    visible = service.visible_filter(user)
    if visible is not None:
        stmt = stmt.where(visible)
    if args.get("unit_id") is not None:
        unit = db.session.get(Unit, args["unit_id"])
        if unit is None:
            raise NotFound("单位不存在")
        stmt = stmt.where(Violation.unit_id.in_(select(Unit.id).where(Unit.path.startswith(unit.path))))
    if args.get("state") is not None:
        stmt = stmt.where(Violation.state == args["state"])
    if args.get("rule"):
        stmt = stmt.where(Violation.rule == args["rule"])
    if args.get("from_") is not None:
        stmt = stmt.where(Violation.occurred_at >= args["from_"])
    if args.get("to") is not None:
        stmt = stmt.where(Violation.occurred_at < args["to"])
    return paginate(stmt, Violation.id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/violations/<int:violation_id>")
@blp.response(200, ViolationDetailSchema)
def get_violation(violation_id):
    """One case with its history."""
    return service.get_case(db.session, current_user(), violation_id)


@blp.route("/violations/<int:violation_id>/explain", methods=["POST"])
@blp.arguments(ExplainSchema)
@blp.response(200, ViolationDetailSchema)
def explain(data, violation_id):
    """The unit's approver or admin explains an open case."""
    return service.explain(db.session, actor=current_user(), violation_id=violation_id,
                           text=data["text"])


@blp.route("/violations/<int:violation_id>/close", methods=["POST"])
@blp.arguments(CloseSchema)
@blp.response(200, ViolationDetailSchema)
def close(data, violation_id):
    """A supervisor closes the case: upheld or dismissed."""
    return service.close(db.session, actor=current_user(), violation_id=violation_id,
                         outcome=data["outcome"].value, comment=data["comment"])


@blp.route("/sweep", methods=["POST"])
@roles_required(Role.SUPERVISOR, Role.ADMIN)
@blp.response(200, SweepResultSchema)
def sweep():
    """Run the daily sweep now; idempotent (a re-run finds the same and adds nothing)."""
    db.begin_write()
    counts = service.sweep(db.session)
    return {"rules": counts, "new": sum(c["new"] for c in counts.values())}


def _rule_out(rule: service.RuleInForce) -> dict:
    out = asdict(rule)
    out["params"] = {k: str(v) if isinstance(v, Decimal) else v for k, v in rule.params.items()}
    return out


@admin_blp.route("/violation-rules", methods=["GET"])
@roles_required(Role.ADMIN, Role.SUPERVISOR)
@admin_blp.response(200, RuleListSchema)
def list_rules():
    """Every rule with the version in force (version 0: the built-in defaults)."""
    return {"items": [_rule_out(r) for r in service.rules_in_force(db.session)]}


@admin_blp.route("/violation-rules", methods=["POST"])
@platform_admin
@admin_blp.arguments(RuleVersionBody)
@admin_blp.response(201, RuleSchema)
def publish_rule(data):
    """Publish a new version of one rule: params, severity, on/off (omitted: unchanged)."""
    rule = service.publish_rule(db.session, actor=current_user(), code=data["code"],
                                params=data.get("params"), severity=data.get("severity"),
                                enabled=data.get("enabled"), note=data["note"])
    return _rule_out(rule)
