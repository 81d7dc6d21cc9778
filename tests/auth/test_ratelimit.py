"""Rate limits (issue 12 #5): sign-in per client IP, quotes per user; 429 in the error
shape with a Chinese message and Retry-After. The suite runs with limits it cannot reach
(tests/conftest.py); these tests set low ones."""
from __future__ import annotations

import pytest

from app.ratelimit import limiter
from tests.factories import new_trip, ok

LOGIN = "/api/v1/auth/wechat-login"


@pytest.fixture
def low_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    monkeypatch.setitem(app.config, "RATELIMIT_QUOTES", "2 per minute")
    limiter.reset()
    yield
    limiter.reset()


def assert_too_many(resp):
    assert resp.status_code == 429
    body = resp.get_json()
    assert body["code"] == "too_many_requests" and body["status"] == 429
    assert body["errors"] == {} and "请求过于频繁" in body["message"]
    assert 0 < int(resp.headers["Retry-After"]) <= 60


def test_login_is_limited_per_client_ip_before_wechat_sees_the_code(client, demo, low_limits):
    for attempt in range(3):
        assert client.post(LOGIN, json={"code": f"bad-code-{attempt}"}).status_code != 429
    # A good single-use code past the limit is refused without being spent at WeChat...
    fresh = {"code": "sandbox:demo-traveler:once-1"}
    assert_too_many(client.post(LOGIN, json=fresh))
    # ...another client IP still signs in...
    other_ip = {"REMOTE_ADDR": "10.20.30.40"}
    ok(client.post(LOGIN, json={"code": "sandbox:demo-traveler"}, environ_base=other_ip))
    # ...and once the window has passed the same code still works.
    limiter.reset()
    ok(client.post(LOGIN, json=fresh))


def test_behind_proxies_the_limit_counts_the_address_the_outer_proxy_saw(
        app, client, demo, low_limits, monkeypatch):
    def login(forwarded_for):
        return client.post(LOGIN, json={"code": "bad"},
                           headers={"X-Forwarded-For": forwarded_for})

    # Without trusted proxies a client's own X-Forwarded-For changes nothing.
    for attempt in range(3):
        assert login(f"10.0.0.{attempt}").status_code != 429
    assert_too_many(login("10.0.0.99"))
    # Behind one proxy: what the client claims before the proxy's entry is ignored.
    monkeypatch.setitem(app.config, "PROXY_COUNT", 1)
    for attempt in range(3):
        assert login(f"1.2.3.{attempt}, 203.0.113.7").status_code != 429
    assert_too_many(login("1.2.3.99, 203.0.113.7"))
    assert login("203.0.113.8").status_code != 429


def test_bind_is_limited_per_client_ip(client, demo, low_limits):
    for attempt in range(3):
        resp = client.post("/api/v1/auth/bind", json={"ticket": f"forged-{attempt}",
                                                      "phone_code": "sandbox-phone:13800000001"})
        assert resp.status_code == 401
    assert_too_many(client.post("/api/v1/auth/bind", json={
        "ticket": "forged", "phone_code": "sandbox-phone:13800000001"}))


def test_quotes_are_limited_per_user(api, low_limits):
    trip_id = new_trip(api)
    for _ in range(2):
        ok(api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))
    assert_too_many(api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))
    other = new_trip(api, "demo-traveler-2")
    ok(api.post(f"/trips/{other}/quotes", "demo-traveler-2"))
