"""The violation rule registry (core): the supervision rules of one app (常态化监管).

A rule is data (its parameters, severity and on/off switch are admin-versioned by
supervision) plus code: a ``find`` function that looks at the facts of its own domain and
yields ``Finding``s. Any domain registers its rules in its ``init_app(app)`` — supervision
its trip, charge and approval rules, vehicle positions theirs (``route_deviation``, …) —
and supervision runs them all on the same machinery: the daily sweep calls every enabled
rule's ``find`` over everything; a domain that learns something new (a finished run, a
position) calls ``check(session, ...)`` to have the rules run over just that subject.
Recording is idempotent: one violation per (rule, subject), so re-running adds nothing.

This module sits in the core so that a domain below supervision can register and check
without importing it; supervision subscribes to ``VIOLATION_CHECK`` and does the work.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from flask import Flask, current_app

from app import events

EXTENSION = "otb.violation_rules"
GROUPS = "otb.violation_rule_groups"
VIOLATION_CHECK = "violation_check"
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Scope:
    """What a ``find`` looks at: everything (the sweep) or only the given trips or vehicles."""

    trip_ids: tuple[int, ...] | None = None
    vehicle_ids: tuple[int, ...] | None = None

    @property
    def everything(self) -> bool:
        return self.trip_ids is None and self.vehicle_ids is None


@dataclass(frozen=True)
class Finding:
    """One rule firing on one subject (``"trip:12"``, ``"vehicle:3:2026-12-01"``): the unit
    whose case it is, when it happened, and the facts a reader needs to judge it."""

    rule: str
    subject: str
    unit_id: int
    occurred_at: datetime
    facts: Mapping[str, Any] = field(default_factory=dict)
    trip_id: int | None = None
    vehicle_id: int | None = None


# ``find(session, params, scope, now) -> Iterable[Finding]``; ``params`` are the version in force.
Find = Callable[..., Iterable[Finding]]
# ``find_all(session, params_by_rule, scope, now) -> Iterable[Finding]``: several rules over
# the same facts in one pass (e.g. every rule about finished runs reads each run once).
FindAll = Callable[..., Iterable[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    """A rule's code, Chinese label, default severity and parameters, and its finder.

    ``params`` are the defaults; an admin's version must give the same keys, each of the
    default's type (int, Decimal or "HH:MM" text)."""

    code: str
    label: str
    severity: str
    params: Mapping[str, Any]
    find: Find | None
    description: str = ""
    # Rules of one group are found together by the group's ``FindAll`` (``find`` unused).
    group: str | None = None


def register_rule(app: Flask, spec: RuleSpec) -> None:
    """Make ``spec`` one of the app's violation rules (registering a code again replaces it)."""
    if spec.severity not in SEVERITIES:
        raise ValueError(f"unknown severity {spec.severity!r}")
    if (spec.find is None) == (spec.group is None):
        raise ValueError(f"rule {spec.code!r} needs either find or group")
    app.extensions.setdefault(EXTENSION, {})[spec.code] = spec


def register_group(app: Flask, name: str, find_all: FindAll) -> None:
    """The finder of the rules whose ``group`` is ``name``: called once per run with the
    params of each of its enabled rules."""
    app.extensions.setdefault(GROUPS, {})[name] = find_all


def registered_groups(app: Flask | None = None) -> dict[str, FindAll]:
    return (app or current_app).extensions.get(GROUPS, {})


def registered_rules(app: Flask | None = None) -> dict[str, RuleSpec]:
    """The app's rules by code, in registration order."""
    return (app or current_app).extensions.get(EXTENSION, {})


def check(session, *, trip_ids: Iterable[int] = (), vehicle_ids: Iterable[int] = ()) -> list:
    """Run the enabled rules over these trips or vehicles now, in the caller's transaction
    (supervision records what they find; nothing happens in an app without supervision)."""
    scope = Scope(trip_ids=tuple(trip_ids) or None, vehicle_ids=tuple(vehicle_ids) or None)
    if scope.everything:
        return []
    return events.publish(session, VIOLATION_CHECK, scope=scope)
