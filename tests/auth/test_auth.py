"""WeChat login, phone binding and the JWT attacks that must all end in 401."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import requests

from app import clock

SECRET_KEYS = ("JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE")


def test_login_with_sandbox_code_yields_token_accepted_by_me(api):
    resp = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:demo-traveler"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["expires_in"] > 0 and "session_key" not in resp.get_data(as_text=True)
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["roles"] == ["traveler"]
    assert me.get_json()["unit"]["name"] == "常州市发展和改革委员会"


def test_unknown_openid_gets_binding_ticket_then_binds_preregistered_phone(api):
    resp = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:new-openid"})
    assert resp.status_code == 403
    body = resp.get_json()
    assert body["code"] == "binding_required" and body["ticket"]
    bound = api.client.post("/api/v1/auth/bind", json={
        "ticket": body["ticket"], "phone_code": "sandbox-phone:13800000012"})
    assert bound.status_code == 200, bound.get_json()
    assert bound.get_json()["user"]["name"] == "刘洋"
    again = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:new-openid"})
    assert again.status_code == 200


def test_binding_refused_for_unregistered_phone(api):
    ticket = api.client.post("/api/v1/auth/wechat-login",
                             json={"code": "sandbox:stranger"}).get_json()["ticket"]
    resp = api.client.post("/api/v1/auth/bind", json={
        "ticket": ticket, "phone_code": "sandbox-phone:13999999999"})
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "phone_not_registered"
    assert "未登记" in resp.get_json()["message"]


def test_binding_refuses_phone_already_bound_to_another_wechat(api):
    ticket = api.client.post("/api/v1/auth/wechat-login",
                             json={"code": "sandbox:intruder"}).get_json()["ticket"]
    resp = api.client.post("/api/v1/auth/bind", json={
        "ticket": ticket, "phone_code": "sandbox-phone:13800000001"})  # demo-traveler's phone
    assert resp.status_code == 409 and resp.get_json()["code"] == "already_bound"


def test_bind_with_forged_ticket_is_401(api):
    forged = jwt.encode({"sub": "x", "exp": 9999999999}, "guess", algorithm="HS256")
    resp = api.client.post("/api/v1/auth/bind", json={
        "ticket": forged, "phone_code": "sandbox-phone:13800000012"})
    assert resp.status_code == 401 and resp.get_json()["code"] == "invalid_ticket"


@pytest.mark.parametrize("code, errcode", [("not-a-sandbox-code", 40029)])
def test_invalid_login_code_is_a_clear_error(api, code, errcode):
    resp = api.client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["wechat_errcode"] == errcode


def test_single_use_code_cannot_be_replayed(api):
    first = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:demo-traveler:n1"})
    second = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:demo-traveler:n1"})
    assert first.status_code == 200
    assert second.status_code == 422 and second.get_json()["errors"]["wechat_errcode"] == 40163


def test_wechat_outage_is_502_not_a_crash(api, sandboxes):
    base = sandboxes["wechat"].url
    requests.post(f"{base}/__sandbox/faults", json={"fault": "5xx", "times": 1}, timeout=2)
    resp = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:demo-traveler"})
    assert resp.status_code == 502 and resp.get_json()["code"] == "wechat_unavailable"


def test_missing_body_is_422_with_field_errors(api):
    resp = api.client.post("/api/v1/auth/wechat-login", json={})
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"code": ["必填"]}


def _claims(app, **overrides):
    now = clock.now()
    claims = {"sub": "1", "iss": app.config["JWT_ISSUER"], "aud": app.config["JWT_AUDIENCE"],
              "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=1)).timestamp())}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(app, key=None, alg="HS256", **overrides):
    return jwt.encode(_claims(app, **overrides), key or app.config["JWT_SECRET"], algorithm=alg)


def _none_alg(app):
    import base64
    import json

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(app))}."


@pytest.mark.parametrize("make", [
    pytest.param(lambda app: _forge(app, exp=int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp())),
                 id="expired"),
    pytest.param(lambda app: _forge(app)[:-3] + ("abc" if not _forge(app).endswith("abc") else "xyz"),
                 id="tampered-signature"),
    pytest.param(lambda app: _forge(app, key="another-secret-that-is-long-enough!!"), id="wrong-key"),
    pytest.param(_none_alg, id="alg-none"),
    pytest.param(lambda app: _forge(app, aud="someone-else"), id="wrong-audience"),
    pytest.param(lambda app: _forge(app, iss="evil"), id="wrong-issuer"),
    pytest.param(lambda app: _forge(app, exp=None), id="no-exp"),
    pytest.param(lambda app: _forge(app, alg="HS512"), id="other-algorithm"),
    pytest.param(lambda app: _forge(app, sub="999999"), id="unknown-user"),
    pytest.param(lambda app: "not-a-jwt", id="garbage"),
])
def test_bad_tokens_are_401(api, app, make):
    resp = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {make(app)}"})
    assert resp.status_code == 401
    body = resp.get_json()
    assert set(body) >= {"code", "message", "status", "errors"} and body["status"] == 401


def test_bind_ticket_is_not_an_access_token(api):
    ticket = api.client.post("/api/v1/auth/wechat-login",
                             json={"code": "sandbox:someone-new"}).get_json()["ticket"]
    resp = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {ticket}"})
    assert resp.status_code == 401


def test_token_expires_by_the_app_clock(api, frozen_clock):
    token = api.login("demo-traveler")
    # Used (and so verified and kept by the process) before it expires: still refused after.
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    frozen_clock(clock.now() + timedelta(hours=3))
    resp = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.get_json()["code"] == "token_expired"


def test_deactivated_user_is_refused(api, demo):
    admin_resp = api.delete(f"/api/v1/admin/users/{demo['users']['demo-traveler']}".removeprefix("/api/v1"),
                            as_="demo-admin")
    assert admin_resp.status_code == 204
    resp = api.client.post("/api/v1/auth/wechat-login", json={"code": "sandbox:demo-traveler"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "account_disabled"
