"""The approval workflow over the API: submit, inbox, approve, reject, withdraw, two steps."""
from datetime import timedelta

import pytest

from tests.approvals.conftest import TO_NANJING


def test_in_city_trip_is_approved_by_the_unit_approver_who_got_a_wechat_message(flow):
    trip_id = flow.submitted()
    trip = flow.trip(trip_id)
    assert trip["state"] == "pending_approval" and trip["estimate"] == "120.00"
    assert trip["channel"] == "fleet" and trip["vehicle_class"] == "sedan"

    task = flow.task_of("demo-approver", trip_id)
    assert task["step"] == 1 and task["state"] == "pending" and task["step_mode"] == "any"
    assert task["trip"]["applicant_name"] == "张明" and task["trip"]["destination"] == "武进区政府"
    assert flow.inbox("demo-platform-approver") == []

    assert flow.run("notifications.send")["notifications.send"] == 1
    (msg,) = flow.messages("demo-approver")
    assert msg["page"] == f"pages/approval/detail?task_id={task['id']}"
    assert msg["template_id"] == "tmpl-approval-task"
    assert msg["data"]["time2"]["value"] == "2026-12-02 09:00"
    assert msg["data"]["phrase4"]["value"] == "待审批"
    assert msg["data"]["thing1"]["value"] == "市政府常务会议"

    resp = flow.approve("demo-approver", task["id"], "同意用车")
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
    trip = flow.trip(trip_id)
    assert trip["state"] == "approved"
    last = trip["history"][-1]
    assert (last["state"], last["actor_id"], last["comment"]) == (
        "approved", flow.user_id("demo-approver"), "同意用车")
    assert flow.inbox("demo-approver") == []
    assert [t["id"] for t in flow.inbox("demo-approver", "approved")] == [task["id"]]


def test_cross_region_trip_needs_the_platform_approver_too(flow):
    trip_id = flow.submitted(stops=TO_NANJING)
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    assert [s["key"] for s in approval["steps"]] == ["unit", "platform"]
    assert approval["steps"][1]["reasons"] == ["cross_region"]
    assert approval["steps"][1]["state"] == "waiting"

    assert flow.approve("demo-approver", flow.task_of("demo-approver", trip_id)["id"]).status_code == 200
    assert flow.trip(trip_id)["state"] == "pending_approval"
    task = flow.task_of("demo-platform-approver", trip_id)
    assert task["step"] == 2 and task["step_key"] == "platform"
    flow.run("notifications.send")
    assert len(flow.messages("demo-platform-approver")) == 1

    assert flow.approve("demo-platform-approver", task["id"]).status_code == 200
    trip = flow.trip(trip_id)
    assert trip["state"] == "approved"
    actions = [e["action"] for e in trip["history"]]
    assert actions.count("approval:approved") == 2


@pytest.mark.parametrize("over, reason", [
    ({"price": "1000.00"}, "estimate_at_least:1000.00"),
    ({"vehicle_class": "minibus"}, "vehicle_class:minibus"),
])
def test_costly_or_large_trips_get_the_platform_step(flow, over, reason):
    trip_id = flow.submitted(**over)
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    assert approval["steps"][1]["reasons"] == [reason]


def test_weekend_departure_needs_platform_and_2027_is_marked_calendar_unknown(flow):
    saturday = flow.submitted(depart_at=flow.now + timedelta(days=4))  # 2026-12-05
    steps = flow.api.get(f"/trips/{saturday}/approval", as_="demo-traveler").get_json()["steps"]
    assert steps[1]["reasons"] == ["non_workday"]

    monday_2027 = flow.submitted(depart_at=flow.now.replace(year=2027, month=1, day=4))
    approval = flow.api.get(f"/trips/{monday_2027}/approval", as_="demo-traveler").get_json()
    assert approval["calendar_unknown"] is True and len(approval["steps"]) == 1


def test_admin_calendar_entry_decides_a_2027_date(flow):
    resp = flow.api.post("/admin/calendar", as_="demo-admin",
                         json={"date": "2027-01-04", "kind": "holiday", "note": "元旦调休"})
    assert resp.status_code == 200, resp.get_json()
    verdict = flow.api.get("/admin/calendar/2027-01-04", as_="demo-admin").get_json()
    assert verdict == {"date": "2027-01-04", "workday": False, "known": True, "source": "admin"}
    assert flow.api.get("/admin/calendar/2027-01-05", as_="demo-admin").get_json()["known"] is False
    listed = flow.api.get("/admin/calendar?year=2027", as_="demo-admin").get_json()["items"]
    assert listed == [{"date": "2027-01-04", "kind": "holiday", "note": "元旦调休"}]

    trip_id = flow.submitted(depart_at=flow.now.replace(year=2027, month=1, day=4))
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    assert approval["calendar_unknown"] is False
    assert approval["steps"][1]["reasons"] == ["non_workday"]
    assert flow.api.post("/admin/calendar", as_="demo-traveler",
                         json={"date": "2027-01-04", "kind": "holiday"}).status_code == 403


def test_reject_ends_the_workflow_and_cancels_the_other_tasks(flow):
    flow.add_user("second-approver", "常州市发展和改革委员会", ["approver"], "13900009901")
    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    other = flow.task_of("second-approver", trip_id)
    assert flow.reject("demo-approver", task["id"]).status_code == 200
    trip = flow.trip(trip_id)
    assert trip["state"] == "rejected" and trip["history"][-1]["comment"] == "不符合规定"
    assert flow.api.get(f"/approvals/{other['id']}", as_="second-approver").get_json()["state"] \
        == "cancelled"
    assert flow.approve("second-approver", other["id"]).status_code == 409


def test_reject_needs_a_reason(flow):
    trip_id = flow.submitted()
    task = flow.task_of("demo-approver", trip_id)
    resp = flow.api.post(f"/approvals/{task['id']}/reject", as_="demo-approver", json={})
    assert resp.status_code == 422 and "reason" in resp.get_json()["errors"]
    resp = flow.api.post(f"/approvals/{task['id']}/reject", as_="demo-approver",
                         json={"reason": ""})
    assert resp.status_code == 422


def test_acting_twice_is_idempotent_and_the_opposite_decision_is_409(flow):
    trip_id = flow.submitted(stops=TO_NANJING)
    task = flow.task_of("demo-approver", trip_id)
    first = flow.approve("demo-approver", task["id"])
    again = flow.approve("demo-approver", task["id"])
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    flipped = flow.reject("demo-approver", task["id"])
    assert flipped.status_code == 409 and flipped.get_json()["code"] == "already_decided"
    history = flow.trip(trip_id)["history"]
    assert [e["action"] for e in history].count("approval:approved") == 1


def test_withdraw_until_final_approval(flow):
    trip_id = flow.submitted()
    resp = flow.api.post(f"/trips/{trip_id}/withdraw", as_="demo-traveler",
                         json={"reason": "会议取消"})
    assert resp.status_code == 200 and resp.get_json()["state"] == "withdrawn"
    assert flow.inbox("demo-approver") == []
    approved = flow.submitted()
    flow.approve("demo-approver", flow.task_of("demo-approver", approved)["id"])
    resp = flow.api.post(f"/trips/{approved}/withdraw", as_="demo-traveler", json={"reason": "x"})
    assert resp.status_code == 409
    resp = flow.api.post(f"/trips/{approved}/withdraw", as_="demo-traveler-2", json={"reason": "x"})
    assert resp.status_code == 404


@pytest.mark.parametrize("over, code", [
    ({"offer_ttl": timedelta(seconds=-1)}, "offer_expired"),
    ({"compliant": False, "reasons": ["网约车仅限经济型、舒适型"]}, "offer_not_compliant"),
])
def test_submit_refuses_bad_offers(flow, over, code):
    trip_id, offer_id = flow.quoted_trip(**over)
    resp = flow.api.post(f"/trips/{trip_id}/submit", as_="demo-traveler", json={"offer_id": offer_id})
    body = resp.get_json()
    assert resp.status_code == 422 and body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    if code == "offer_not_compliant":
        assert body["errors"]["reasons"] == ["网约车仅限经济型、舒适型"]
    assert flow.trip(trip_id)["state"] == "quoted"


def test_submit_refuses_another_trips_offer_and_other_peoples_trips(flow):
    trip_a, _ = flow.quoted_trip()
    _, offer_b = flow.quoted_trip()
    resp = flow.api.post(f"/trips/{trip_a}/submit", as_="demo-traveler", json={"offer_id": offer_b})
    assert resp.status_code == 422 and resp.get_json()["code"] == "offer_not_found"
    trip_c, offer_c = flow.quoted_trip("demo-traveler-2")
    resp = flow.api.post(f"/trips/{trip_c}/submit", as_="demo-traveler", json={"offer_id": offer_c})
    assert resp.status_code == 404


def test_submit_twice_is_409(flow):
    trip_id, offer_id = flow.quoted_trip()
    assert flow.api.post(f"/trips/{trip_id}/submit", as_="demo-traveler",
                         json={"offer_id": offer_id}).status_code == 200
    again = flow.api.post(f"/trips/{trip_id}/submit", as_="demo-traveler", json={"offer_id": offer_id})
    assert again.status_code == 409


def test_emergency_trip_is_dispatchable_at_submit(flow):
    trip_id, offer_id = flow.quoted_trip(purpose="emergency", text="防汛抢险")
    resp = flow.api.post(f"/trips/{trip_id}/submit", as_="demo-traveler", json={"offer_id": offer_id})
    assert resp.get_json()["dispatchable"] is True
    normal = flow.submitted()
    assert flow.api.get(f"/trips/{normal}/approval", as_="demo-traveler").get_json()[
        "dispatchable"] is False
