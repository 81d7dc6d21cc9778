"""Quote policy: classes per passengers, ride-hailing tiers, rental lead time and ceiling, ranking."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.quotes import policy as p

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)


def trip(passengers=2, requested=None, depart=NOW + timedelta(days=1), hours=3, km="30"):
    return p.QuotedTrip(passengers, requested, depart, depart + timedelta(hours=hours), Decimal(km))


def offer(channel="fleet", cls="sedan", seats=4, price="100", nev=False, tier=None, **kw):
    return p.OfferFacts(channel, cls, seats, Decimal(price), nev, tier=tier, **kw)


@pytest.mark.parametrize("passengers, smallest", [
    (1, "sedan"), (4, "sedan"), (5, "mpv"), (6, "mpv"), (7, "minibus"), (18, "minibus"),
    (19, "bus"), (45, "bus"), (46, None)])
def test_smallest_class(passengers, smallest):
    assert p.smallest_class(passengers) == smallest


@pytest.mark.parametrize("passengers, requested, classes", [
    (2, None, ("sedan",)), (2, "mpv", ("sedan", "mpv")), (2, "sedan", ("sedan",)),
    (8, "mpv", ("minibus",)), (30, None, ("bus",)), (50, None, ())])
def test_classes_to_quote(passengers, requested, classes):
    assert p.classes_to_quote(passengers, requested) == classes


@pytest.mark.parametrize("cls, seats, passengers, requested, compliant", [
    ("sedan", 4, 4, None, True),
    ("sedan", 4, 5, None, False),   # too small
    ("mpv", 6, 2, None, False),     # bigger than needed
    ("mpv", 6, 2, "mpv", True),     # bigger, but asked for
    ("minibus", 17, 18, None, False),  # a 17-seat minibus cannot take 18
    ("bus", 45, 30, None, True),
])
def test_class_rules(cls, seats, passengers, requested, compliant):
    assert (p.class_reasons(cls, seats, trip(passengers, requested)) == []) is compliant


def test_an_oversized_class_names_the_fitting_one_in_the_tariff_s_words():
    # The traveller reads the same class names as on the charge (社会租赁中巴…) and the app.
    assert p.class_reasons("bus", 45, trip(10)) == ["超出用车标准：10人应使用中巴"]
    assert p.class_reasons("minibus", 18, trip(5)) == ["超出用车标准：5人应使用商务车"]


@pytest.mark.parametrize("tier, compliant", [
    ("economy", True), ("comfort", True), ("business", False), ("luxury", False), (None, False)])
def test_ridehail_tiers(tier, compliant):
    assert (p.ridehail_reasons(tier) == []) is compliant


@pytest.mark.parametrize("lead, compliant", [
    (timedelta(hours=1, minutes=59), False), (timedelta(hours=2), True),
    (timedelta(days=30), True), (timedelta(days=30, minutes=1), False)])
def test_rental_lead_time(lead, compliant):
    assert (p.lead_time_reasons(NOW + lead, NOW) == []) is compliant


@pytest.mark.parametrize("cls, hours, km, discounted, ceiling", [
    ("sedan", 24, "80", True, "425.00"),     # SPEC: 500 × 0.85
    ("mpv", 24, "180", True, "902.70"),      # SPEC: 180 × 5.9 × 0.85
    ("sedan", 3, "40", True, "212.50"),      # SPEC: half day
    ("sedan", 3, "60", True, "425.00"),      # > 50 km: a full day
    ("sedan", 30, "150", True, "850.00"),    # two started days, 150 ≤ 200 km
    ("bus", 5, "20", False, "1400.00"),      # market reference, no discount
])
def test_rental_ceiling(cls, hours, km, discounted, ceiling):
    assert p.rental_ceiling(cls, NOW, NOW + timedelta(hours=hours), Decimal(km),
                            discounted=discounted) == Decimal(ceiling)


@pytest.mark.parametrize("candidate, compliant, reason", [
    (offer(), True, None),
    (offer("ridehail", tier="luxury"), False, "经济型"),
    (offer("rental", price="212.50"), True, None),
    (offer("rental", price="212.51"), False, "协议限价212.50"),
    (offer("rental", cls="mpv", seats=7, price="100"), False, "超出用车标准"),
])
def test_assess(candidate, compliant, reason):
    got = p.assess(candidate, trip(km="40"), NOW)
    assert got.compliant is compliant
    assert reason is None or reason in "".join(got.reasons)


def test_assess_rental_lead_time():
    got = p.assess(offer("rental", price="1"), trip(depart=NOW + timedelta(hours=1)), NOW)
    assert got.reasons == ("租赁用车须至少提前2小时预订",)


def test_ranking_compliant_then_price_then_nev_then_fleet():
    offers = [
        offer("ridehail", price="50", tier="luxury", compliant=False),  # cheapest, not allowed
        offer("rental", price="60"),
        offer("ridehail", price="60", nev=True),
        offer("fleet", price="60", nev=True),
        offer("fleet", price="30", available=False),
        offer("fleet", price="70"),
    ]
    assert p.rank(offers) == [3, 2, 1, 5, 4, 0]
    assert p.recommended(offers) == 3


def test_nothing_recommended_when_nothing_is_compliant():
    offers = [offer(compliant=False), replace(offer(), available=False)]
    assert p.recommended(offers) is None
    assert p.recommended([]) is None
