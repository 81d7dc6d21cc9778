"""WGS-84 ↔ GCJ-02 against published points, and the distances the rules measure."""
import math

import pytest

from app.positions.geometry import distance_to_path_km, simplify, travelled_km
from providers.geo import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02
from providers.route import haversine_km

# (WGS-84, GCJ-02) pairs published with the reference implementations of the transform.
PUBLISHED = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),    # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),    # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),    # Beijing
]


@pytest.mark.parametrize("wgs, gcj", PUBLISHED)
def test_wgs84_to_gcj02_gives_the_published_point(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-7)


@pytest.mark.parametrize("wgs, gcj", PUBLISHED)
def test_gcj02_back_to_wgs84_within_a_decimetre(wgs, gcj):
    back = gcj02_to_wgs84(*gcj)
    assert haversine_km(back, wgs) * 1000 < 0.1


def test_the_offset_in_changzhou_is_hundreds_of_metres():
    city_hall = (31.8106, 119.9741)
    assert 0.3 < haversine_km(city_hall, wgs84_to_gcj02(*city_hall)) < 0.8


@pytest.mark.parametrize("point", [(48.8584, 2.2945), (-33.8568, 151.2153), (0.0, 0.0)])
def test_outside_china_both_datums_are_the_same(point):
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point == gcj02_to_wgs84(*point)


def test_distance_to_a_path_is_to_its_nearest_segment_not_its_stops():
    # a straight east-west road 10 km long; a point 2 km north of its middle
    path = [(31.78, 119.90), (31.78, 119.90 + 10 / 94.65)]
    middle_north = (31.78 + 2 / 111.2, 119.90 + 5 / 94.65)
    assert distance_to_path_km(middle_north, path) == pytest.approx(2.0, abs=0.01)
    beyond_the_end = (31.78, 119.90 + 13 / 94.65)  # past the end: distance to the end stop
    assert distance_to_path_km(beyond_the_end, path) == pytest.approx(3.0, abs=0.02)
    assert distance_to_path_km(middle_north, path[:1]) == pytest.approx(
        haversine_km(middle_north, path[0]), rel=1e-3)


def test_travelled_distance_is_the_great_circle_legs_beyond_the_jitter():
    legs = [(31.0, 120.0), (31.0, 120.1), (31.1, 120.1)]
    assert travelled_km(legs, 0.03) == pytest.approx(
        haversine_km(legs[0], legs[1]) + haversine_km(legs[1], legs[2]), rel=1e-3)
    assert travelled_km(legs[:1], 0.03) == 0
    # 20 m steps are jitter one by one, but count once they add up past 30 m
    creep = [(31.0, 120.0 + i * 0.00021) for i in range(11)]  # 10 steps of 20 m
    assert travelled_km(creep, 0.03) == pytest.approx(0.2, abs=0.021)


def test_douglas_peucker_drops_points_within_the_tolerance_and_keeps_corners():
    # east 1 km in 100 steps with 2 m of wobble, then north 1 km
    east = [(31.78 + (0.000018 if i % 2 else 0), 119.95 + i * 0.0001057) for i in range(100)]
    corner = east[-1]
    north = [(corner[0] + i * 0.00009, corner[1]) for i in range(1, 100)]
    points = east + north
    kept = simplify(points, 10.0)
    assert kept[0] == 0 and kept[-1] == len(points) - 1
    assert 99 in kept  # the corner
    assert len(kept) <= 5
    assert len(simplify(points, 1.0)) > 50  # under the wobble everything stays
    assert simplify(points[:2], 10.0) == [0, 1]
    assert math.isclose(travelled_km([points[i] for i in kept], 0.03), 2.0, rel_tol=0.02)
