"""A driver's licence class is one of the known classes (准驾车型): dispatch checks it
against the vehicle class."""
import pytest

from tests.factories import ok


@pytest.mark.parametrize("licence", ["Z9", "", "c1"])
def test_unknown_licence_class_is_422(api, demo, licence):
    resp = api.post("/admin/drivers", as_="demo-admin", json={
        "name": "新司机", "phone": "13600000021", "unit_id": demo["units"]["常州市"],
        "license_class": licence})
    assert resp.status_code == 422 and "license_class" in resp.get_json()["errors"]


def test_licence_class_can_be_changed_to_a_known_one(api, demo):
    driver = ok(api.post("/admin/drivers", as_="demo-admin", json={
        "name": "新司机", "phone": "13600000021", "unit_id": demo["units"]["常州市"],
        "license_class": "C1"}), 201)
    path = f"/admin/drivers/{driver['id']}"
    assert api.patch(path, as_="demo-admin", json={"license_class": "XX"}).status_code == 422
    assert ok(api.patch(path, as_="demo-admin", json={"license_class": "A1"}))[
        "license_class"] == "A1"
