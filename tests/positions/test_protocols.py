"""The protocols' units and time formats, parsed without a server."""
from datetime import datetime, timezone

import pytest

from app.errors import ValidationFailed
from app.positions.protocols import parse_osmand_json, parse_osmand_params, parse_traccar
from tests.positions.conftest import traccar

AT = datetime(2026, 12, 1, 0, 30, tzinfo=timezone.utc)


def test_traccar_speed_in_knots_becomes_km_h_and_attributes_keep_scalars():
    body = traccar("860000000000001", AT, 31.78, 119.95, knots=10.0, course=370.0,
                   odometer=12345.5, raw={"nested": 1})
    fix = parse_traccar(body)
    assert (fix.device_id, fix.at, fix.lat, fix.lng) == ("860000000000001", AT, 31.78, 119.95)
    assert fix.speed_kmh == 18.52 and fix.course == 10.0 and fix.altitude == 12.0
    assert fix.attributes == {"ignition": True, "motion": True, "odometer": 12345.5}
    assert fix.source == "traccar" and fix.device_valid


@pytest.mark.parametrize("timestamp", [
    "1796085000", "1796085000000", "2026-12-01T00:30:00Z", "2026-12-01T08:30:00+08:00",
    "2026-12-01 00:30:00",
])
def test_osmand_timestamps_in_every_documented_form(timestamp):
    fix = parse_osmand_params({"id": "p1", "lat": "31.7", "lon": "119.9", "timestamp": timestamp})
    assert fix.at == AT


@pytest.mark.parametrize("params, speed", [
    ({"speed": "10"}, 18.52), ({"speed": "-1"}, None), ({}, None), ({"speed": "0"}, 0.0)])
def test_osmand_parameters_speed_is_knots(params, speed):
    fix = parse_osmand_params({"id": "p1", "lat": "31.7", "lon": "119.9",
                               "timestamp": "1796085000", **params})
    assert fix.speed_kmh == speed


def test_osmand_json_speed_is_metres_per_second_and_battery_a_fraction():
    fix = parse_osmand_json({"device_id": 48241179, "location": {
        "timestamp": "2026-12-01T00:30:00.000Z",
        "coords": {"latitude": 31.7, "longitude": 119.9, "speed": 10, "heading": -1},
        "battery": {"level": 0.42, "is_charging": True}, "is_moving": True}})
    assert (fix.device_id, fix.speed_kmh, fix.course) == ("48241179", 36.0, None)
    assert fix.attributes == {"batteryLevel": 42.0, "charge": True, "motion": True}


@pytest.mark.parametrize("params, field", [
    ({"lat": "31.7", "lon": "119.9", "timestamp": "1796085000"}, "id"),
    ({"id": "p", "lon": "119.9", "timestamp": "1796085000"}, "lat"),
    ({"id": "p", "lat": "31.7", "lon": "200", "timestamp": "1796085000"}, "lon"),
    ({"id": "p", "lat": "nan", "lon": "119.9", "timestamp": "1796085000"}, "lat"),
    ({"id": "p", "lat": "31.7", "lon": "119.9"}, "timestamp"),
    ({"id": "p", "lat": "31.7", "lon": "119.9", "timestamp": "soon"}, "timestamp"),
    ({"id": "p", "lat": "31.7", "lon": "119.9", "timestamp": "1e400"}, "timestamp"),
    ({"id": "p", "lat": "31.7", "lon": "119.9", "timestamp": "1796085000", "valid": "yes"},
     "valid"),
    ({"id": "x" * 65, "lat": "31.7", "lon": "119.9", "timestamp": "1796085000"}, "id"),
])
def test_osmand_parameters_that_are_no_fix_name_the_field(params, field):
    with pytest.raises(ValidationFailed) as refused:
        parse_osmand_params(params)
    assert field in refused.value.errors


def test_a_time_without_offset_is_utc_as_traccar_writes_it():
    body = traccar("d", AT, 31.7, 119.9)
    body["position"]["fixTime"] = "2026-12-01T00:30:00.000"
    assert parse_traccar(body).at == AT


@pytest.mark.parametrize("fix_time", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_time_beyond_what_utc_can_hold_is_refused_naming_the_field(fix_time):
    body = traccar("d", AT, 31.7, 119.9)
    body["position"]["fixTime"] = fix_time
    with pytest.raises(ValidationFailed) as refused:
        parse_traccar(body)
    assert refused.value.errors == {"position.fixTime": ["时间超出可表示的范围"]}
