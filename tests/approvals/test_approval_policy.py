"""Approval routing and the PRC calendar: pure functions, table-driven, no database."""
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.approvals.calendar import PrcCalendar
from app.approvals.policy import DEFAULT_RULES, ApprovalFacts, route

WED = date(2026, 12, 2)  # an ordinary workday
SAT = date(2026, 12, 5)
NATIONAL_DAY = date(2026, 10, 1)  # holiday on a Thursday
ADJUSTED_SAT = date(2026, 10, 10)  # 调休: a Saturday that is a working day
MON_2027 = date(2027, 1, 4)  # beyond the package's data
SAT_2027 = date(2027, 1, 9)


def facts(cross=False, estimate="300.00", cls="sedan", day=WED):
    return ApprovalFacts(cross_region=cross, estimate=Decimal(estimate), vehicle_class=cls,
                     depart_date=day)


@pytest.mark.parametrize("trip, steps, platform_reasons, unknown", [
    (facts(), ["unit"], None, False),
    (facts(cross=True), ["unit", "platform"], ["cross_region"], False),
    (facts(estimate="999.99"), ["unit"], None, False),
    (facts(estimate="1000.00"), ["unit", "platform"], ["estimate_at_least:1000.00"], False),
    (facts(cls="mpv"), ["unit"], None, False),
    (facts(cls="minibus"), ["unit", "platform"], ["vehicle_class:minibus"], False),
    (facts(cls="bus"), ["unit", "platform"], ["vehicle_class:bus"], False),
    (facts(cls=None), ["unit"], None, False),
    (facts(day=SAT), ["unit", "platform"], ["non_workday"], False),
    (facts(day=NATIONAL_DAY), ["unit", "platform"], ["non_workday"], False),
    (facts(day=ADJUSTED_SAT), ["unit"], None, False),
    (facts(cross=True, estimate="1500.00", cls="bus", day=SAT), ["unit", "platform"],
     ["cross_region", "estimate_at_least:1000.00", "vehicle_class:bus", "non_workday"], False),
    # 2027: Monday–Friday fallback, and the decision says the calendar was unknown
    (facts(day=MON_2027), ["unit"], None, True),
    (facts(day=SAT_2027), ["unit", "platform"], ["non_workday", "calendar_unknown"], True),
    (facts(cross=True, day=MON_2027), ["unit", "platform"], ["cross_region", "calendar_unknown"],
     True),
])
def test_default_routing(trip, steps, platform_reasons, unknown):
    routing = route(DEFAULT_RULES, trip, PrcCalendar())
    assert [s.key for s in routing.steps] == steps
    assert routing.steps[0].reasons == ("always",) and routing.steps[0].mode == "any"
    if platform_reasons:
        assert list(routing.steps[1].reasons) == platform_reasons
    assert routing.calendar_unknown is unknown


@pytest.mark.parametrize("overrides, day, workday, known, source", [
    ({}, WED, True, True, "package"),
    ({}, SAT, False, True, "package"),
    ({}, ADJUSTED_SAT, True, True, "package"),
    ({}, MON_2027, True, False, "fallback"),
    ({}, SAT_2027, False, False, "fallback"),
    ({MON_2027: "holiday"}, MON_2027, False, True, "admin"),
    ({SAT_2027: "workday"}, SAT_2027, True, True, "admin"),
    ({WED: "holiday"}, WED, False, True, "admin"),  # the admin table overrides the package
])
def test_calendar_sources(overrides, day, workday, known, source):
    verdict = PrcCalendar(overrides).verdict(day)
    assert (verdict.workday, verdict.known, verdict.source) == (workday, known, source)


def test_admin_holiday_in_2027_routes_to_platform_without_unknown_mark():
    routing = route(DEFAULT_RULES, facts(day=MON_2027), PrcCalendar({MON_2027: "holiday"}))
    assert [s.key for s in routing.steps] == ["unit", "platform"]
    assert routing.calendar_unknown is False


def test_custom_policy_all_mode_and_own_threshold():
    rules = {"steps": [
        {"key": "leaders", "name": "会签", "approvers": "unit", "mode": "all", "when": []},
        {"key": "platform", "name": "平台", "approvers": "platform", "mode": "any",
         "when": [{"type": "estimate_at_least", "amount": "500.00"}]},
    ]}
    routing = route(rules, facts(estimate="500.00"), PrcCalendar())
    assert [(s.key, s.mode) for s in routing.steps] == [("leaders", "all"), ("platform", "any")]
    assert route(rules, facts(estimate="499.99"), PrcCalendar()).steps[-1].key == "leaders"
