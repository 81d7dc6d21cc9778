"""The fleet adapter's paid-use estimate (SPEC §5.1) and availability seam; the registry."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from providers.base import NotApplicable
from providers.fleet import Candidate, FleetProvider, paid_use_estimate
from providers.registry import DEFAULTS, build_providers, load_config
from tests.providers.conftest import quote_request

SH = timezone(timedelta(hours=8))


def at(day, hh, mm=0):
    return datetime(2026, 12, day, hh, mm, tzinfo=SH)


@pytest.mark.parametrize("cls, start, end, km, cross, total", [
    ("sedan", at(1, 9), at(1, 11), "10", False, "30.00"),
    ("sedan", at(1, 9), at(1, 12, 10), "10", False, "60.00"),
    ("mpv", at(1, 8), at(1, 18, 30), "10", False, "290.00"),
    ("bus", at(1, 8), at(1, 16), "10", False, "600.00"),
    ("sedan", at(1, 7, 30), at(1, 19), "260", True, "430.00"),
    ("sedan", at(1, 8), at(1, 18), "40", True, "166.00"),
    ("minibus", at(1, 8), at(2, 18), "500", True, "1950.00"),  # 200+250+800+500 + 2 days
])
def test_paid_use_estimate(cls, start, end, km, cross, total):
    request = quote_request(depart_at=start, return_at=end, est_km=Decimal(km), cross_region=cross)
    assert sum(line.amount for line in paid_use_estimate(cls, request)) == Decimal(total)


def candidate(cls="sedan", nev=False, seats=4, vid=1):
    return Candidate(vid, f"苏D{vid}", cls, seats, nev, driver_id=1)


def test_fleet_offers_fitting_classes_preferring_nev():
    seen = []

    def availability(cls, seats, start, end):
        seen.append((cls, seats))
        return {"sedan": [candidate(), candidate(nev=True, vid=2)], "mpv": []}[cls]

    fleet = FleetProvider(availability=availability, now=lambda: at(1, 8))
    offer, = fleet.quote(quote_request(vehicle_classes=("sedan", "mpv")))
    assert seen == [("sedan", 2), ("mpv", 2)]
    assert (offer.vehicle_class, offer.nev, offer.price) == ("sedan", True, Decimal("60.00"))
    assert offer.expires_at == at(1, 8, 30) and offer.extra["candidates"] == 2


def test_fleet_without_vehicles_is_not_applicable():
    fleet = FleetProvider(availability=lambda *a: [])
    with pytest.raises(NotApplicable):
        fleet.quote(quote_request())


def test_registry_defaults_overrides_and_replacement():
    assert [c.name for c in load_config("")] == ["fleet", "ridehail", "rental-a", "rental-b"]
    cfg = load_config(json.dumps({"rental-b": {"enabled": False},
                                  "ridehail": {"base_url": "https://open.example.com"},
                                  "didi": {"kind": "ridehail", "base_url": "http://x"}}))
    providers = build_providers(cfg, fleet_availability=lambda *a: [])
    assert list(providers) == ["fleet", "ridehail", "rental-a", "didi"]
    assert providers["ridehail"].client.base_url == "https://open.example.com"
    assert providers["rental-a"].client.secret == DEFAULTS[2].secret
    only = load_config(json.dumps([{"name": "fleet", "kind": "fleet"}]))
    assert list(build_providers(only, fleet_availability=lambda *a: [])) == ["fleet"]
    with pytest.raises(ValueError):
        load_config(json.dumps({"ridehail": {"bogus": 1}}))
