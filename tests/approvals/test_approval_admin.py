"""Approval policy versions and emergency trips already on the road."""
from datetime import timedelta

import pytest

from app import db
from app.trips.models import Trip, TripState


def _policy(flow, effective_from, steps, as_="demo-admin"):
    return flow.api.post("/admin/policies", as_=as_, json={
        "effective_from": effective_from.isoformat(), "rules": {"steps": steps}})


PLATFORM_ALWAYS = [{"key": "unit", "name": "单位审批", "approvers": "unit", "mode": "any"},
                   {"key": "platform", "name": "平台审批", "approvers": "platform", "mode": "any",
                    "when": [{"type": "estimate_at_least", "amount": "100.00"}]}]


def test_default_policy_is_in_force_until_a_version_is_published(flow):
    current = flow.api.get("/admin/policies/current", as_="demo-admin").get_json()
    assert current["version"] == 0 and [s["key"] for s in current["rules"]["steps"]] == [
        "unit", "platform"]
    assert flow.api.get("/admin/policies", as_="demo-admin").get_json()["items"] == []


def test_a_version_applies_from_its_effective_time_and_is_recorded_on_the_workflow(flow):
    resp = _policy(flow, flow.now + timedelta(days=1), PLATFORM_ALWAYS)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["version"] == 1 and body["in_force"] is False
    assert body["rules"]["steps"][1]["when"] == [{"type": "estimate_at_least", "amount": "100.00"}]

    before = flow.submitted(depart_at=flow.now + timedelta(days=3))
    flow.later(days=1)
    after = flow.submitted(depart_at=flow.now + timedelta(days=2))
    approval = lambda t: flow.api.get(f"/trips/{t}/approval", as_="demo-traveler").get_json()
    assert (approval(before)["policy_version"], len(approval(before)["steps"])) == (0, 1)
    assert (approval(after)["policy_version"], len(approval(after)["steps"])) == (1, 2)
    assert approval(after)["steps"][1]["reasons"] == ["estimate_at_least:100.00"]
    listed = flow.api.get("/admin/policies", as_="demo-admin").get_json()["items"]
    assert [(p["version"], p["in_force"]) for p in listed] == [(1, True)]


def test_policy_validation_and_who_may_publish(flow):
    bad = [
        [],
        [{"key": "unit", "name": "x", "approvers": "nobody", "mode": "any"}],
        [{"key": "unit", "name": "x", "approvers": "unit", "mode": "most"}],
        [{"key": "p", "name": "x", "approvers": "platform", "when": [{"type": "estimate_at_least"}]}],
        [{"key": "p", "name": "x", "approvers": "platform", "when": [{"type": "moon_phase"}]}],
        [{"key": "u", "name": "x", "approvers": "unit"}, {"key": "u", "name": "y", "approvers": "unit"}],
    ]
    for steps in bad:
        resp = _policy(flow, flow.now, steps)
        assert resp.status_code == 422, steps
    assert _policy(flow, flow.now, PLATFORM_ALWAYS, as_="demo-approver").status_code == 403
    assert flow.api.get("/admin/policies", as_="demo-approver").status_code == 403


def _on_the_road(flow, trip_id):
    with flow.app.app_context():
        trip = db.session.get(Trip, trip_id)
        trip.transition(db.session, TripState.DISPATCHED, actor_id=None, comment="应急先行派车")
        db.session.commit()
        db.session.remove()


def test_emergency_trip_dispatched_before_approval_keeps_its_state(flow):
    approved = flow.submitted(purpose="emergency", text="防汛抢险")
    _on_the_road(flow, approved)
    flow.approve("demo-approver", flow.task_of("demo-approver", approved)["id"])
    trip = flow.trip(approved)
    assert trip["state"] == "dispatched" and trip["history"][-1]["action"] == "approval:approved"
    approval = flow.api.get(f"/trips/{approved}/approval", as_="demo-traveler").get_json()
    assert approval["state"] == "approved"

    rejected = flow.submitted(purpose="emergency", text="防汛抢险")
    _on_the_road(flow, rejected)
    flow.reject("demo-approver", flow.task_of("demo-approver", rejected)["id"])
    trip = flow.trip(rejected)
    assert trip["state"] == "dispatched" and trip["history"][-1]["action"] == "approval:rejected"
    # an emergency trip on the road does not expire when its departure passes
    flow.later(days=3)
    flow.run("approvals.expire")
    assert flow.trip(approved)["state"] == "dispatched"


@pytest.mark.parametrize("decision, after", [("approve", "approved"), ("reject", "rejected")])
def test_emergency_trip_unassigned_after_its_decision_takes_the_decision(flow, decision, after):
    """Dispatched before approval, decided on the road, then unassigned: the trip does not go
    back to pending (nobody would decide it again) but to the decision's state."""
    trip_id = flow.submitted(purpose="emergency", text="防汛抢险")
    resp = flow.api.post(f"/trips/{trip_id}/assign", as_="demo-dispatcher", json={})
    assert resp.status_code == 200, resp.get_json()
    getattr(flow, decision)("demo-approver", flow.task_of("demo-approver", trip_id)["id"])
    assert flow.trip(trip_id)["state"] == "dispatched"
    resp = flow.api.post(f"/trips/{trip_id}/unassign", as_="demo-dispatcher",
                         json={"reason": "车辆故障"})
    assert resp.status_code == 200, resp.get_json()
    assert flow.trip(trip_id)["state"] == after
    queue = flow.api.get("/dispatch/queue", as_="demo-dispatcher").get_json()["items"]
    assert (trip_id in {t["id"] for t in queue}) is (after == "approved")


def test_cancelled_trip_closes_its_open_tasks(flow):
    trip_id = flow.submitted()
    with flow.app.app_context():
        trip = db.session.get(Trip, trip_id)
        trip.transition(db.session, TripState.CANCELLED, actor_id=trip.applicant_id)
        db.session.commit()
        db.session.remove()
    assert flow.run("approvals.expire")["approvals.expire"] == 1
    assert flow.inbox("demo-approver") == []
    assert flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()[
        "state"] == "cancelled"


def test_delegation_can_be_revoked_by_the_delegator_only(flow):
    deputy = flow.add_user("deputy", "常州市发展和改革委员会", ["traveler"], "13900009911")
    resp = flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": (flow.now + timedelta(days=1)).isoformat()})
    delegation = resp.get_json()
    assert delegation["active"] is True
    assert flow.api.post(f"/delegations/{delegation['id']}/revoke", as_="deputy").status_code == 403
    assert flow.api.post(f"/delegations/{delegation['id']}/revoke",
                         as_="demo-traveler").status_code == 404
    resp = flow.api.post(f"/delegations/{delegation['id']}/revoke", as_="demo-approver")
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    trip_id = flow.submitted()
    assert flow.inbox("deputy") == []
    assert flow.approve("deputy", flow.task_of("demo-approver", trip_id)["id"]).status_code == 404


def test_openapi_documents_the_approval_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for route in ["/api/v1/trips/{trip_id}/submit", "/api/v1/trips/{trip_id}/withdraw",
                  "/api/v1/approvals", "/api/v1/approvals/{task_id}/approve",
                  "/api/v1/approvals/{task_id}/reject", "/api/v1/delegations",
                  "/api/v1/admin/policies", "/api/v1/admin/calendar"]:
        assert route in paths, route
