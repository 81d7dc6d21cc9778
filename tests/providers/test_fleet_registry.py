"""The fleet adapter's price and availability seams; the registry.

The paid-use price itself is the billing engine's (tests/billing, tests/quotes/test_quotes.py)."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from providers.base import FeeLine, NotApplicable
from providers.fleet import Candidate, FleetProvider
from providers.registry import DEFAULTS, build_providers, load_config
from tests.factories import quote_request

SH = timezone(timedelta(hours=8))


def at(day, hh, mm=0):
    return datetime(2026, 12, day, hh, mm, tzinfo=SH)


def flat_price(vehicle_class, request):
    return (FeeLine("time_block", "包段计时", {"sedan": Decimal("60.00")}.get(vehicle_class,
                                                                      Decimal("100.00"))),)


def candidate(cls="sedan", nev=False, seats=4, vid=1):
    return Candidate(vid, f"苏D{vid}", cls, seats, nev, driver_id=1)


def test_fleet_offers_fitting_classes_preferring_nev():
    seen = []

    def availability(cls, seats, start, end):
        seen.append((cls, seats))
        return {"sedan": [candidate(), candidate(nev=True, vid=2)], "mpv": []}[cls]

    fleet = FleetProvider(availability=availability, price=flat_price, now=lambda: at(1, 8))
    offer, = fleet.quote(quote_request(vehicle_classes=("sedan", "mpv")))
    assert seen == [("sedan", 2), ("mpv", 2)]
    assert (offer.vehicle_class, offer.nev, offer.price) == ("sedan", True, Decimal("60.00"))
    assert offer.expires_at == at(1, 8, 30) and offer.extra["candidates"] == 2


def test_fleet_products_carry_the_class_label_the_tariff_uses():
    fleet = FleetProvider(availability=lambda cls, *a: [candidate(cls, seats=17)],
                          price=flat_price, now=lambda: at(1, 8))
    offers = fleet.quote(quote_request(vehicle_classes=("minibus", "bus")))
    assert [o.product for o in offers] == ["公车平台·中巴", "公车平台·大巴"]


def test_fleet_without_vehicles_is_not_applicable():
    fleet = FleetProvider(availability=lambda *a: [], price=flat_price)
    with pytest.raises(NotApplicable):
        fleet.quote(quote_request())


def test_registry_defaults_overrides_and_replacement():
    assert [c.name for c in load_config("")] == ["fleet", "ridehail", "rental-a", "rental-b",
                                                 "didi"]
    assert list(build_providers(load_config(""), fleet_availability=lambda *a: [],
                                fleet_price=flat_price)) == ["fleet", "ridehail", "rental-a",
                                                             "rental-b"]  # didi is off
    cfg = load_config(json.dumps({"rental-b": {"enabled": False},
                                  "ridehail": {"base_url": "https://open.example.com"},
                                  "caocao": {"kind": "ridehail", "base_url": "http://x"},
                                  "didi": {"enabled": True}}))
    providers = build_providers(cfg, fleet_availability=lambda *a: [],
                                fleet_price=flat_price)
    assert list(providers) == ["fleet", "ridehail", "rental-a", "didi", "caocao"]
    assert type(providers["didi"]).__name__ == "DidiRideHailProvider"
    assert providers["didi"].client.protocol.envelope.code_field == "errno"
    assert type(providers["caocao"]).__name__ == "RideHailProvider"
    assert providers["ridehail"].client.base_url == "https://open.example.com"
    assert providers["rental-a"].client.secret == DEFAULTS[2].secret
    only = load_config(json.dumps([{"name": "fleet", "kind": "fleet"}]))
    assert list(build_providers(only, fleet_availability=lambda *a: [],
                                fleet_price=flat_price)) == ["fleet"]
    with pytest.raises(ValueError):
        load_config(json.dumps({"ridehail": {"bogus": 1}}))
