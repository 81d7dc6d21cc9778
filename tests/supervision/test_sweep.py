"""The sweep over charges, approvals and runs; concurrent sweeps; the lifecycle-event path."""
import threading
from datetime import timedelta
from decimal import Decimal

import requests
from sqlalchemy import func, select

from app import clock, db, violations
from app.approvals.models import ApprovalStep, StepMode, Workflow, WorkflowState
from app.supervision.models import Violation
from app.trips.models import Purpose, Trip, TripState
from tests import factories
from tests.dispatch.conftest import T0
from tests.factories import ok


def _sweep(api) -> dict:
    return ok(api.post("/supervision/sweep", "demo-supervisor"))


def _found(in_db) -> dict[str, list[Violation]]:
    with in_db() as s:
        rows = s.scalars(select(Violation).order_by(Violation.id)).all()
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(row.rule, []).append(row)
    return out


def test_bills_over_the_ceiling_or_the_estimate(api, make_trip, in_db, now):
    rental = make_trip(state=TripState.COMPLETED, channel="rental")
    capped = make_trip(state=TripState.COMPLETED, channel="rental")
    fare = make_trip(state=TripState.COMPLETED, channel="ridehail")
    fair = make_trip(state=TripState.COMPLETED, channel="ridehail")
    with in_db() as s:
        for trip_id, total, channel, ceiling, estimate in [
                (rental, "450.00", "rental", "425.00", None),
                (capped, "425.00", "rental", "425.00", None),
                (fare, "60.01", "ridehail", None, "50.00"),
                (fair, "60.00", "ridehail", None, "50.00")]:
            charge = factories.charge(s, trip=s.get(Trip, trip_id), total=total, channel=channel,
                                      supplier="sandbox")
            charge.ceiling = Decimal(ceiling) if ceiling else None
            charge.estimate = Decimal(estimate) if estimate else None
    counts = _sweep(api)
    assert counts["rules"]["over_ceiling_bill"] == {"found": 1, "new": 1}
    assert counts["rules"]["fare_over_estimate"] == {"found": 1, "new": 1}
    found = _found(in_db)
    assert [v.trip_id for v in found["over_ceiling_bill"]] == [rental]
    assert found["over_ceiling_bill"][0].facts == {"total": "450.00", "ceiling": "425.00",
                                                    "excess": "25.00", "supplier": "sandbox"}
    assert [v.trip_id for v in found["fare_over_estimate"]] == [fare]
    assert _sweep(api)["new"] == 0


def _workflow(s, trip_id: int, *, submitted_at, state=WorkflowState.PENDING, decided_at=None,
              platform=False) -> Workflow:
    wf = Workflow(trip_id=trip_id, state=state, policy_version=0, policy_rules={},
                  submitted_at=submitted_at, decided_at=decided_at)
    wf.steps = [ApprovalStep(seq=1, key="unit", name="单位审批", approvers="unit",
                             mode=StepMode.ANY, state="approved")]
    if platform:
        wf.steps.append(ApprovalStep(seq=2, key="platform", name="平台审批",
                                     approvers="platform", mode=StepMode.ANY, state="approved"))
    s.add(wf)
    return wf


def test_emergency_trips_without_approval_after_24_hours(api, make_trip, in_db, now,
                                                          frozen_clock):
    late = make_trip(state=TripState.PENDING_APPROVAL, purpose=Purpose.EMERGENCY)
    in_time = make_trip(state=TripState.APPROVED, purpose=Purpose.EMERGENCY)
    ordinary = make_trip(state=TripState.PENDING_APPROVAL)
    with in_db() as s:
        _workflow(s, late, submitted_at=T0 - timedelta(hours=25))
        _workflow(s, in_time, submitted_at=T0 - timedelta(hours=30), state=WorkflowState.APPROVED,
                  decided_at=T0 - timedelta(hours=10))
        _workflow(s, ordinary, submitted_at=T0 - timedelta(hours=48))
    assert _sweep(api)["rules"]["emergency_unapproved"] == {"found": 1, "new": 1}
    assert [v.trip_id for v in _found(in_db)["emergency_unapproved"]] == [late]


def test_a_night_run_needs_a_platform_step(api, make_trip, drive, fleet, in_db, travel):
    night = T0 + timedelta(hours=13, minutes=30)  # 21:30 Beijing time
    plain = make_trip(depart_at=night, hours=1.5, est_distance_km=Decimal("30"))
    approved = make_trip(depart_at=night, hours=1.5, est_distance_km=Decimal("30"))
    with in_db() as s:
        _workflow(s, plain, submitted_at=T0, state=WorkflowState.APPROVED, decided_at=T0)
        _workflow(s, approved, submitted_at=T0, state=WorkflowState.APPROVED, decided_at=T0,
                  platform=True)
    travel(night - timedelta(minutes=30))
    drive(plain, vehicle_id=fleet["sedans"][0]["id"], start_km=str(fleet["sedans"][0]["odometer_km"]))
    travel(night - timedelta(minutes=30))
    drive(approved, vehicle_id=fleet["sedans"][1]["id"],
          start_km=str(fleet["sedans"][1]["odometer_km"]))
    assert [v.trip_id for v in _found(in_db)["off_hours"]] == [plain]


def test_a_violation_check_from_another_domain(app, api, make_trip, drive, fleet, in_db):
    start = fleet["sedans"][0]["odometer_km"] + 10
    trip_id = make_trip(est_distance_km=Decimal("32.8"))
    ok(api.post("/admin/violation-rules", "demo-admin",
                json={"code": "odometer_gap", "enabled": False}), 201)
    drive(trip_id, start_km=str(start))
    ok(api.post("/admin/violation-rules", "demo-admin",
                json={"code": "odometer_gap", "enabled": True}), 201)
    with app.app_context():
        (elsewhere,) = violations.check(db.session, trip_ids=[trip_id + 1000])
        assert {c["found"] for c in elsewhere.values()} == {0}
        (counts,) = violations.check(db.session, trip_ids=[trip_id])
        db.session.commit()
    assert counts["odometer_gap"] == {"found": 1, "new": 1}
    assert [v.trip_id for v in _found(in_db)["odometer_gap"]] == [trip_id]


def test_concurrent_sweeps_record_each_case_once(app, live_server, demo, committed_db):
    with app.app_context():
        s = db.session
        user = demo["users"]["demo-traveler"]
        from app.accounts.models import User
        unit_id = s.get(User, user).unit_id
        for n in range(30):
            trip = factories.trip(s, applicant_id=user, unit_id=unit_id, channel="ridehail",
                                  state=TripState.COMPLETED, depart_at=clock.now() - timedelta(days=2))
            charge = factories.charge(s, trip=trip, total="80.00", channel="ridehail",
                                      supplier="sandbox")
            charge.estimate = Decimal("50.00")
        s.commit()
        token = _token(live_server)
    answers: list = []

    def sweep():
        answers.append(requests.post(f"{live_server}/api/v1/supervision/sweep",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=60))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200] * 4
    assert sum(r.json()["rules"]["fare_over_estimate"]["new"] for r in answers) == 30
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Violation)) == 30
        db.session.remove()


def _token(base: str) -> str:
    resp = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": "sandbox:demo-supervisor"},
                         timeout=10)
    return resp.json()["access_token"]
