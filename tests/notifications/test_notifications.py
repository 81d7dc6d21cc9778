"""SPEC §10 over real HTTP to the WeChat sandbox: every message lands in the message
centre; WeChat gets one per grant; plates are fitted; 45009/40226 are not retried."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import Driver, Vehicle
from app.notifications.jobs import MAX_ATTEMPTS, backoff
from app.notifications.models import OutboxMessage, SubscriptionGrant
from tests.factories import ok


def send_all(flow):
    return flow.run("notifications.send")["notifications.send"]


def messages(api, openid, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return ok(api.get(f"/me/messages?{qs}", as_=openid))


def approved_fleet_trip(flow) -> int:
    trip_id = flow.submitted()
    ok(flow.approve("demo-approver", flow.task_of("demo-approver", trip_id)["id"]))
    return trip_id


def test_a_traveler_with_one_grant_gets_one_wechat_message_and_the_rest_in_the_centre(
        flow, api, grant, wechat, drive):
    grant("demo-traveler", "trip_result", "vehicle_assigned")
    trip_id = approved_fleet_trip(flow)                       # approved: spends trip_result
    drive(trip_id, until="dispatched")                        # assigned: spends vehicle_assigned
    ok(api.post(f"/trips/{trip_id}/cancel", as_="demo-dispatcher",
                json={"reason": "会议取消"}))                  # cancelled: no grant left
    send_all(flow)

    delivered = wechat.received("demo-traveler")
    assert [m["template_id"] for m in delivered] == ["tmpl-trip-result", "tmpl-vehicle-assigned"]
    assert delivered[0]["data"]["phrase2"]["value"] == "已通过"
    page = messages(api, "demo-traveler")
    assert [(m["kind"], m["wechat"]) for m in page["items"]] == [
        ("trip_result", False), ("vehicle_assigned", True), ("trip_result", True)]
    assert page["items"][0]["data"]["结果"] == "已取消"
    assert page["items"][0]["data"]["说明"] == "会议取消"
    assert page["unread_count"] == 3
    assert all(m["link"] == f"pages/trip/detail?id={trip_id}" for m in page["items"])


def test_only_one_wechat_message_per_grant_even_for_many_events(flow, api, grant, wechat):
    grant("demo-traveler", "trip_result")
    for _ in range(3):
        trip_id = flow.submitted()
        ok(flow.reject("demo-approver", flow.task_of("demo-approver", trip_id)["id"],
                       reason="超出标准"))
    send_all(flow)
    assert len(wechat.received("demo-traveler")) == 1
    page = messages(api, "demo-traveler")
    assert len(page["items"]) == 3 and page["unread_count"] == 3
    assert {m["data"]["结果"] for m in page["items"]} == {"已驳回"}
    subs = ok(api.get("/me/subscriptions", as_="demo-traveler"))
    assert {t["key"]: t["remaining"] for t in subs["templates"]}["trip_result"] == 0


def test_a_plate_with_the_middle_dot_never_reaches_wechat(flow, api, grant, wechat, drive,
                                                          fleet, in_db):
    vehicle_id = fleet["sedans"][0]["id"]
    with in_db() as s:
        s.execute(update(Vehicle).where(Vehicle.id == vehicle_id).values(plate="苏D·T0001"))
    grant("demo-traveler", "vehicle_assigned")
    grant("demo-driver", "driver_task")
    trip_id = approved_fleet_trip(flow)
    drive(trip_id, vehicle_id=vehicle_id, until="dispatched")
    send_all(flow)

    (sent,) = wechat.received("demo-traveler")
    assert sent["data"]["car_number1"]["value"] == "苏DT0001"
    assert sent["data"]["name2"]["value"] == "钱进"
    with in_db() as s:
        phone = s.get(Driver, fleet["drivers"]["钱进"]).phone
    assert sent["data"]["phone_number3"]["value"] == phone
    assert wechat.refused() == []
    (shown,) = messages(api, "demo-traveler")["items"][:1]
    assert shown["data"]["车牌号"] == "苏D·T0001"  # the centre keeps the plate as printed
    (task,) = wechat.received("demo-driver")
    assert task["data"]["phrase1"]["value"] == "新任务"
    assert task["page"] == f"pages/driver/tasks?trip_id={trip_id}"


@pytest.mark.parametrize("errcode", [45009, 40226])
def test_daily_quota_and_blocked_user_are_not_retried(errcode, flow, api, grant, wechat):
    grant("demo-traveler", "trip_result", times=2)
    wechat.send_error(errcode, "demo-traveler", times=1)
    approved_fleet_trip(flow)
    send_all(flow)
    rows = [r for r in flow.outbox() if r.touser == "demo-traveler"]
    assert [(str(r.state), r.attempts) for r in rows] == [("failed", 1)]
    assert str(errcode) in rows[0].last_error
    for attempt in range(1, MAX_ATTEMPTS + 1):  # long after every retry would have been due
        flow.later(seconds=backoff(attempt).total_seconds() + 1)
        send_all(flow)
    rows = [r for r in flow.outbox() if r.touser == "demo-traveler"]
    assert [(str(r.state), r.attempts) for r in rows] == [("failed", 1)]
    assert wechat.received("demo-traveler") == []
    assert len(messages(api, "demo-traveler")["items"]) == 1


def test_a_transient_error_is_retried(flow, api, grant, wechat):
    grant("demo-traveler", "trip_result")
    wechat.send_error(-1, "demo-traveler", times=1)
    approved_fleet_trip(flow)
    send_all(flow)
    flow.later(seconds=backoff(1).total_seconds())
    send_all(flow)
    assert len(wechat.received("demo-traveler")) == 1


def test_43101_means_the_user_holds_no_grant_any_more(flow, api, grant, wechat, app):
    from app import db

    grant("demo-traveler", "trip_result", times=3)
    wechat.send_error(43101, "demo-traveler", times=1)  # the user cancelled in WeChat
    approved_fleet_trip(flow)
    send_all(flow)
    with app.app_context():
        left = db.session.scalar(select(SubscriptionGrant.remaining).where(
            SubscriptionGrant.template_id == "tmpl-trip-result"))
        db.session.remove()
    assert left == 0


def test_driver_is_told_of_a_change_and_of_the_cancellation(flow, api, grant, wechat, drive,
                                                            fleet):
    grant("demo-driver", "driver_task", times=3)
    trip_id = approved_fleet_trip(flow)
    drive(trip_id, until="dispatched")
    ok(api.post(f"/trips/{trip_id}/reassign", as_="demo-dispatcher",
                json={"reason": "换车", "vehicle_id": fleet["sedans"][1]["id"]}))
    ok(api.post(f"/trips/{trip_id}/cancel", as_="demo-traveler", json={"reason": "不去了"}))
    send_all(flow)
    phrases = [m["data"]["phrase1"]["value"] for m in wechat.received("demo-driver")]
    assert phrases == ["新任务", "任务变更", "任务取消"]
    traveler = messages(api, "demo-traveler")["items"]
    # the traveler cancelled: no "cancelled" notice to them; the new plate was told
    assert [m["kind"] for m in traveler] == ["vehicle_assigned", "vehicle_assigned",
                                             "trip_result"]
    assert traveler[0]["data"]["车牌号"] == fleet["sedans"][1]["plate"]


def test_approvers_hear_of_tasks_and_reminders_in_the_centre(flow, api):
    trip_id = flow.submitted()
    flow.later(hours=2, minutes=1)
    flow.run("approvals.remind")
    page = messages(api, "demo-approver")
    assert [m["kind"] for m in page["items"]] == ["approval_reminder", "approval_task"]
    assert page["items"][0]["data"]["状态"] == "审批催办"
    task = flow.task_of("demo-approver", trip_id)
    assert page["items"][1]["link"] == f"pages/approval/detail?task_id={task['id']}"


def test_please_confirm_after_the_run(flow, api, drive):
    trip_id = approved_fleet_trip(flow)
    drive(trip_id)
    kinds = [m["kind"] for m in messages(api, "demo-traveler")["items"]]
    assert kinds[0] == "trip_confirm" and kinds.count("trip_confirm") == 1
