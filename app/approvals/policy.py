"""Approval rules as data and the pure routing over them (SPEC §4). No database here.

A policy is ``{"steps": [step, ...]}``; each step is
``{"key", "name", "approvers": "unit" | "platform", "mode": "any" | "all", "when": [cond, ...]}``
and is required when ``when`` is empty or any of its conditions holds. Conditions:
``{"type": "cross_region"}``, ``{"type": "estimate_at_least", "amount": "1000.00"}``,
``{"type": "vehicle_class_in", "classes": ["minibus", "bus"]}``, ``{"type": "non_workday"}``.

A policy may also carry ``"requote": {"max_increase_pct": "10", "max_increase_amount":
"50.00"}``: how much more than the approved estimate a provider's new price (asked again at
booking because the locked one expired) may be and still be booked without the traveler;
both bounds must hold. Without it, the defaults below apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.approvals.calendar import PrcCalendar

APPROVER_SOURCES = ("unit", "platform")
MODES = ("any", "all")
CONDITIONS = ("cross_region", "estimate_at_least", "vehicle_class_in", "non_workday")

DEFAULT_RULES: dict = {"steps": [
    {"key": "unit", "name": "单位审批", "approvers": "unit", "mode": "any", "when": []},
    {"key": "platform", "name": "平台审批", "approvers": "platform", "mode": "any", "when": [
        {"type": "cross_region"},
        {"type": "estimate_at_least", "amount": "1000.00"},
        {"type": "vehicle_class_in", "classes": ["minibus", "bus"]},
        {"type": "non_workday"},
    ]},
]}


DEFAULT_REQUOTE = {"max_increase_pct": "10", "max_increase_amount": "50.00"}
DEFAULT_RULES["requote"] = dict(DEFAULT_REQUOTE)


@dataclass(frozen=True)
class RequoteTolerance:
    """A new price is booked when it is at most ``max_increase_pct`` % AND at most
    ``max_increase_amount`` yuan above the approved estimate (cheaper always is)."""

    max_increase_pct: Decimal
    max_increase_amount: Decimal

    def allows(self, approved: Decimal, new: Decimal) -> bool:
        increase = new - approved
        return (increase <= approved * self.max_increase_pct / 100
                and increase <= self.max_increase_amount)

    def as_dict(self) -> dict:
        return {"max_increase_pct": str(self.max_increase_pct),
                "max_increase_amount": str(self.max_increase_amount)}


def requote_tolerance(rules: dict) -> RequoteTolerance:
    """The re-quote tolerance of a policy (the defaults where it states none)."""
    data = {**DEFAULT_REQUOTE, **(rules.get("requote") or {})}
    return RequoteTolerance(Decimal(str(data["max_increase_pct"])),
                            Decimal(str(data["max_increase_amount"])))


@dataclass(frozen=True)
class ApprovalFacts:
    """What routing looks at, taken from a trip at submit."""

    cross_region: bool
    estimate: Decimal
    vehicle_class: str | None
    depart_date: date  # Asia/Shanghai calendar date of the departure


@dataclass(frozen=True)
class StepPlan:
    key: str
    name: str
    approvers: str
    mode: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Routing:
    steps: list[StepPlan]
    # The non-workday rule was judged by the Monday–Friday fallback (no official data).
    calendar_unknown: bool


def _condition_reason(cond: dict, facts: ApprovalFacts, calendar: PrcCalendar) -> tuple[str | None, bool]:
    """(the reason when ``cond`` holds, whether the calendar was unknown)."""
    kind = cond["type"]
    if kind == "cross_region":
        return ("cross_region" if facts.cross_region else None), False
    if kind == "estimate_at_least":
        amount = Decimal(cond["amount"])
        return (f"estimate_at_least:{amount}" if facts.estimate >= amount else None), False
    if kind == "vehicle_class_in":
        hit = facts.vehicle_class is not None and facts.vehicle_class in cond["classes"]
        return (f"vehicle_class:{facts.vehicle_class}" if hit else None), False
    if kind == "non_workday":
        verdict = calendar.verdict(facts.depart_date)
        return ("non_workday" if not verdict.workday else None), not verdict.known
    raise ValueError(f"unknown condition {kind!r}")


def route(rules: dict, facts: ApprovalFacts, calendar: PrcCalendar) -> Routing:
    """The steps a trip with ``facts`` must pass under ``rules``, in order, with why."""
    steps: list[StepPlan] = []
    unknown = False
    for step in rules["steps"]:
        reasons: list[str] = []
        for cond in step.get("when", []):
            reason, cond_unknown = _condition_reason(cond, facts, calendar)
            unknown = unknown or cond_unknown
            if reason:
                reasons.append(reason)
            if cond_unknown:
                reasons.append("calendar_unknown")
        if step.get("when") and not any(r != "calendar_unknown" for r in reasons):
            continue
        steps.append(StepPlan(key=step["key"], name=step["name"], approvers=step["approvers"],
                              mode=step["mode"], reasons=tuple(reasons or ["always"])))
    return Routing(steps=steps, calendar_unknown=unknown)
