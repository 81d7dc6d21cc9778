"""Violations detected from trips driven through the API, and their case workflow."""
from decimal import Decimal

from sqlalchemy import func, select

from app.audit import AuditEntry
from app.notifications.models import OutboxMessage, UserMessage
from app.supervision.models import Violation
from tests import factories
from tests.factories import ok


def cases(api, as_="demo-supervisor", **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return ok(api.get(f"/supervision/violations?{qs}", as_))["items"]


def test_an_overrun_and_an_odometer_gap_are_detected_at_finish(api, make_trip, drive, fleet,
                                                                 in_db, demo, sandboxes):
    # The unit's approver allowed one "violation opened" WeChat message (a single grant).
    factories.grant(api, sandboxes["wechat"].url, "demo-approver", ["tmpl-violation-opened"])
    sedan = fleet["sedans"][0]
    trip_id = make_trip(est_distance_km=Decimal("32.8"))  # the full route, out and back
    start = sedan["odometer_km"] + 10
    drive(trip_id, start_km=str(start), finish_body={
        "odometer_km": str(start + 53), "tolls": "0.00", "parking": "0.00", "lodging": "0.00",
        "waiting_minutes": 0})
    found = {c["rule"]: c for c in cases(api)}
    assert set(found) == {"distance_overrun", "odometer_gap"}
    overrun = found["distance_overrun"]
    assert overrun["trip_id"] == trip_id and overrun["state"] == "open"
    assert overrun["unit_id"] == demo["units"]["常州市发展和改革委员会"]
    assert overrun["facts"] == {"km": "53.0", "estimate_km": "32.8", "extra_km": "20.2"}
    assert found["odometer_gap"]["facts"] == {"gap_km": "10.0"}
    assert found["odometer_gap"]["allowed_actions"] == ["close"]
    with in_db() as s:
        # Both cases reach the approver's message centre; WeChat carries one (one grant).
        told = s.scalars(select(UserMessage).where(UserMessage.kind == "violation_opened")).all()
        assert {m.user_id for m in told} == {demo["users"]["demo-approver"]}
        assert {m.ref for m in told} == {f"violation:{c['id']}" for c in found.values()}
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "violation_opened")).all()
        assert [m.recipient_id for m in sent] == [demo["users"]["demo-approver"]]
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "violations", AuditEntry.action == "state:open")) == 2


def test_within_the_limits_nothing_is_opened(api, make_trip, drive, fleet):
    sedan = fleet["sedans"][0]
    trip_id = make_trip(est_distance_km=Decimal("32.8"))
    start = sedan["odometer_km"] + 4
    drive(trip_id, start_km=str(start), finish_body={
        "odometer_km": str(start + 52), "tolls": "0.00", "parking": "0.00", "lodging": "0.00",
        "waiting_minutes": 0})
    assert cases(api) == []


def _one_case(api, make_trip, drive, fleet) -> dict:
    start = fleet["sedans"][0]["odometer_km"] + 10
    drive(make_trip(est_distance_km=Decimal("32.8")), start_km=str(start))
    (case,) = cases(api, rule="odometer_gap")
    return case


def test_the_unit_explains_and_the_supervisor_closes(api, make_trip, drive, fleet, in_db):
    case = _one_case(api, make_trip, drive, fleet)
    path = f"/supervision/violations/{case['id']}"
    mine = ok(api.get(path, "demo-approver"))
    assert mine["allowed_actions"] == ["explain"]
    assert api.post(f"{path}/explain", "demo-supervisor", json={"text": "x"}).status_code == 403
    assert api.post(f"{path}/close", "demo-approver",
                    json={"outcome": "upheld"}).status_code == 403
    explained = ok(api.post(f"{path}/explain", "demo-approver",
                            json={"text": "上次收车后临时加油，未登记"}))
    assert explained["state"] == "explained" and explained["allowed_actions"] == []
    assert ok(api.get(path, "demo-supervisor"))["allowed_actions"] == ["close"]
    assert api.post(f"{path}/explain", "demo-approver", json={"text": "再说明"}).status_code == 409
    closed = ok(api.post(f"{path}/close", "demo-supervisor",
                         json={"outcome": "dismissed", "comment": "说明属实"}))
    assert closed["state"] == "closed" and closed["outcome"] == "dismissed"
    assert [(h["from_state"], h["state"], h["comment"]) for h in closed["history"]] == [
        (None, "open", ""), ("open", "explained", "上次收车后临时加油，未登记"),
        ("explained", "closed", "说明属实")]
    again = api.post(f"{path}/close", "demo-supervisor", json={"outcome": "upheld"})
    assert again.status_code == 409
    with in_db() as s:
        actions = s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "violations", AuditEntry.entity_id == case["id"])
            .order_by(AuditEntry.id)).all()
    assert actions == ["state:open", "state:explained", "state:closed"]


def test_a_supervisor_closes_an_unexplained_case(api, make_trip, drive, fleet):
    case = _one_case(api, make_trip, drive, fleet)
    closed = ok(api.post(f"/supervision/violations/{case['id']}/close", "demo-supervisor",
                         json={"outcome": "upheld"}))
    assert closed["state"] == "closed" and closed["outcome"] == "upheld"
    assert [c["id"] for c in cases(api, state="closed")] == [case["id"]]
    assert cases(api, state="open") == []


def test_scope_of_cases(api, make_trip, drive, fleet):
    case = _one_case(api, make_trip, drive, fleet)
    path = f"/supervision/violations/{case['id']}"
    assert api.get(path, "demo-approver-2").status_code == 404
    assert cases(api, "demo-approver-2") == []
    assert api.post(f"{path}/explain", "demo-approver-2", json={"text": "x"}).status_code == 404
    assert api.get(path, "demo-traveler").status_code == 403
    assert api.get("/supervision/violations", "demo-traveler").status_code == 403
    assert [c["id"] for c in cases(api, "demo-approver")] == [case["id"]]
    # the platform admin (root unit) sees and may explain every unit's case
    assert ok(api.get(path, "demo-admin"))["allowed_actions"] == ["explain"]


def test_filters_and_bad_filters(api, make_trip, drive, fleet, demo):
    case = _one_case(api, make_trip, drive, fleet)
    unit = demo["units"]["常州市发展和改革委员会"]
    assert [c["id"] for c in cases(api, unit_id=unit)] == [case["id"]]
    assert cases(api, unit_id=demo["units"]["武进区"]) == []
    assert cases(api, rule="off_hours") == []
    occurred = case["occurred_at"].replace("+", "%2B")
    assert [c["id"] for c in cases(api, **{"from": occurred})] == [case["id"]]
    assert cases(api, to=occurred) == []
    for bad in ("colour=red", "state=nope", "from=yesterday", "unit_id=0"):
        resp = api.get(f"/supervision/violations?{bad}", "demo-supervisor")
        assert resp.status_code == 422, bad


def test_sweep_is_idempotent_and_a_rule_change_adds_no_duplicate(api, make_trip, drive, fleet,
                                                                   in_db):
    _one_case(api, make_trip, drive, fleet)
    first = ok(api.post("/supervision/sweep", "demo-supervisor"))
    assert first["new"] == 0 and first["rules"]["odometer_gap"] == {"found": 1, "new": 0}
    ok(api.post("/admin/violation-rules", "demo-admin",
                json={"code": "odometer_gap", "params": {"min_km": "2"}, "severity": "low"}), 201)
    again = ok(api.post("/supervision/sweep", "demo-admin"))
    assert again["new"] == 0
    with in_db() as s:
        assert s.scalar(select(func.count()).select_from(Violation)) == 1
    assert api.post("/supervision/sweep", "demo-approver").status_code == 403


def test_a_rule_switched_off_finds_nothing(api, make_trip, drive, fleet):
    ok(api.post("/admin/violation-rules", "demo-admin",
                json={"code": "odometer_gap", "enabled": False}), 201)
    start = fleet["sedans"][0]["odometer_km"] + 10
    drive(make_trip(est_distance_km=Decimal("32.8")), start_km=str(start))
    assert cases(api, rule="odometer_gap") == []


def test_rule_versions(api):
    rules = {r["code"]: r for r in ok(api.get("/admin/violation-rules", "demo-admin"))["items"]}
    assert set(rules) == {"off_hours", "outside_window", "distance_overrun", "odometer_gap",
                          "implausible_run", "emergency_unapproved", "over_ceiling_bill",
                          "fare_over_estimate",
                          # vehicle positions' rules, on the same machinery
                          "route_deviation", "unassigned_movement", "parked_off_site",
                          "odometer_gps_mismatch"}
    assert rules["route_deviation"]["params"] == {"corridor_km": "3", "min_minutes": 10}
    assert rules["distance_overrun"]["params"] == {"ratio": "1.3", "min_extra_km": "20"}
    assert rules["distance_overrun"]["version"] == 0
    made = ok(api.post("/admin/violation-rules", "demo-admin", json={
        "code": "distance_overrun", "params": {"ratio": "1.5"}, "note": "放宽"}), 201)
    assert made["version"] == 1 and made["params"] == {"ratio": "1.5", "min_extra_km": "20"}
    made = ok(api.post("/admin/violation-rules", "demo-admin", json={
        "code": "distance_overrun", "severity": "high"}), 201)
    assert made["version"] == 2 and made["params"]["ratio"] == "1.5" and made["severity"] == "high"
    for body, field in [({"code": "nope"}, "code"),
                        ({"code": "odometer_gap", "params": {"min_km": 5.5}}, "params"),
                        ({"code": "odometer_gap", "params": {"max": "1"}}, "params"),
                        ({"code": "off_hours", "params": {"night_start": "25:00"}}, "params"),
                        ({"code": "outside_window", "params": {"early_minutes": -1}}, "params"),
                        ({"code": "odometer_gap", "severity": "dire"}, "severity")]:
        resp = api.post("/admin/violation-rules", "demo-admin", json=body)
        assert resp.status_code == 422, body
        assert field in resp.get_json()["errors"], resp.get_json()
    assert api.post("/admin/violation-rules", "demo-supervisor",
                    json={"code": "odometer_gap"}).status_code == 403
