"""Every worked example of SPEC §5.1–5.2, to the cent, through POST /billing/preview."""
import pytest

DAY = "2026-10-15"


def body(channel, cls, start, end, km, cross=False, waiting=0, tolls="0", parking="0"):
    return {"channel": channel, "vehicle_class": cls, "cross_region": cross,
            "started_at": f"{DAY}T{start}:00+08:00", "finished_at": f"{DAY}T{end}:00+08:00",
            "odometer_km": km, "waiting_minutes": waiting, "tolls": tolls, "parking": parking,
            "lodging": "0"}


@pytest.mark.parametrize("payload, total", [
    (body("fleet", "sedan", "09:00", "12:10", "30", parking="10.00"), "70.00"),
    (body("fleet", "mpv", "08:00", "18:30", "80"), "290.00"),
    (body("fleet", "sedan", "07:30", "19:00", "250", cross=True, waiting=75, tolls="85.50"),
     "515.50"),
    (body("fleet", "sedan", "08:00", "12:00", "40", cross=True), "166.00"),
    ({**body("rental", "sedan", "08:00", "08:00", "80"),
      "finished_at": "2026-10-16T08:00:00+08:00"}, "425.00"),
    ({**body("rental", "mpv", "08:00", "08:00", "180"),
      "finished_at": "2026-10-16T08:00:00+08:00"}, "902.70"),
    (body("rental", "sedan", "09:00", "12:00", "40"), "212.50"),
])
def test_worked_examples(api, payload, total):
    resp = api.post("/billing/preview", as_="demo-finance", json=payload)
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["total"] == total
    assert sum(float(line["amount"]) for line in data["lines"]) == pytest.approx(float(total))


def test_cross_region_lines_are_itemised(api):
    resp = api.post("/billing/preview", as_="demo-admin", json=body(
        "fleet", "sedan", "07:30", "19:00", "250", cross=True, waiting=75, tolls="85.50"))
    amounts = sorted(line["amount"] for line in resp.get_json()["lines"])
    assert "85.50" in amounts and "100.00" in amounts


def test_travelers_cannot_preview(api):
    resp = api.post("/billing/preview", as_="demo-traveler",
                    json=body("fleet", "sedan", "09:00", "12:00", "30"))
    assert resp.status_code == 403


@pytest.mark.parametrize("change, field", [
    ({"vehicle_class": "tank"}, "vehicle_class"),
    ({"tolls": 12.5}, "tolls"),
    ({"finished_at": f"{DAY}T08:00:00+08:00"}, "finished_at"),
    ({"started_at": f"{DAY}T09:00:00"}, "started_at"),
])
def test_bad_input_is_422_with_field(api, change, field):
    resp = api.post("/billing/preview", as_="demo-finance",
                    json={**body("fleet", "sedan", "09:00", "12:00", "30"), **change})
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"]
