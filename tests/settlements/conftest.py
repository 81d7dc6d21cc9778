"""Finance officers beyond the demo's platform finance."""
import pytest


@pytest.fixture
def drc_finance(api, demo):
    """A unit finance officer of the development and reform commission (not platform)."""
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "发改委财务", "phone": "13700000003", "roles": ["finance"],
        "unit_id": demo["units"]["常州市发展和改革委员会"]})
    assert resp.status_code == 201
    return api.bind("drc-finance", "13700000003")
