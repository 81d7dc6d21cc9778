"""What a trip request may hold (issue 12 #8): printable names, a departure at most a year
ahead and a trip of at most 30 days."""
from datetime import timedelta

import pytest

from app import clock
from tests import factories

HIDDEN = "\x00\x07\n\x7f\x85\u200b\u202e"  # C0, BEL, newline, DEL, C1, zero-width, bidi override
REFUSED = ["不能包含控制字符或不可见字符"]


@pytest.mark.parametrize("char", HIDDEN)
def test_passenger_and_stop_names_refuse_control_characters(api, char):
    body = factories.trip_request(passengers=2)
    body["passengers"][1]["name"] = f"张{char}明"
    body["stops"] = [dict(factories.STOPS[0], name=f"市民{char}广场"), factories.STOPS[1]]
    resp = api.post("/trips", "demo-traveler", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] == {"passengers": {"1": {"name": REFUSED}},
                                         "stops": {"0": {"name": REFUSED}}}


def test_names_in_other_scripts_and_with_a_middle_dot_pass(api):
    body = factories.trip_request(passengers=2)
    body["passengers"] = [{"name": "阿依古丽·买买提"}, {"name": "John Smith"}]
    assert api.post("/trips", "demo-traveler", json=body).status_code == 201


@pytest.mark.parametrize("ahead, status", [(timedelta(days=364), 201),
                                           (timedelta(days=366), 422)])
def test_departure_at_most_a_year_ahead(api, ahead, status):
    resp = api.post("/trips", "demo-traveler",
                    json=factories.trip_request(depart_at=clock.now() + ahead))
    assert resp.status_code == status, resp.get_json()
    if status == 422:
        assert resp.get_json()["errors"] == {"depart_at": ["出发时间不能晚于365天之后"]}


def test_a_year_9999_departure_is_refused(api):
    body = factories.trip_request(depart_at=clock.now() + timedelta(days=1))
    body["depart_at"], body["return_at"] = "9999-12-30T08:00:00+08:00", "9999-12-30T12:00:00+08:00"
    resp = api.post("/trips", "demo-traveler", json=body)
    assert resp.status_code == 422 and "depart_at" in resp.get_json()["errors"]


@pytest.mark.parametrize("hours, status", [(30 * 24, 201), (30 * 24 + 1, 422),
                                           (10 * 365 * 24, 422)])
def test_a_trip_lasts_at_most_30_days(api, hours, status):
    resp = api.post("/trips", "demo-traveler", json=factories.trip_request(hours=hours))
    assert resp.status_code == status, resp.get_json()
    if status == 422:
        assert resp.get_json()["errors"] == {"return_at": ["行程时长不能超过30天"]}
