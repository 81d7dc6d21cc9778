"""Workflow, step and task share one state-machine shape: illegal moves are refused, every
move is audited, and each task read says what the caller may do with it (allowed_actions)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import db
from app.approvals.models import (ApprovalStep, ApprovalTask, StepState, TaskState, Workflow,
                                  WorkflowState)
from app.audit import AuditEntry
from app.errors import IllegalTransition
from tests.approvals.conftest import TO_NANJING


def _moves(flow, entity: str, entity_id: int) -> list[tuple[str, str, int | None, int | None]]:
    """(action, from, actor, on behalf of) of the audited state changes of one object."""
    with flow.app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == entity, AuditEntry.entity_id == entity_id,
            AuditEntry.action.like("state:%")).order_by(AuditEntry.id)).all()
        db.session.remove()
    return [(r.action, r.data["from"], r.actor_id, r.on_behalf_of_id) for r in rows]


def test_pending_task_offers_approve_and_reject_to_its_approver_only(flow):
    trip_id = flow.submitted(stops=TO_NANJING)
    task = flow.task_of("demo-approver", trip_id)
    assert task["allowed_actions"] == ["approve", "reject"]
    assert flow.api.get(f"/approvals/{task['id']}", as_="demo-approver").get_json()[
        "allowed_actions"] == ["approve", "reject"]
    # in scope but not on the step: sees the task, may do nothing with it
    seen = flow.api.get(f"/approvals/{task['id']}", as_="demo-city-approver").get_json()
    assert seen["state"] == "pending" and seen["allowed_actions"] == []
    # the applicant reading the workflow: the same task, no actions
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    assert [t["allowed_actions"] for t in approval["steps"][0]["tasks"]] == [[]]

    assert flow.approve("demo-approver", task["id"]).status_code == 200
    (decided,) = flow.inbox("demo-approver", "approved")
    assert decided["allowed_actions"] == []
    # step 2 opened: the platform approver may act now, the unit approver may not
    platform_task = flow.task_of("demo-platform-approver", trip_id)
    assert platform_task["allowed_actions"] == ["approve", "reject"]
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-approver").get_json()
    assert [t["allowed_actions"] for t in approval["steps"][1]["tasks"]] == [[]]


def test_an_active_delegate_is_offered_the_actions_of_the_assignee(flow):
    deputy = flow.add_user("deputy", "常州市发展和改革委员会", ["traveler"], "13900009921")
    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    assert flow.api.get(f"/approvals/{task['id']}", as_="deputy").status_code == 404
    resp = flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": (flow.now + timedelta(hours=2)).isoformat()})
    assert resp.status_code == 201
    assert flow.task_of("deputy", trip_id)["allowed_actions"] == ["approve", "reject"]
    flow.later(hours=3)  # the delegation has ended
    assert flow.inbox("deputy") == []
    assert flow.task_of("demo-approver", trip_id)["allowed_actions"] == ["approve", "reject"]


def test_decisions_are_audited_as_moves_of_task_step_and_workflow(flow):
    approver = flow.user_id("demo-approver")
    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    assert flow.approve("demo-approver", task["id"], "同意").status_code == 200
    with flow.app.app_context():
        wf = db.session.scalar(select(Workflow).where(Workflow.trip_id == trip_id))
        wf_id, step_id = wf.id, wf.steps[0].id
        db.session.remove()
    assert _moves(flow, "approval_tasks", task["id"]) == [
        ("state:approved", "pending", approver, None)]
    assert _moves(flow, "approval_steps", step_id) == [
        ("state:pending", "waiting", None, None), ("state:approved", "pending", approver, None)]
    assert _moves(flow, "approval_workflows", wf_id) == [
        ("state:approved", "pending", approver, None)]


def test_the_opposite_decision_is_refused_with_409_and_changes_nothing(flow):
    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    assert flow.reject("demo-approver", task["id"]).status_code == 200
    resp = flow.approve("demo-approver", task["id"])
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_decided"
    assert [a for a, *_ in _moves(flow, "approval_tasks", task["id"])] == ["state:rejected"]
    assert flow.trip(trip_id)["state"] == "rejected"


def test_withdrawing_cancels_open_steps_and_tasks_by_legal_moves(flow):
    traveler = flow.user_id("demo-traveler")
    trip_id = flow.submitted(stops=TO_NANJING)
    task = flow.task_of("demo-approver", trip_id)
    resp = flow.api.post(f"/trips/{trip_id}/withdraw", as_="demo-traveler", json={"reason": "改期"})
    assert resp.status_code == 200
    assert _moves(flow, "approval_tasks", task["id"]) == [
        ("state:cancelled", "pending", traveler, None)]
    with flow.app.app_context():
        wf = db.session.scalar(select(Workflow).where(Workflow.trip_id == trip_id))
        assert wf.state == WorkflowState.WITHDRAWN
        assert [s.state for s in wf.steps] == [StepState.CANCELLED, StepState.CANCELLED]
        waiting_step = wf.steps[1].id
        db.session.remove()
    assert _moves(flow, "approval_steps", waiting_step) == [
        ("state:cancelled", "waiting", traveler, None)]


@pytest.mark.parametrize("model, state, to", [
    # approved → pending is legal since issue 12 #8b (re-approval of a new price)
    (Workflow, WorkflowState.REJECTED, WorkflowState.PENDING),
    (ApprovalStep, StepState.WAITING, StepState.APPROVED),
    (ApprovalTask, TaskState.CANCELLED, TaskState.APPROVED),
])
def test_illegal_moves_are_refused(model, state, to):
    obj = model(state=state)
    assert not obj.can_transition(to)
    with pytest.raises(IllegalTransition) as err:
        obj.transition(None, to, actor_id=None)
    assert err.value.status == 409 and obj.state == state


def test_allowed_actions_are_in_the_openapi_document(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Task", "StepTask"):
        field = schemas[name]["properties"]["allowed_actions"]
        assert field["type"] == "array" and field["items"]["enum"] == ["approve", "reject"]
