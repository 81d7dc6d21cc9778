"""GET /me/messages, POST /me/messages/read, /me/subscriptions: the caller's own only."""
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from tests.factories import ok


def rejected_trips(flow, n):
    for _ in range(n):
        trip_id = flow.submitted()
        ok(flow.reject("demo-approver", flow.task_of("demo-approver", trip_id)["id"]))


def test_paging_unread_and_mark_read(flow, api):
    rejected_trips(flow, 3)
    first = ok(api.get("/me/messages?limit=2", as_="demo-traveler"))
    assert len(first["items"]) == 2 and first["unread_count"] == 3 and first["next_cursor"]
    rest = ok(api.get(f"/me/messages?limit=2&cursor={first['next_cursor']}",
                      as_="demo-traveler"))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [m["id"] for m in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)

    marked = ok(api.post("/me/messages/read", as_="demo-traveler", json={"ids": ids[:1]}))
    assert marked == {"marked": 1, "unread_count": 2}
    assert ok(api.get("/me/messages/unread", as_="demo-traveler")) == {"unread_count": 2}
    unread = ok(api.get("/me/messages?unread=true", as_="demo-traveler"))["items"]
    assert [m["id"] for m in unread] == ids[1:] and not any(m["read"] for m in unread)
    assert ok(api.post("/me/messages/read", as_="demo-traveler", json={}))["unread_count"] == 0


def test_another_users_messages_are_neither_listed_nor_marked(flow, api):
    rejected_trips(flow, 1)
    (mine,) = ok(api.get("/me/messages", as_="demo-traveler"))["items"]
    other = ok(api.get("/me/messages", as_="demo-dispatcher"))
    assert all(m["id"] != mine["id"] for m in other["items"])
    answer = ok(api.post("/me/messages/read", as_="demo-dispatcher", json={"ids": [mine["id"]]}))
    assert answer["marked"] == 0
    assert ok(api.get("/me/messages/unread", as_="demo-traveler")) == {"unread_count": 1}


def test_messages_need_a_login(client):
    assert client.get("/api/v1/me/messages").status_code == 401
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": ["x"]}).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"template_ids": ["tmpl-nope"]}, "template_ids"),
    ({"template_ids": []}, "template_ids"),
    ({"template_ids": ["tmpl-trip-result"] * 4}, "template_ids"),
    ({}, "template_ids"),
])
def test_bad_subscription_reports_are_field_errors(body, field, api):
    resp = api.post("/me/subscriptions", as_="demo-traveler", json=body)
    assert resp.status_code == 422 and field in resp.get_json()["errors"]


def test_grants_add_up_per_template_and_moments_name_the_templates(api):
    for _ in range(2):
        ok(api.post("/me/subscriptions", as_="demo-traveler",
                    json={"template_ids": ["tmpl-trip-result", "tmpl-vehicle-assigned"]}))
    subs = ok(api.get("/me/subscriptions", as_="demo-traveler"))
    remaining = {t["template_id"]: t["remaining"] for t in subs["templates"]}
    assert remaining["tmpl-trip-result"] == 2 and remaining["tmpl-vehicle-assigned"] == 2
    assert remaining["tmpl-approval-task"] == 0
    assert subs["moments"]["submit_trip"] == ["tmpl-trip-result", "tmpl-vehicle-assigned",
                                              "tmpl-trip-confirm"]
    assert ok(api.get("/me/subscriptions", as_="demo-approver"))["templates"][0]["remaining"] == 0


@pytest.mark.usefixtures("committed_db")
def test_two_workers_refreshing_the_token_fetch_it_once(app, sandboxes):
    """Both find no token; the row lock makes the second wait and read the first's."""
    from app import db
    from app.auth.wechat import DatabaseTokenCache
    from providers.wechat import WeChatClient

    url = sandboxes["wechat"].url
    requests.post(f"{url}/__sandbox/faults", timeout=5,
                  json={"latency_ms": 300, "path": "/cgi-bin/stable_token"}).raise_for_status()
    before = requests.get(f"{url}/__sandbox/stats", timeout=5).json()["token_requests"]
    with app.app_context():
        engine = db.session.get_bind()
    barrier = Barrier(2)

    def worker(_):
        wx = WeChatClient(url, "wx-sandbox-appid", "wx-sandbox-secret", timeout=5,
                          token_cache=DatabaseTokenCache(engine, "wx-sandbox-appid"))
        barrier.wait()
        return wx.phone_number("sandbox-phone:13800000001")

    try:
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(worker, range(2))) == ["13800000001"] * 2
    finally:
        requests.delete(f"{url}/__sandbox/faults", timeout=5)
    after = requests.get(f"{url}/__sandbox/stats", timeout=5).json()["token_requests"]
    assert after - before == 1


def test_notify_is_what_other_domains_call(app, api, demo):
    """Supervision's "violation opened": the centre always, WeChat while a grant lasts,
    values fitted for WeChat and whole in the centre."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from app import db
    from app.accounts.models import User
    from app.notifications.models import OutboxMessage
    from app.notifications.service import notify

    ok(api.post("/me/subscriptions", as_="demo-approver",
                json={"template_ids": ["tmpl-violation-opened"]}))
    at = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    values = {"thing1": "非工作时间用车且行驶里程超出预估百分之五十", "character_string2": "WG20261201000007",
              "time3": at, "phrase4": "待说明"}
    with app.app_context():
        officer = db.session.get(User, demo["users"]["demo-approver"])
        for n in (7, 8):
            notify(db.session, officer, "violation_opened", values,
                   f"pages/supervision/violation?id={n}", ref=f"violation:{n}")
        db.session.commit()
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "violation_opened")).all()
        assert [(r.ref, r.data["thing1"], r.data["time3"]) for r in rows] == [
            ("violation:7", "非工作时间用车且行驶里程超出预估百分之…", "2026-12-01 09:00")]
        db.session.remove()
    page = ok(api.get("/me/messages", as_="demo-approver"))
    assert [(m["kind"], m["wechat"]) for m in page["items"]] == [("violation_opened", False),
                                                               ("violation_opened", True)]
    assert page["items"][0]["data"]["违规事项"] == values["thing1"]
    assert page["items"][0]["data"]["发生时间"] == "2026-12-01 09:00"
