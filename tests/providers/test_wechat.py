"""The WeChat adapter against the sandbox over real HTTP: stable_token caching and refresh,
keyword rules and fitting, one send per grant (43101), errors that must not be retried."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from providers.sandbox import wechat as wechat_sandbox
from providers.sandbox.server import SandboxServer
from providers.wechat import MemoryTokenCache, WeChatClient, WeChatError, fit_value


@pytest.fixture
def sandbox():
    with SandboxServer(wechat_sandbox.create_app()) as server:
        yield server


@pytest.fixture
def wx(sandbox):
    return WeChatClient(sandbox.url, "wx-sandbox-appid", "wx-sandbox-secret", timeout=2,
                        token_cache=MemoryTokenCache())


def stats(sandbox):
    return requests.get(f"{sandbox.url}/__sandbox/stats", timeout=2).json()


def grant(sandbox, touser="demo-approver", template_ids=("tmpl-approval-task",)):
    """The user taps "allow" in wx.requestSubscribeMessage: one grant per template."""
    requests.post(f"{sandbox.url}/__sandbox/subscriptions", timeout=2, json={
        "touser": touser, "template_ids": list(template_ids)}).raise_for_status()


def received(sandbox):
    return requests.get(f"{sandbox.url}/__sandbox/messages", timeout=2).json()


def send(wx, **over):
    args = {"touser": "demo-approver", "template_id": "tmpl-approval-task",
            "page": "pages/approval/detail?task_id=1",
            "data": {"thing1": "市政府会议用车", "time2": "2026-12-01 09:00",
                     "character_string3": "T000001", "phrase4": "待审批"}}
    args.update(over)
    wx.send_subscribe_message(**args)


def test_code2session_and_phone(wx):
    assert wx.code2session("sandbox:abc").openid == "abc"
    assert wx.phone_number("sandbox-phone:13800000001") == "13800000001"


def test_access_token_is_fetched_once_and_shared(wx, sandbox):
    for _ in range(3):
        grant(sandbox)
        wx.phone_number("sandbox-phone:13800000001")
        send(wx)
    assert stats(sandbox)["tokens_issued"] == 1


def test_rejected_token_is_refreshed_once(wx, sandbox):
    grant(sandbox)
    grant(sandbox)
    send(wx)
    requests.post(f"{sandbox.url}/__sandbox/expire-tokens", timeout=2)
    send(wx)  # 42001 → refresh → retried
    assert stats(sandbox)["tokens_issued"] == 2


def test_field_rules_are_enforced(wx):
    with pytest.raises(WeChatError) as err:
        send(wx, data={"thing1": "超" * 21})
    assert err.value.errcode == 47003 and not err.value.transient


def test_fit_value_makes_long_values_acceptable(wx, sandbox):
    grant(sandbox)
    send(wx, data={"thing1": fit_value("thing", "关于全市安全生产大检查的现场调研用车申请（补充）"),
                   "character_string3": fit_value("character_string", "行程T000001"),
                   "phrase4": fit_value("phrase", "pending待审批中")})
    (message,) = requests.get(f"{sandbox.url}/__sandbox/messages", timeout=2).json()["items"]
    assert message["data"] == {"thing1": {"value": "关于全市安全生产大检查的现场调研用车申…"},
                               "character_string3": {"value": "T000001"},
                               "phrase4": {"value": "待审批中"}}


def test_unsubscribed_user_is_43101(wx, sandbox):
    requests.post(f"{sandbox.url}/__sandbox/subscriptions", timeout=2, json={
        "touser": "demo-approver", "template_id": "tmpl-approval-task", "count": 1})
    send(wx)
    with pytest.raises(WeChatError) as err:
        send(wx)
    assert err.value.errcode == 43101 and not err.value.transient


def test_outage_and_garbage_are_transient_errors(wx, sandbox):
    for fault in ("5xx", "malformed"):
        requests.post(f"{sandbox.url}/__sandbox/faults", json={"fault": fault, "times": 1},
                      timeout=2)
        with pytest.raises(WeChatError) as err:
            wx.code2session("sandbox:abc")
        assert err.value.transient


def test_timeout_is_transient(sandbox):
    wx = WeChatClient(sandbox.url, "wx-sandbox-appid", "wx-sandbox-secret", timeout=0.2)
    requests.post(f"{sandbox.url}/__sandbox/faults", json={"fault": "hang", "times": 1}, timeout=2)
    with pytest.raises(WeChatError) as err:
        wx.code2session("sandbox:abc")
    assert err.value.transient and err.value.errcode is None


def test_database_token_cache_shares_one_token_between_clients(app, sandboxes):
    from app import db
    from app.auth.wechat import DatabaseTokenCache

    with app.app_context():
        engine = db.session.get_bind()
        url = sandboxes["wechat"].url
        before = requests.get(f"{url}/__sandbox/stats", timeout=2).json()["token_requests"]
        clients = [WeChatClient(url, "wx-sandbox-appid", "wx-sandbox-secret",
                                token_cache=DatabaseTokenCache(engine, "wx-sandbox-appid"))
                   for _ in range(3)]
        for c in clients:
            c.phone_number("sandbox-phone:13800000001")
        after = requests.get(f"{url}/__sandbox/stats", timeout=2).json()["token_requests"]
        assert after - before == 1
