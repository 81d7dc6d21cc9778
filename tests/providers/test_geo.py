"""WGS-84 → GCJ-02 against the published test points (googollee/eviltransform's suite)."""
import pytest

from providers.geo import gcj02_to_wgs84, out_of_china, wgs84_to_gcj02

# wgs lat, wgs lng, gcj lat, gcj lng
PUBLISHED = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize("wlat,wlng,glat,glng", PUBLISHED)
def test_published_points(wlat, wlng, glat, glng):
    lat, lng = wgs84_to_gcj02(wlat, wlng)
    assert lat == pytest.approx(glat, abs=1e-9) and lng == pytest.approx(glng, abs=1e-9)
    back = gcj02_to_wgs84(glat, glng)
    assert back == pytest.approx((wlat, wlng), abs=1e-8)  # about a millimetre


def test_changzhou_moves_by_a_few_hundred_metres_and_the_world_outside_china_not_at_all():
    lat, lng = wgs84_to_gcj02(31.81, 119.97)
    assert 0.001 < abs(lat - 31.81) < 0.01 and 0.001 < abs(lng - 119.97) < 0.01
    assert out_of_china(48.8566, 2.3522)
    assert wgs84_to_gcj02(48.8566, 2.3522) == (48.8566, 2.3522)
    assert gcj02_to_wgs84(48.8566, 2.3522) == (48.8566, 2.3522)
