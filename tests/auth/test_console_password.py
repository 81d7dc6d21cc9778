"""Console password accounts: one-time password set by an admin, forced change at first
sign-in (the token is good for nothing else until then), argon2 hashes, lockout after five
failures for 15 minutes, every step audited; demo accounts without the forced change."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, db
from app.audit import AuditEntry
from app.auth.passwords import ConsoleAccount, ensure_demo_accounts


def _reset(api, user_id, **body):
    resp = api.post(f"/admin/users/{user_id}/console-password", "demo-admin", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _login(api, username, password):
    return api.client.post("/api/v1/auth/password-login",
                           json={"username": username, "password": password})


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _audit_actions(app, user_id):
    # Its own app context, opened after the requests (a context held across requests
    # would share flask.g, and with it the signed-in user, between them).
    with app.app_context():
        actions = [e.action for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "console_accounts",
                                     AuditEntry.entity_id == user_id).order_by(AuditEntry.id))]
        db.session.remove()
    return actions


def test_one_time_password_must_be_changed_before_anything_else(api, demo, app):
    dispatcher = demo["users"]["demo-dispatcher"]
    created = _reset(api, dispatcher, username="zhaoqiang")
    assert created["username"] == "zhaoqiang" and created["must_change_password"] is True
    first = _login(api, "zhaoqiang", created["one_time_password"])
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["must_change_password"] is True and body["user"]["id"] == dispatcher
    restricted = _bearer(body["access_token"])
    for path in ("/api/v1/me", "/api/v1/dispatch/queue"):
        refused = api.client.get(path, headers=restricted)
        assert refused.status_code == 403
        assert refused.get_json()["code"] == "password_change_required"
        assert "修改初始密码" in refused.get_json()["message"]

    changed = api.client.post("/api/v1/auth/password", headers=restricted,
                              json={"old": created["one_time_password"], "new": "Dispatch2026"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["must_change_password"] is False
    me = api.client.get("/api/v1/me", headers=_bearer(changed.get_json()["access_token"]))
    assert me.status_code == 200 and me.get_json()["roles"] == ["dispatcher"]

    assert _login(api, "zhaoqiang", created["one_time_password"]).status_code == 401
    again = _login(api, "zhaoqiang", "Dispatch2026")
    assert again.status_code == 200 and again.get_json()["must_change_password"] is False
    assert api.client.get("/api/v1/me", headers=_bearer(again.get_json()["access_token"])
                          ).status_code == 200
    assert _audit_actions(app, dispatcher) == [
        "created", "password_login", "password_changed", "password_login_failed",
        "password_login"]


def test_passwords_are_stored_as_argon2id_hashes(api, demo, app):
    created = _reset(api, demo["users"]["demo-finance"])
    with app.app_context():
        account = db.session.get(ConsoleAccount, demo["users"]["demo-finance"])
        username, hashed = account.username, account.password_hash
        db.session.remove()
    assert username == "13800000006"  # the phone when no username is given
    assert hashed.startswith("$argon2id$")
    assert created["one_time_password"] not in hashed


def test_new_password_rules_are_field_errors(api, demo):
    created = _reset(api, demo["users"]["demo-supervisor"], username="zhouzheng")
    token = _login(api, "zhouzheng", created["one_time_password"]).get_json()["access_token"]
    for body, field in (({"old": "wrong-old-1", "new": "Better2026"}, "old"),
                        ({"old": created["one_time_password"], "new": "short1"}, "new"),
                        ({"old": created["one_time_password"], "new": "lettersonly"}, "new"),
                        ({"old": created["one_time_password"],
                          "new": created["one_time_password"]}, "new")):
        resp = api.client.post("/api/v1/auth/password", headers=_bearer(token), json=body)
        assert resp.status_code == 422, body
        assert field in resp.get_json()["errors"]


def test_five_failures_lock_the_account_for_fifteen_minutes(api, demo, app, frozen_clock):
    start = frozen_clock(clock.now().replace(microsecond=0))
    user_id = demo["users"]["demo-dispatcher"]
    password = _reset(api, user_id, username="locked-out")["one_time_password"]
    for attempt in range(4):
        resp = _login(api, "locked-out", f"wrong-{attempt}")
        assert resp.status_code == 401 and resp.get_json()["code"] == "invalid_credentials"
    fifth = _login(api, "locked-out", "wrong-5")
    assert fifth.status_code == 423 and fifth.get_json()["code"] == "account_locked"
    assert "锁定" in fifth.get_json()["message"]
    # Even the right password is refused while locked.
    assert _login(api, "locked-out", password).status_code == 423
    frozen_clock(start + timedelta(minutes=14, seconds=59))
    assert _login(api, "locked-out", password).status_code == 423
    frozen_clock(start + timedelta(minutes=15, seconds=1))
    assert _login(api, "locked-out", password).status_code == 200
    actions = _audit_actions(app, user_id)
    assert actions.count("password_login_failed") == 4
    assert "locked" in actions and actions[-1] == "password_login"


def test_a_success_clears_the_failure_count(api, demo):
    password = _reset(api, demo["users"]["demo-dispatcher"], username="clears")["one_time_password"]
    for _ in range(4):
        assert _login(api, "clears", "nope-nope").status_code == 401
    assert _login(api, "clears", password).status_code == 200
    for _ in range(4):
        assert _login(api, "clears", "nope-nope").status_code == 401
    assert _login(api, "clears", password).status_code == 200


def test_admin_reset_unlocks_and_forces_a_new_change(api, demo):
    user_id = demo["users"]["demo-dispatcher"]
    _reset(api, user_id, username="reset-me")
    for _ in range(5):
        _login(api, "reset-me", "bad-password-1")
    fresh = _reset(api, user_id)
    assert fresh["username"] == "reset-me"  # kept when not given
    resp = _login(api, "reset-me", fresh["one_time_password"])
    assert resp.status_code == 200 and resp.get_json()["must_change_password"] is True


def test_unknown_user_and_inactive_user_get_the_same_answer(api, demo):
    resp = _login(api, "nobody-here", "whatever1")
    assert resp.status_code == 401 and resp.get_json()["code"] == "invalid_credentials"
    user_id = demo["users"]["demo-supervisor"]
    password = _reset(api, user_id, username="gone-user")["one_time_password"]
    assert api.delete(f"/admin/users/{user_id}", "demo-admin").status_code == 204
    resp = _login(api, "gone-user", password)
    assert resp.status_code == 401 and resp.get_json()["code"] == "invalid_credentials"


def test_only_admins_reset_console_passwords_and_usernames_are_unique(api, demo):
    target = demo["users"]["demo-finance"]
    assert api.post(f"/admin/users/{target}/console-password", "demo-dispatcher",
                    json={}).status_code == 403
    _reset(api, demo["users"]["demo-dispatcher"], username="taken-name")
    clash = api.post(f"/admin/users/{target}/console-password", "demo-admin",
                     json={"username": "taken-name"})
    assert clash.status_code == 422 and "username" in clash.get_json()["errors"]
    bad = api.post(f"/admin/users/{target}/console-password", "demo-admin",
                   json={"username": "空 格"})
    assert bad.status_code == 422 and "username" in bad.get_json()["errors"]
    assert api.get(f"/admin/users/{target}/console-account", "demo-admin").status_code == 404
    assert api.get("/admin/users/999999/console-password", "demo-admin").status_code in (404, 405)


def test_password_change_without_console_account_is_refused(api):
    resp = api.post("/auth/password", "demo-traveler", json={"old": "abc12345", "new": "Xyz12345"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "no_console_account"


def test_demo_accounts_sign_in_with_the_demo_password_without_forced_change(api, app):
    with app.app_context():
        names = ensure_demo_accounts(db.session, "demo-Pass-2026")
        db.session.commit()
    assert "demo-dispatcher" in names and "demo-admin" in names
    resp = _login(api, "demo-finance", "demo-Pass-2026")
    assert resp.status_code == 200 and resp.get_json()["must_change_password"] is False
    me = api.client.get("/api/v1/me", headers=_bearer(resp.get_json()["access_token"]))
    assert me.get_json()["roles"] == ["finance"]


@pytest.mark.parametrize("body", [{}, {"username": "x"}, {"username": "", "password": "a"}])
def test_password_login_body_is_validated(api, body):
    resp = api.client.post("/api/v1/auth/password-login", json=body)
    assert resp.status_code == 422


def test_a_password_reset_or_change_ends_every_session_of_the_user(api, demo, app):
    """A password changed or reset may mean someone else knew it: every token issued before
    stops working (401 ``token_revoked``), the mini-program's too; the change answers a
    fresh token. Creating a console account leaves the user's WeChat sign-in alone."""
    finance = demo["users"]["demo-finance"]
    wechat = api.login("demo-finance")  # the mini-program's token
    created = _reset(api, finance, username="qianli")
    assert api.client.get("/api/v1/me", headers=_bearer(wechat)).status_code == 200

    first = _login(api, "qianli", created["one_time_password"]).get_json()["access_token"]
    changed = api.client.post("/api/v1/auth/password", headers=_bearer(first),
                              json={"old": created["one_time_password"], "new": "Finance2026"})
    assert changed.status_code == 200, changed.get_json()
    fresh = changed.get_json()["access_token"]
    for stale in (wechat, first):
        refused = api.client.get("/api/v1/me", headers=_bearer(stale))
        assert refused.status_code == 401 and refused.get_json()["code"] == "token_revoked"
    assert api.client.get("/api/v1/me", headers=_bearer(fresh)).status_code == 200

    second = _login(api, "qianli", "Finance2026").get_json()["access_token"]
    _reset(api, finance)  # the admin resets it: both the fresh and the second token end
    for stale in (fresh, second):
        refused = api.client.get("/api/v1/me", headers=_bearer(stale))
        assert refused.status_code == 401 and refused.get_json()["code"] == "token_revoked"
    signed_in_again = api.client.post("/api/v1/auth/wechat-login",
                                      json={"code": "sandbox:demo-finance"}).get_json()
    assert api.client.get("/api/v1/me", headers=_bearer(signed_in_again["access_token"])
                          ).status_code == 200
    with app.app_context():
        revoked = [e.data.get("tokens_revoked") for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "console_accounts",
                                     AuditEntry.entity_id == finance).order_by(AuditEntry.id))
                   if e.action in ("created", "password_changed", "password_reset")]
        db.session.remove()
    assert revoked == [False, True, True]
