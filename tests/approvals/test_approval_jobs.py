"""Time-driven approval work and the WeChat outbox, with a frozen clock and run_due()."""
from datetime import timedelta

import pytest
import requests

from app.notifications.jobs import MAX_ATTEMPTS


def _set_subscriptions(flow, touser, count):
    requests.post(f"{flow.wechat_url}/__sandbox/subscriptions", timeout=5, json={
        "touser": touser, "template_id": "tmpl-approval-task", "count": count})


def test_reminder_after_two_hours_once(flow):
    trip_id = flow.submitted()
    flow.run("notifications.send")
    flow.later(hours=1, minutes=59)
    assert flow.run("approvals.remind")["approvals.remind"] == 0
    flow.later(minutes=2)
    assert flow.run("approvals.remind")["approvals.remind"] == 1
    assert flow.run("approvals.remind")["approvals.remind"] == 0  # once per task
    flow.run("notifications.send")
    first, reminder = flow.messages("demo-approver")
    assert reminder["data"]["phrase4"]["value"] == "审批催办"
    assert reminder["page"] == first["page"]
    assert flow.trip(trip_id)["state"] == "pending_approval"


def test_escalation_after_four_hours_adds_the_parent_units_approvers(flow):
    trip_id = flow.submitted()
    flow.run("notifications.send")
    flow.later(hours=3, minutes=59)
    assert flow.run("approvals.escalate")["approvals.escalate"] == 0
    assert flow.inbox("demo-city-approver") == []
    flow.later(minutes=2)
    assert flow.run("approvals.escalate")["approvals.escalate"] == 1
    assert flow.run("approvals.escalate")["approvals.escalate"] == 0
    task = flow.task_of("demo-city-approver", trip_id)
    assert task["escalated"] is True and task["step"] == 1
    flow.run("notifications.send")
    assert len(flow.messages("demo-city-approver")) == 1
    history = flow.trip(trip_id)["history"]
    assert history[-1]["action"] == "approval:escalated"
    assert flow.approve("demo-city-approver", task["id"]).status_code == 200
    assert flow.trip(trip_id)["state"] == "approved"
    assert flow.inbox("demo-approver") == []


def test_departure_passing_without_final_approval_expires_the_trip(flow):
    trip_id = flow.submitted(depart_at=flow.now + timedelta(hours=6))
    approved = flow.submitted(depart_at=flow.now + timedelta(hours=6))
    flow.approve("demo-approver", flow.task_of("demo-approver", approved)["id"])
    task = flow.task_of("demo-approver", trip_id)
    flow.later(hours=5, minutes=59)
    assert flow.run("approvals.expire")["approvals.expire"] == 0
    flow.later(minutes=1)
    assert flow.run("approvals.expire")["approvals.expire"] == 1
    trip = flow.trip(trip_id)
    assert trip["state"] == "expired" and trip["history"][-1]["actor_id"] is None
    assert flow.trip(approved)["state"] == "approved"
    assert flow.inbox("demo-approver") == []
    resp = flow.approve("demo-approver", task["id"])
    assert resp.status_code == 409 and resp.get_json()["code"] == "task_closed"


def test_an_emergency_trip_waiting_in_the_queue_does_not_expire_at_departure(flow):
    """Issue 12 #8b: 先用后补 — an emergency trip stays dispatchable after its departure."""
    trip_id = flow.submitted(purpose="emergency", text="防汛抢险",
                             depart_at=flow.now + timedelta(hours=2))
    flow.later(hours=3)
    assert flow.run("approvals.expire")["approvals.expire"] == 0
    assert flow.trip(trip_id)["state"] == "pending_approval"
    queue = flow.api.get("/dispatch/queue", as_="demo-dispatcher").get_json()["items"]
    assert trip_id in [t["id"] for t in queue]
    assert flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()[
        "dispatchable"] is True


def test_emergency_trip_not_approved_within_24_hours_is_flagged(flow):
    trip_id = flow.submitted(purpose="emergency", text="防汛抢险",
                             depart_at=flow.now + timedelta(days=3))
    flow.later(hours=23, minutes=59)
    assert flow.run("approvals.flag_emergency")["approvals.flag_emergency"] == 0
    flow.later(minutes=1)
    assert flow.run("approvals.flag_emergency")["approvals.flag_emergency"] == 1
    assert flow.run("approvals.flag_emergency")["approvals.flag_emergency"] == 0
    approval = flow.api.get(f"/trips/{trip_id}/approval", as_="demo-traveler").get_json()
    assert approval["flagged_at"] is not None and approval["dispatchable"] is True
    assert flow.trip(trip_id)["history"][-1]["action"] == "approval:emergency_overdue"
    # an ordinary trip of the same age is not flagged
    normal = flow.submitted(depart_at=flow.now + timedelta(days=3))
    flow.later(hours=25)
    flow.run("approvals.flag_emergency")
    assert flow.api.get(f"/trips/{normal}/approval", as_="demo-traveler").get_json()[
        "flagged_at"] is None


def test_43101_is_not_retried_and_does_not_block_the_approval(flow):
    _set_subscriptions(flow, "demo-approver", 0)
    try:
        trip_id = flow.submitted()
        assert flow.run("notifications.send")["notifications.send"] == 1
        (row,) = flow.outbox()
        assert (row.state, row.attempts) == ("failed", 1) and "43101" in row.last_error
        flow.later(hours=1)
        assert flow.run("notifications.send")["notifications.send"] == 0
        assert flow.messages("demo-approver") == []
        task = flow.task_of("demo-approver", trip_id)
        assert flow.approve("demo-approver", task["id"]).status_code == 200
        assert flow.trip(trip_id)["state"] == "approved"
    finally:
        _set_subscriptions(flow, "demo-approver", 10 ** 9)


def test_transient_errors_are_retried_with_exponential_backoff(flow):
    requests.post(f"{flow.wechat_url}/__sandbox/faults", timeout=5,
                  json={"fault": "5xx", "path": "/cgi-bin/message", "times": 2})
    flow.submitted()
    assert flow.run("notifications.send")["notifications.send"] == 1
    (row,) = flow.outbox()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == flow.now + timedelta(seconds=30)
    flow.later(seconds=29)
    assert flow.run("notifications.send")["notifications.send"] == 0
    flow.later(seconds=1)
    assert flow.run("notifications.send")["notifications.send"] == 1
    (row,) = flow.outbox()
    assert (row.state, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == flow.now + timedelta(seconds=60)
    flow.later(seconds=60)
    flow.run("notifications.send")
    (row,) = flow.outbox()
    assert (row.state, row.attempts) == ("sent", 3)
    assert len(flow.messages("demo-approver")) == 1


def test_transient_errors_give_up_after_max_attempts(flow):
    requests.post(f"{flow.wechat_url}/__sandbox/faults", timeout=5,
                  json={"fault": "5xx", "path": "/cgi-bin/message"})
    flow.submitted()
    for _ in range(MAX_ATTEMPTS):
        flow.run("notifications.send")
        flow.later(hours=1)
    (row,) = flow.outbox()
    assert (row.state, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert flow.run("notifications.send")["notifications.send"] == 0


def test_a_claimed_row_is_not_sent_twice_and_a_lost_claim_comes_back(flow, app):
    from app import db
    from app.notifications.jobs import LEASE, _claim

    flow.submitted()
    with app.app_context():
        claimed = _claim(db.session(), flow.now)  # a worker that dies after claiming
        db.session.remove()
    assert len(claimed) == 1
    assert flow.run("notifications.send")["notifications.send"] == 0
    flow.later(seconds=LEASE.total_seconds())
    assert flow.run("notifications.send")["notifications.send"] == 1
    assert len(flow.messages("demo-approver")) == 1


def test_approver_without_openid_is_skipped_and_recorded(flow, app):
    from app import db
    from app.accounts.models import User

    user_id = flow.add_user("unbound-approver", "常州市发展和改革委员会", ["approver"],
                            "13900009908")
    with app.app_context():
        db.session.get(User, user_id).openid = None
        db.session.commit()
        db.session.remove()
    flow.submitted()
    states = {r.recipient_id: (r.touser, str(r.state)) for r in flow.outbox()}
    assert states == {user_id: (None, "skipped"),
                      flow.user_id("demo-approver"): ("demo-approver", "pending")}
    flow.run("notifications.send")
    assert len(flow.messages()) == 1


@pytest.mark.usefixtures("committed_db")  # each worker thread has its own transaction
def test_several_workers_send_each_message_once(flow, app):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from app.worker import run_due

    for n in range(4):
        flow.add_user(f"approver-{n}", "常州市发展和改革委员会", ["approver"], f"1390000992{n}")
    flow.submitted()
    flow.submitted()
    barrier = Barrier(3)

    def worker(_):
        with app.app_context():
            barrier.wait()
            return run_due(now=flow.now, names=["notifications.send"])["notifications.send"]

    with ThreadPoolExecutor(3) as pool:
        handled = sum(pool.map(worker, range(3)))
    assert handled == 10
    assert len(flow.messages()) == 10
    assert {str(r.state) for r in flow.outbox()} == {"sent"}


def test_a_worker_killed_mid_batch_resends_nothing_it_had_sent(flow, app, monkeypatch):
    """Each send is recorded as it happens: after a crash only the unsent rows come back."""
    from app import db
    from app.notifications.jobs import LEASE
    from app.worker import run_due
    from providers.wechat import WeChatClient

    for n in range(4):
        flow.add_user(f"approver-{n}", "常州市发展和改革委员会", ["approver"], f"1390000993{n}")
    flow.submitted()
    flow.submitted()
    rows = flow.outbox()
    assert len(rows) == 10
    real_send, sent = WeChatClient.send_subscribe_message, []

    def dies_after_three(self, **kw):
        if len(sent) == 3:
            raise SystemExit("kill -9")  # the process ends mid-batch, nothing more runs
        sent.append(kw["touser"])
        return real_send(self, **kw)

    monkeypatch.setattr(WeChatClient, "send_subscribe_message", dies_after_three)
    with app.app_context(), pytest.raises(SystemExit):
        run_due(now=flow.now, names=["notifications.send"])
    with app.app_context():
        db.session.remove()
    monkeypatch.setattr(WeChatClient, "send_subscribe_message", real_send)
    states = [str(r.state) for r in flow.outbox()]
    assert states.count("sent") == 3 and states.count("sending") == 7
    flow.later(seconds=LEASE.total_seconds())
    assert flow.run("notifications.send")["notifications.send"] == 7
    received = [(m["touser"], m["data"]) for m in flow.messages()]
    assert len(received) == 10
    assert {str(r.state) for r in flow.outbox()} == {"sent"}
