"""Every subscribe-message keyword kind against the sandbox's rules over real HTTP: raw
values that break a limit are refused (47003), the fitted ones are delivered unchanged;
one grant allows one send; 45009 and 40226 are final; stable_token is shared."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from providers.sandbox import wechat as wechat_sandbox
from providers.sandbox.server import SandboxServer
from providers.wechat import MemoryTokenCache, WeChatClient, WeChatError, fit_value

TEMPLATE = "tmpl-kinds"
USER = "kinds-user"

# kind -> (raw values WeChat refuses, what the fitted value of the first one must be)
REFUSED = {
    "thing": (["一二三四五六七八九十一二三四五六七八九十一", "会议\n用车", "会议\x00"],
              "一二三四五六七八九十一二三四五六七八九…"),
    "number": (["12.5km", "1" * 33], "12.5"),
    "letter": (["abc1", "a" * 33], "abc"),
    "symbol": (["!!!!!!", "a!"], "!!!!!"),
    "character_string": (["行程T0001", "A" * 33], "T0001"),
    "time": (["2026-12-01T09:00", "2026-12-01T01:00:00+00:00"], "2026-12-01 09:00"),
    "date": (["2026-12-01T09:00", "2026-12-01T20:00:00+00:00"], "2026-12-01"),
    "amount": (["1922.50", "12.5元"], "¥1922.50"),
    "phone_number": (["138 0000 0001", "+86-0519-8888-8888-88"], "13800000001"),
    "car_number": (["苏D·T0001", "苏D T0001", "苏DT00001X1"], "苏DT0001"),
    "name": (["欧阳张三李四王五赵六钱", "John Smith"], "欧阳张三李四王五赵六"),
    "phrase": (["等待审批中的", "pending"], "等待审批中"),
}


@pytest.fixture
def sandbox():
    with SandboxServer(wechat_sandbox.create_app()) as server:
        yield server


@pytest.fixture
def wx(sandbox):
    return WeChatClient(sandbox.url, "wx-sandbox-appid", "wx-sandbox-secret", timeout=2,
                        token_cache=MemoryTokenCache())


def grant(sandbox, n=1, touser=USER, template_id=TEMPLATE):
    for _ in range(n):
        requests.post(f"{sandbox.url}/__sandbox/subscriptions", timeout=2, json={
            "touser": touser, "template_ids": [template_id]}).raise_for_status()


def delivered(sandbox):
    return requests.get(f"{sandbox.url}/__sandbox/messages", timeout=2).json()["items"]


def send(wx, data, touser=USER):
    wx.send_subscribe_message(touser=touser, template_id=TEMPLATE, page="pages/messages/index",
                              data=data)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_values_over_a_kinds_limit_are_refused_and_fitted_ones_delivered(kind, wx, sandbox):
    grant(sandbox, 10)
    raws, fitted_first = REFUSED[kind]
    for raw in raws:
        with pytest.raises(WeChatError) as err:
            send(wx, {f"{kind}1": raw})
        assert err.value.errcode == 47003 and not err.value.transient, raw
    fitted = [fit_value(kind, raw) for raw in raws]
    if fitted_first is not None:
        assert fitted[0] == fitted_first
    for value in fitted:
        send(wx, {f"{kind}1": value})
    assert [m["data"][f"{kind}1"]["value"] for m in delivered(sandbox)] == fitted


def test_times_dates_and_amounts_are_formatted_from_typed_values(wx, sandbox):
    grant(sandbox)
    utc = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
    data = {"time1": fit_value("time", utc), "date2": fit_value("date", date(2026, 12, 1)),
            "amount3": fit_value("amount", Decimal("1922")),
            "phone_number4": fit_value("phone_number", "+86 519-8888 1234"),
            "name5": fit_value("name", "王师傅\u200b")}
    send(wx, data)
    assert {k: v["value"] for k, v in delivered(sandbox)[0]["data"].items()} == {
        "time1": "2026-12-01 09:30", "date2": "2026-12-01", "amount3": "¥1922.00",
        "phone_number4": "+86519-88881234", "name5": "王师傅"}


def test_the_printed_plate_separator_never_reaches_wechat(wx, sandbox):
    grant(sandbox, 3)
    for plate in ("苏D·T0001", "苏D・T0001", "苏 D-T0001"):
        send(wx, {"car_number1": fit_value("car_number", plate)})
    assert {m["data"]["car_number1"]["value"] for m in delivered(sandbox)} == {"苏DT0001"}
    assert fit_value("car_number", "苏A12345警") == "苏A12345警"
    assert fit_value("car_number", "苏DF12345") == "苏DF12345"  # new-energy plates are 8


def test_one_grant_one_send_then_43101(wx, sandbox):
    grant(sandbox)
    send(wx, {"thing1": "第一条"})
    with pytest.raises(WeChatError) as err:
        send(wx, {"thing1": "第二条"})
    assert err.value.errcode == 43101 and err.value.no_grant and not err.value.transient
    assert [m["data"]["thing1"]["value"] for m in delivered(sandbox)] == ["第一条"]


@pytest.mark.parametrize("errcode, transient", [(45009, False), (40226, False), (-1, True),
                                                (45011, True)])
def test_error_classes(errcode, transient, wx, sandbox):
    grant(sandbox)
    requests.post(f"{sandbox.url}/__sandbox/send-errors", timeout=2,
                  json={"errcode": errcode, "times": 1}).raise_for_status()
    with pytest.raises(WeChatError) as err:
        send(wx, {"thing1": "x"})
    assert err.value.errcode == errcode and err.value.transient is transient


def test_stable_token_is_not_invalidated_by_another_process_fetching(sandbox):
    """Two processes with caches of their own: with /cgi-bin/token the second fetch would
    kill the first one's token; stable_token answers the one in force to both."""
    a, b = (WeChatClient(sandbox.url, "wx-sandbox-appid", "wx-sandbox-secret", timeout=2,
                         token_cache=MemoryTokenCache()) for _ in range(2))
    a.phone_number("sandbox-phone:13800000001")
    b.phone_number("sandbox-phone:13800000002")
    a.phone_number("sandbox-phone:13800000003")  # a's cached token still works
    stats = requests.get(f"{sandbox.url}/__sandbox/stats", timeout=2).json()
    assert stats["tokens_issued"] == 1


def test_legacy_token_fetch_invalidates_the_previous_token(sandbox):
    """Why stable_token: the sandbox behaves like WeChat's /cgi-bin/token."""
    params = {"grant_type": "client_credential", "appid": "wx-sandbox-appid",
              "secret": "wx-sandbox-secret"}
    first = requests.get(f"{sandbox.url}/cgi-bin/token", params=params, timeout=2).json()
    requests.get(f"{sandbox.url}/cgi-bin/token", params=params, timeout=2)
    answer = requests.post(f"{sandbox.url}/wxa/business/getuserphonenumber", timeout=2,
                           params={"access_token": first["access_token"]},
                           json={"code": "sandbox-phone:13800000001"}).json()
    assert answer["errcode"] == 40001
