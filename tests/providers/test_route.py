"""Route estimates: WGS-84 → GCJ-02 at the edge, Gaode's driving-route API over real HTTP to
its sandbox, and the straight-line estimate whenever the API is down, slow or refuses."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from providers.geo import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02
from providers.route import (FallbackRoute, GaodeRoute, HaversineRoute, RouteUnavailable,
                             haversine_km)
from providers.sandbox import gaode as gaode_sandbox
from providers.sandbox.server import SandboxServer

CHANGZHOU = (31.81, 119.97)  # 市民广场
NANJING = (32.06, 118.78)  # 江苏省政府
WUJIN = (31.70, 119.94)


@pytest.fixture
def gaode():
    with SandboxServer(gaode_sandbox.create_app("test-key")) as server:
        yield server


def fault(server, **rule):
    requests.post(f"{server.url}/__sandbox/faults", json=rule, timeout=2).raise_for_status()


def sent(server) -> list[dict]:
    return requests.get(f"{server.url}/__sandbox/requests", timeout=2).json()["requests"]


# --- GCJ-02 ---------------------------------------------------------------------------------

def test_wgs84_to_gcj02_matches_the_published_transform():
    # Tiananmen, the reference pair of the widely used coordTransform implementations.
    lat, lng = wgs84_to_gcj02(39.915, 116.404)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)
    assert lng == pytest.approx(116.41024449916938, abs=1e-9)


def test_gcj02_offset_in_changzhou_is_hundreds_of_metres_and_inverts():
    shifted = wgs84_to_gcj02(*CHANGZHOU)
    assert 0.1 < haversine_km(CHANGZHOU, shifted) < 0.8
    back = gcj02_to_wgs84(*shifted)
    assert haversine_km(CHANGZHOU, back) < 0.001  # under a metre


def test_outside_china_nothing_moves():
    assert out_of_china(48.86, 2.35)
    assert wgs84_to_gcj02(48.86, 2.35) == (48.86, 2.35)
    assert gcj02_to_wgs84(48.86, 2.35) == (48.86, 2.35)


# --- Gaode over HTTP ------------------------------------------------------------------------

def test_gaode_answers_the_road_distance_through_every_point(gaode):
    route = GaodeRoute(gaode.url, "test-key")
    out_and_back = route.estimate([CHANGZHOU, NANJING, CHANGZHOU])
    one_way = route.estimate([CHANGZHOU, NANJING])
    assert out_and_back.source == "gaode"
    assert Decimal("270") < out_and_back.km < Decimal("320")  # a Changzhou → Nanjing day trip
    assert abs(out_and_back.km - 2 * one_way.km) <= Decimal("0.2")
    assert out_and_back.minutes > one_way.minutes > 100
    request = sent(gaode)[0]
    lat, lng = wgs84_to_gcj02(*CHANGZHOU)
    assert request["origin"] == f"{lng:.6f},{lat:.6f}" == request["destination"]
    n_lat, n_lng = wgs84_to_gcj02(*NANJING)
    assert request["waypoints"] == f"{n_lng:.6f},{n_lat:.6f}"  # lng,lat on GCJ-02
    assert request["key"] == "test-key"


def test_several_waypoints_are_joined_by_semicolons(gaode):
    GaodeRoute(gaode.url, "test-key").estimate([CHANGZHOU, WUJIN, NANJING, CHANGZHOU])
    assert sent(gaode)[0]["waypoints"].count(";") == 1


def test_wrong_key_is_refused(gaode):
    with pytest.raises(RouteUnavailable, match="INVALID_USER_KEY"):
        GaodeRoute(gaode.url, "stolen-key").estimate([CHANGZHOU, NANJING])


def _fallback(server, key="test-key", read_timeout=1.0):
    straight = HaversineRoute()
    return FallbackRoute(GaodeRoute(server.url, key, read_timeout=read_timeout), straight), \
        straight.estimate([CHANGZHOU, NANJING, CHANGZHOU])


@pytest.mark.parametrize("rule", [{"fault": "5xx"}, {"fault": "malformed"},
                                  {"fault": "hang", "hang_seconds": 2},
                                  {"latency_ms": 1200}])
def test_straight_lines_when_gaode_is_down_slow_or_garbled(gaode, rule):
    fault(gaode, **rule, times=1)
    route, straight = _fallback(gaode, read_timeout=0.4)
    estimate = route.estimate([CHANGZHOU, NANJING, CHANGZHOU])
    assert estimate == straight and estimate.source == "straight_line"
    one_way = HaversineRoute().estimate([CHANGZHOU, NANJING])
    assert abs(estimate.km - 2 * one_way.km) <= Decimal("0.1")  # straight lines, out and back
    # The rule was used up: the next estimate is Gaode's again.
    assert route.estimate([CHANGZHOU, NANJING, CHANGZHOU]).source == "gaode"


def test_straight_lines_when_the_key_is_refused_or_nothing_listens(gaode):
    route, straight = _fallback(gaode, key="wrong")
    assert route.estimate([CHANGZHOU, NANJING, CHANGZHOU]) == straight
    url = gaode.url
    gaode.stop()
    down = FallbackRoute(GaodeRoute(url, "test-key", read_timeout=0.5), HaversineRoute())
    assert down.estimate([CHANGZHOU, NANJING, CHANGZHOU]) == straight
    gaode.start = lambda: None  # the fixture's exit stops it again: already done
    gaode.stop = lambda: None


def test_a_single_point_is_no_route(gaode):
    estimate = GaodeRoute(gaode.url, "test-key").estimate([CHANGZHOU, CHANGZHOU])
    assert estimate.km == Decimal("0.0") and estimate.minutes == 0
    assert sent(gaode) == []
