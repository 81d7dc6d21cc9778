"""Cross-region is derived from the coordinates only (hardening #3): a client's region_code
cannot make a Shanghai trip in-city."""
from tests import factories

SHANGHAI_STOP = {"name": "上海市人民政府", "lat": 31.23, "lng": 121.47}
CITY_STOP = {"name": "市民广场", "lat": 31.81, "lng": 119.97}


def _body(stops):
    return factories.trip_request(stops=stops, hours=8)


def test_a_claimed_city_region_code_does_not_make_a_shanghai_trip_in_city(api):
    forged = api.post("/trips", as_="demo-traveler", json=_body(
        [CITY_STOP, {**SHANGHAI_STOP, "region_code": "320400"}]))
    assert forged.status_code == 201, forged.get_json()
    assert forged.get_json()["cross_region"] is True
    # and a stop inside the city stays in-city whatever code it claims
    inside = api.post("/trips", as_="demo-traveler", json=_body(
        [CITY_STOP, {"name": "武进区政府", "lat": 31.70, "lng": 119.94, "region_code": "310000"}]))
    assert inside.get_json()["cross_region"] is False
