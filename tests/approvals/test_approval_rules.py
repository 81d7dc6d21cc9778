"""Who may act on a task: self-approval, outsiders, delegates, and racing approvers."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import requests

from tests.approvals.conftest import TO_NANJING


def test_the_applicant_never_approves_their_own_trip(flow):
    # demo-approver applies: their unit has no other approver, so the city's approver gets it
    trip_id = flow.submitted("demo-approver")
    assert flow.inbox("demo-approver") == []
    task = flow.task_of("demo-city-approver", trip_id)
    resp = flow.approve("demo-approver", task["id"])
    assert resp.status_code == 403 and resp.get_json()["code"] == "self_approval"
    # not even as a delegate of the real approver
    flow.api.post("/delegations", as_="demo-city-approver", json={
        "delegate_id": flow.user_id("demo-approver"),
        "starts_at": flow.now.isoformat(), "ends_at": (flow.now + timedelta(days=3)).isoformat()})
    assert flow.inbox("demo-approver") == []
    resp = flow.approve("demo-approver", task["id"])
    assert resp.status_code == 403 and resp.get_json()["code"] == "self_approval"
    assert flow.approve("demo-city-approver", task["id"]).status_code == 200


def test_platform_approver_applying_is_left_out_of_their_own_step(flow):
    flow.add_user("platform-2", "常州市", ["platform_approver"], "13900009902")
    flow.add_user("pa-traveler", "常州市发展和改革委员会", ["traveler", "platform_approver"],
                  "13900009903")
    trip_id = flow.submitted("pa-traveler", stops=TO_NANJING)
    flow.approve("demo-approver", flow.task_of("demo-approver", trip_id)["id"])
    assert flow.inbox("pa-traveler") == []
    assert flow.task_of("platform-2", trip_id)["step"] == 2


def test_outsiders_get_404_and_in_scope_non_assignees_403(flow):
    trip_id = flow.submitted(stops=TO_NANJING)
    task = flow.task_of("demo-approver", trip_id)
    # another district's approver: cannot even see it
    resp = flow.approve("demo-approver-2", task["id"])
    assert resp.status_code == 404
    assert flow.api.get(f"/approvals/{task['id']}", as_="demo-approver-2").status_code == 404
    # the city approver sees the trip (scope) but is not on step 1
    resp = flow.approve("demo-city-approver", task["id"])
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_assignee"
    # the platform approver is only on step 2, not yet open
    assert flow.approve("demo-platform-approver", task["id"]).status_code == 403
    assert flow.approve("demo-traveler-2", task["id"]).status_code == 404
    assert flow.approve("demo-approver", 999999).status_code == 404
    assert flow.trip(trip_id)["state"] == "pending_approval"


def test_delegate_sees_and_acts_during_the_range_and_history_says_b_for_a(flow):
    approver, deputy = flow.user_id("demo-approver"), flow.user_id("demo-traveler-2")
    # out of the approver's scope (another district): refused
    resp = flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": (flow.now + timedelta(days=1)).isoformat()})
    assert resp.status_code == 422 and resp.get_json()["code"] == "invalid_delegate"
    deputy = flow.add_user("deputy", "常州市发展和改革委员会", ["traveler"], "13900009904")
    resp = flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": flow.now.isoformat()})
    assert resp.status_code == 422
    assert flow.api.post("/delegations", as_="demo-traveler", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": (flow.now + timedelta(days=1)).isoformat()}).status_code == 403
    start = flow.now + timedelta(hours=1)
    resp = flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=1)).isoformat()})
    assert resp.status_code == 201, resp.get_json()
    assert len(flow.api.get("/delegations", as_="deputy").get_json()["items"]) == 1

    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    assert flow.inbox("deputy") == []  # not yet in range: the task is not theirs to see
    assert flow.approve("deputy", task["id"]).status_code == 404

    flow.later(hours=2)
    assert [t["id"] for t in flow.inbox("deputy")] == [task["id"]]
    resp = flow.approve("deputy", task["id"], "代李华审批")
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["decided_by_id"], body["on_behalf_of_id"]) == (deputy, approver)
    last = flow.trip(trip_id)["history"][-1]
    assert (last["state"], last["actor_id"], last["on_behalf_of_id"]) == ("approved", deputy, approver)

    flow.later(days=2)  # the range is over
    later_trip = flow.submitted()
    later_task = flow.task_of("demo-approver", later_trip)
    assert flow.inbox("deputy") == []
    assert flow.approve("deputy", later_task["id"]).status_code == 404


def test_new_tasks_are_also_sent_to_an_active_delegate(flow):
    deputy = flow.add_user("deputy", "常州市发展和改革委员会", ["traveler"], "13900009905")
    flow.api.post("/delegations", as_="demo-approver", json={
        "delegate_id": deputy, "starts_at": flow.now.isoformat(),
        "ends_at": (flow.now + timedelta(days=1)).isoformat()})
    flow.submitted()
    flow.run("notifications.send")
    assert len(flow.messages("demo-approver")) == 1 and len(flow.messages("deputy")) == 1


def test_all_step_needs_every_member(flow):
    flow.add_user("second-approver", "常州市发展和改革委员会", ["approver"], "13900009906")
    resp = flow.api.post("/admin/policies", as_="demo-admin", json={
        "effective_from": flow.now.isoformat(), "note": "会签试点",
        "rules": {"steps": [{"key": "leaders", "name": "领导会签", "approvers": "unit",
                             "mode": "all", "when": []}]}})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["version"] == 1 and resp.get_json()["in_force"] is True
    trip_id = flow.submitted()
    assert flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()[
        "policy_version"] == 1
    flow.approve("demo-approver", flow.task_of("demo-approver", trip_id)["id"])
    assert flow.trip(trip_id)["state"] == "pending_approval"
    flow.approve("second-approver", flow.task_of("second-approver", trip_id)["id"])
    assert flow.trip(trip_id)["state"] == "approved"


def test_two_approvers_racing_on_an_any_step_make_one_decision(flow, live_server):
    flow.add_user("second-approver", "常州市发展和改革委员会", ["approver"], "13900009907")
    trip_id = flow.submitted(stops=TO_NANJING)
    tasks = {who: flow.task_of(who, trip_id)["id"] for who in ("demo-approver", "second-approver")}
    tokens = {who: flow.api.login(who) for who in tasks}
    barrier = Barrier(len(tasks))

    def act(who):
        barrier.wait()
        return requests.post(f"{live_server}/api/v1/approvals/{tasks[who]}/approve",
                             json={"comment": who},
                             headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=30)

    with ThreadPoolExecutor(len(tasks)) as pool:
        statuses = sorted(r.status_code for r in pool.map(act, tasks))
    assert statuses == [200, 409]
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    states = sorted(t["state"] for t in approval["steps"][0]["tasks"])
    assert states == ["approved", "cancelled"]
    assert approval["steps"][0]["state"] == "approved"
    assert len(approval["steps"][1]["tasks"]) == 1  # step 2 opened exactly once
    history = flow.trip(trip_id)["history"]
    assert [e["action"] for e in history].count("approval:approved") == 1


def test_the_platform_step_goes_to_platform_users_only(flow):
    """Issue 12 #1: a platform_approver role held outside the root unit (granted by a unit
    admin before grants were checked) receives and decides no platform-step task."""
    flow.add_user("rogue-approver", "武进区市场监督管理局", ["traveler", "platform_approver"],
                  "13900009904")
    trip_id = flow.submitted(stops=TO_NANJING)
    flow.approve("demo-approver", flow.task_of("demo-approver", trip_id)["id"])
    task = flow.task_of("demo-platform-approver", trip_id)
    assert task["step"] == 2
    assert flow.inbox("rogue-approver") == []
    assert flow.approve("rogue-approver", task["id"]).status_code == 404
    assert flow.trip(trip_id)["state"] == "pending_approval"
