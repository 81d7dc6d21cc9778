"""Is a stop inside the platform's city? Decides ``cross_region`` (SPEC §2 step 2).

The boundary is the city's bounding box from configuration, and only the coordinates
decide: a stop's ``region_code`` (from a map picker) is the client's claim and is kept
for display, never trusted — a Shanghai stop labelled 320400 would otherwise skip the
platform approval step and the out-of-city tariff. A polygon or map-API lookup can
replace ``in_city`` without touching callers.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CityBounds:
    region_code: str
    south: float
    west: float
    north: float
    east: float

    @classmethod
    def parse(cls, region_code: str, text: str) -> "CityBounds":
        south, west, north, east = (float(x) for x in text.split(","))
        return cls(region_code, south, west, north, east)

    def in_city(self, stop: dict) -> bool:
        return self.south <= stop["lat"] <= self.north and self.west <= stop["lng"] <= self.east


def is_cross_region(bounds: CityBounds, stops: list[dict]) -> bool:
    return any(not bounds.in_city(stop) for stop in stops)
