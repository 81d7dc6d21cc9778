"""Admin CRUD with validation, and scope: another unit's ids reveal nothing (404)."""
import pytest


@pytest.fixture
def district_admin(api, demo):
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "武进管理员", "phone": "13700000001", "unit_id": demo["units"]["武进区"],
        "roles": ["admin"]})
    assert resp.status_code == 201, resp.get_json()
    return api.bind("wujin-admin", "13700000001")


def test_admin_creates_unit_user_vehicle_driver(api, demo):
    unit = api.post("/admin/units", as_="demo-admin", json={
        "name": "湖塘镇", "level": "town", "parent_id": demo["units"]["武进区"],
        "region_code": "320412"})
    assert unit.status_code == 201
    unit_id = unit.get_json()["id"]
    user = api.post("/admin/users", as_="demo-admin", json={
        "name": "新同事", "phone": "13600000001", "unit_id": unit_id, "roles": ["traveler"]})
    assert user.status_code == 201 and user.get_json()["bound"] is False
    vehicle = api.post("/admin/vehicles", as_="demo-admin", json={
        "plate": "苏D12345", "vehicle_class": "sedan", "seats": 4, "energy_type": "electric",
        "unit_id": demo["units"]["常州市"]})
    assert vehicle.status_code == 201 and vehicle.get_json()["nev"] is True
    driver = api.post("/admin/drivers", as_="demo-admin", json={
        "name": "新司机", "phone": "13600000002", "unit_id": demo["units"]["常州市"]})
    assert driver.status_code == 201
    listed = api.get("/admin/vehicles?limit=5", as_="demo-admin").get_json()
    assert len(listed["items"]) == 5 and listed["next_cursor"]
    rest = api.get(f"/admin/vehicles?limit=100&cursor={listed['next_cursor']}", as_="demo-admin")
    assert len(rest.get_json()["items"]) == 19 + 1 - 5  # 19 demo vehicles + the new one


@pytest.mark.parametrize("path, body, field", [
    ("/admin/users", {"name": "x", "phone": "123", "unit_id": 1, "roles": ["traveler"]}, "phone"),
    ("/admin/users", {"name": "x", "phone": "13600000009", "unit_id": 1, "roles": ["pilot"]}, "roles"),
    ("/admin/vehicles", {"plate": "苏D99999", "vehicle_class": "tank", "seats": 4,
                         "energy_type": "petrol", "unit_id": 1}, "vehicle_class"),
    ("/admin/vehicles", {"plate": "苏D99999", "vehicle_class": "sedan", "seats": 0,
                         "energy_type": "petrol", "unit_id": 1}, "seats"),
])
def test_invalid_admin_input_is_422_with_field(api, path, body, field):
    resp = api.post(path, as_="demo-admin", json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"]


def test_duplicate_phone_and_plate_are_409(api, demo):
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "重复", "phone": "13800000001", "unit_id": demo["units"]["常州市"],
        "roles": ["traveler"]})
    assert resp.status_code == 409 and resp.get_json()["code"] == "phone_taken"


def test_non_admin_is_403(api):
    assert api.get("/admin/users", as_="demo-traveler").status_code == 403


def test_no_token_is_401(api):
    assert api.get("/admin/users").status_code == 401


def test_district_admin_sees_only_own_subtree(api, demo, district_admin):
    other = demo["users"]["demo-traveler"]            # in the city-level DRC, not Wujin
    mine = demo["users"]["demo-traveler-2"]           # in Wujin
    assert api.get(f"/admin/users/{other}", as_=district_admin).status_code == 404
    assert api.get(f"/admin/users/{mine}", as_=district_admin).status_code == 200
    assert api.patch(f"/admin/users/{other}", as_=district_admin,
                     json={"name": "改名"}).status_code == 404
    assert api.delete(f"/admin/users/{other}", as_=district_admin).status_code == 404
    listed = api.get("/admin/users?limit=100", as_=district_admin).get_json()["items"]
    assert {u["id"] for u in listed} >= {mine} and other not in {u["id"] for u in listed}
    vehicle = api.get("/admin/vehicles?limit=1", as_="demo-admin").get_json()["items"][0]
    assert api.get(f"/admin/vehicles/{vehicle['id']}", as_=district_admin).status_code == 404


def test_district_admin_cannot_place_user_outside_subtree(api, demo, district_admin):
    resp = api.post("/admin/users", as_=district_admin, json={
        "name": "越权", "phone": "13600000003", "unit_id": demo["units"]["天宁区"],
        "roles": ["traveler"]})
    assert resp.status_code == 422 and "unit_id" in resp.get_json()["errors"]


def test_nonexistent_and_foreign_ids_look_the_same(api, demo, district_admin):
    foreign = api.get(f"/admin/units/{demo['units']['天宁区']}", as_=district_admin)
    missing = api.get("/admin/units/999999", as_=district_admin)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json() == missing.get_json()


def test_unit_with_members_cannot_be_deleted(api, demo):
    resp = api.delete(f"/admin/units/{demo['units']['武进区市场监督管理局']}", as_="demo-admin")
    assert resp.status_code == 409 and resp.get_json()["code"] == "unit_not_empty"


def test_admin_changes_are_audited(api, app, demo):
    from sqlalchemy import select

    from app import db
    from app.audit import AuditEntry

    user_id = demo["users"]["demo-traveler-2"]
    api.patch(f"/admin/users/{user_id}", as_="demo-admin", json={"roles": ["traveler", "approver"]})
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "users", AuditEntry.entity_id == user_id)).one()
        assert entry.action == "updated" and entry.actor_id == demo["users"]["demo-admin"]
        assert entry.data == {"roles": ["traveler", "approver"]}
        db.session.remove()


def test_unit_admin_cannot_grant_or_revoke_platform_roles(api, demo, district_admin):
    """Issue 12 #1: 武进's admin made a traveler of their unit a platform approver."""
    mine = demo["users"]["demo-traveler-2"]
    for roles in (["traveler", "platform_approver"], ["traveler", "supervisor"]):
        resp = api.patch(f"/admin/users/{mine}", as_=district_admin, json={"roles": roles})
        assert resp.status_code == 403, resp.get_json()
        assert resp.get_json()["code"] == "platform_role_forbidden"
        assert resp.get_json()["errors"] == {"roles": [roles[1]]}
    resp = api.post("/admin/users", as_=district_admin, json={
        "name": "新平台审批", "phone": "13600000004", "unit_id": demo["units"]["武进区"],
        "roles": ["platform_approver"]})
    assert resp.status_code == 403 and resp.get_json()["code"] == "platform_role_forbidden"
    assert api.get(f"/admin/users/{mine}", as_="demo-admin").get_json()["roles"] == ["traveler"]
    # unit roles within the own subtree stay the unit admin's
    resp = api.patch(f"/admin/users/{mine}", as_=district_admin,
                     json={"roles": ["traveler", "approver"]})
    assert resp.status_code == 200 and resp.get_json()["roles"] == ["approver", "traveler"]


def test_platform_admin_grants_platform_approver_at_the_root_unit_only(api, demo):
    created = api.post("/admin/users", as_="demo-admin", json={
        "name": "平台审批", "phone": "13600000005", "unit_id": demo["units"]["常州市"],
        "roles": ["platform_approver"]})
    assert created.status_code == 201 and created.get_json()["roles"] == ["platform_approver"]
    # a platform approver outside the root unit would never get the platform step's tasks
    outside = demo["users"]["demo-traveler-2"]
    resp = api.patch(f"/admin/users/{outside}", as_="demo-admin",
                     json={"roles": ["traveler", "platform_approver"]})
    assert resp.status_code == 422 and "roles" in resp.get_json()["errors"]
    resp = api.patch(f"/admin/users/{created.get_json()['id']}", as_="demo-admin",
                     json={"unit_id": demo["units"]["武进区"]})
    assert resp.status_code == 422 and "roles" in resp.get_json()["errors"]
    # the platform admin grants the supervisor role anywhere
    resp = api.patch(f"/admin/users/{outside}", as_="demo-admin",
                     json={"roles": ["traveler", "supervisor"]})
    assert resp.status_code == 200 and resp.get_json()["roles"] == ["supervisor", "traveler"]


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\x1b", "\x7f", "\x9b", "\u200b", "\u202e"])
@pytest.mark.parametrize("path, body, field", [
    ("/admin/users", {"name": "王{}五", "phone": "13600000009", "unit_id": 1,
                      "roles": ["traveler"]}, "name"),
    ("/admin/units", {"name": "新{}单位", "level": "town", "parent_id": 1,
                      "region_code": "320412"}, "name"),
    ("/admin/drivers", {"name": "李{}四", "phone": "13600000009", "unit_id": 1}, "name"),
    ("/admin/vehicles", {"plate": "苏D{}9999", "vehicle_class": "sedan", "seats": 4,
                         "energy_type": "petrol", "unit_id": 1}, "plate"),
])
def test_names_refuse_control_characters(api, char, path, body, field):
    """Issue 12 #8: names went into lists, messages and exports with control characters."""
    body = {k: v.format(char) if k == field else v for k, v in body.items()}
    resp = api.post(path, as_="demo-admin", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] == {field: ["不能包含控制字符或不可见字符"]}


def test_renaming_refuses_control_characters(api, demo):
    user = demo["users"]["demo-traveler-2"]
    resp = api.patch(f"/admin/users/{user}", as_="demo-admin", json={"name": "郑\u202e伟"})
    assert resp.status_code == 422 and resp.get_json()["errors"] == {
        "name": ["不能包含控制字符或不可见字符"]}
    unit = demo["units"]["武进区"]
    resp = api.patch(f"/admin/units/{unit}", as_="demo-admin", json={"name": "武进\x00区"})
    assert resp.status_code == 422 and "name" in resp.get_json()["errors"]
