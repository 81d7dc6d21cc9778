"""WGS-84 ↔ GCJ-02 ("Mars coordinates"), for map APIs in mainland China.

Our stops, tracks and positions are WGS-84 (GPS). Gaode/AMap and the ride-hailing
platforms expect GCJ-02, the obfuscated datum every map in China is published in; we
convert at the adapter's edge and never store GCJ-02. The forward transform is the
published one (Krasovsky 1940 ellipsoid); the inverse is its fixed-point iteration
(a few centimetres after three rounds). Outside China both datums coincide.
"""
from __future__ import annotations

import math

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # its first eccentricity squared


def out_of_china(lat: float, lng: float) -> bool:
    return not (73.66 < lng < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lat: float, lng: float) -> tuple[float, float]:
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """(lat, lng) on WGS-84 → (lat, lng) on GCJ-02."""
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _offset(lat, lng)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """(lat, lng) on GCJ-02 → WGS-84, by iterating the forward transform."""
    if out_of_china(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(3):
        g_lat, g_lng = wgs84_to_gcj02(w_lat, w_lng)
        w_lat, w_lng = w_lat - (g_lat - lat), w_lng - (g_lng - lng)
    return w_lat, w_lng
