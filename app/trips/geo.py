"""Is a stop inside the platform's city? Decides ``cross_region`` (SPEC §2 step 2).

The default boundary is the city's bounding box from configuration; a stop may also carry
an explicit ``region_code`` (from a map picker), which wins. A polygon or map-API lookup
can replace ``in_city`` without touching callers.
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
        code = stop.get("region_code")
        if code:
            # Region codes nest: 320402 (a district) lies in 320400 (the city).
            return str(code).startswith(self.region_code.rstrip("0")[:4])
        return self.south <= stop["lat"] <= self.north and self.west <= stop["lng"] <= self.east


def is_cross_region(bounds: CityBounds, stops: list[dict]) -> bool:
    return any(not bounds.in_city(stop) for stop in stops)
