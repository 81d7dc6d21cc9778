"""Paid-use tariff, rental ceiling and bill flags: SPEC §5.1–5.4 worked examples and edges."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from app.billing.tariff import (
    DEFAULT_FLEET_TARIFF as FLEET,
    DEFAULT_RENTAL_AGREEMENT as RENTAL,
    FLAG_OVER_ESTIMATE,
    ChargeableRun,
    FleetTariff,
    RentalAgreement,
    TariffError,
    fleet_charge,
    market_reference,
    meal_days,
    over_ceiling,
    rental_ceiling,
    rental_lead_time_ok,
    rental_quote,
    ridehail_flags,
    savings,
    version_in_force,
    waiting_km,
)

SH = ZoneInfo("Asia/Shanghai")


def at(hhmm: str, day: int = 1) -> datetime:
    """An Asia/Shanghai time on 2026-10-<day>."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 10, day, h, m, tzinfo=SH)


def trip(cls="sedan", cross=False, start="09:00", end="12:00", km="30", wait=0, end_day=1, **money):
    return ChargeableRun(
        vehicle_class=cls,
        cross_region=cross,
        started_at=at(start),
        finished_at=at(end, end_day),
        odometer_km=D(km),
        waiting_minutes=wait,
        **{k: D(v) for k, v in money.items()},
    )


def amounts(charge):
    return [(line.kind, str(line.amount)) for line in charge.lines]


# --- SPEC §5.1 worked examples ------------------------------------------------


@pytest.mark.parametrize(
    "facts, lines, total",
    [
        (
            trip("sedan", False, "09:00", "12:10", parking="10"),
            [("time_block", "60.00"), ("parking", "10.00")],
            "70.00",
        ),
        (
            trip("mpv", False, "08:00", "18:30"),
            [("time_block", "200.00"), ("overtime", "90.00")],
            "290.00",
        ),
        (
            trip("sedan", True, "07:30", "19:00", km="250", wait=75, tolls="85.50"),
            [("mileage", "330.00"), ("meal_allowance", "100.00"), ("toll", "85.50")],
            "515.50",
        ),
        (
            trip("sedan", True, "07:30", "19:00", km="40"),
            [("mileage", "66.00"), ("meal_allowance", "100.00")],
            "166.00",
        ),
    ],
    ids=["sedan-in-city-parking", "mpv-in-city-overtime", "sedan-cross-250km-wait", "sedan-cross-min-60km"],
)
def test_fleet_worked_examples(facts, lines, total):
    charge = fleet_charge(FLEET, facts)
    assert amounts(charge) == lines
    assert charge.total == D(total)
    assert str(charge.total) == total


def test_worked_example_lines_explain_themselves_in_chinese():
    charge = fleet_charge(FLEET, trip("sedan", True, "07:30", "19:00", km="250", wait=75, tolls="85.50"))
    assert charge.lines[0].description == "跨区域里程 260 公里（含等候折算 10 公里）：100×1.10 + 100×1.30 + 60×1.50"
    assert charge.lines[1].description == "驾驶员餐补 1 天 × 100.00"
    assert charge.lines[2].description == "通行费（实报实销）"


# --- SPEC §5.2 worked examples ------------------------------------------------


@pytest.mark.parametrize(
    "cls, start, end, end_day, km, ceiling",
    [
        ("sedan", "08:00", "18:00", 1, "80", "425.00"),
        ("mpv", "08:00", "18:00", 1, "180", "902.70"),
        ("sedan", "09:00", "12:00", 1, "40", "212.50"),
    ],
    ids=["sedan-1-day-80km", "mpv-1-day-180km", "sedan-half-day"],
)
def test_rental_worked_examples(cls, start, end, end_day, km, ceiling):
    assert rental_ceiling(RENTAL, cls, at(start), at(end, end_day), D(km)) == D(ceiling)


# --- in-city time blocks --------------------------------------------------------


@pytest.mark.parametrize(
    "cls, minutes, total",
    [
        ("sedan", 0, "30.00"),
        ("sedan", 120, "30.00"),
        ("sedan", 121, "60.00"),
        ("sedan", 240, "60.00"),
        ("sedan", 241, "120.00"),
        ("sedan", 480, "120.00"),
        ("sedan", 481, "140.00"),
        ("sedan", 540, "140.00"),
        ("sedan", 541, "160.00"),
        ("mpv", 120, "50.00"),
        ("minibus", 480, "400.00"),
        ("minibus", 481, "450.00"),
        ("bus", 240, "300.00"),
        ("bus", 8 * 60 + 24 * 60, "2520.00"),
    ],
)
def test_in_city_time_blocks(cls, minutes, total):
    start = at("07:00")
    facts = ChargeableRun(cls, False, start, start + timedelta(minutes=minutes), D("10"))
    assert fleet_charge(FLEET, facts).total == D(total)


def test_a_second_past_eight_hours_is_a_started_hour():
    start = at("07:00")
    facts = ChargeableRun("sedan", False, start, start + timedelta(hours=8, seconds=1), D("10"))
    assert amounts(fleet_charge(FLEET, facts)) == [("time_block", "120.00"), ("overtime", "20.00")]


def test_in_city_trip_has_no_meal_allowance_even_over_midnight():
    facts = trip("sedan", False, "20:00", "02:00", end_day=2)
    assert [line.kind for line in fleet_charge(FLEET, facts).lines] == ["time_block"]


# --- cross-region km bands ------------------------------------------------------


@pytest.mark.parametrize(
    "cls, km, mileage",
    [
        ("sedan", "59.9", "66.00"),
        ("sedan", "60", "66.00"),
        ("sedan", "60.1", "66.11"),
        ("sedan", "100", "110.00"),
        ("sedan", "100.5", "110.65"),
        ("sedan", "200", "240.00"),
        ("sedan", "201", "241.50"),
        ("sedan", "400", "540.00"),
        ("sedan", "401", "541.70"),
        ("mpv", "100", "150.00"),
        ("mpv", "500", "910.00"),
        ("minibus", "200", "450.00"),
        ("minibus", "400", "1250.00"),
        ("bus", "0", "180.00"),
        ("bus", "450", "1950.00"),
        ("sedan", "0.333", "66.00"),
        ("sedan", "100.333", "110.43"),
    ],
)
def test_cross_region_progressive_bands(cls, km, mileage):
    charge = fleet_charge(FLEET, trip(cls, True, "08:00", "17:00", km=km))
    assert charge.lines[0].kind == "mileage"
    assert charge.lines[0].amount == D(mileage)


@pytest.mark.parametrize(
    "minutes, extra_km",
    [(0, 0), (29, 0), (30, 0), (31, 5), (60, 5), (61, 10), (75, 10), (90, 10), (91, 15), (600, 95)],
)
def test_waiting_km(minutes, extra_km):
    assert waiting_km(FLEET, minutes) == extra_km


@pytest.mark.parametrize(
    "km, wait, mileage",
    [
        ("50", 31, "66.00"),  # 55 km still below the minimum
        ("55", 31, "66.00"),  # 60 km exactly
        ("56", 31, "67.10"),
        ("98", 31, "113.90"),  # waiting pushes across the 100 km band boundary
    ],
)
def test_waiting_counts_towards_minimum_and_bands(km, wait, mileage):
    charge = fleet_charge(FLEET, trip("sedan", True, "08:00", "17:00", km=km, wait=wait))
    assert charge.lines[0].amount == D(mileage)


# --- meal allowance by Asia/Shanghai calendar day -------------------------------


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (at("07:30"), at("19:00"), 1),
        (at("20:00"), at("02:00", 2), 2),
        (at("00:00"), at("23:59"), 1),
        (at("08:00"), at("00:00", 2), 1),  # arriving at midnight does not touch the next day
        (at("08:00"), at("00:01", 2), 2),
        (at("08:00"), at("18:00", 3), 3),
        (at("08:00"), at("08:00"), 1),
        # 2026-10-01 17:00 UTC is 10-02 01:00 in Shanghai: the rule is about local days
        (datetime(2026, 10, 1, 15, 0, tzinfo=timezone.utc), datetime(2026, 10, 1, 17, 0, tzinfo=timezone.utc), 2),
    ],
)
def test_meal_days(start, end, expected):
    assert meal_days(start, end) == expected


def test_multi_day_cross_region_trip():
    facts = trip("mpv", True, "08:00", "18:00", end_day=3, km="620", wait=0, tolls="300", parking="45", lodging="560")
    charge = fleet_charge(FLEET, facts)
    # 100×1.5 + 100×1.7 + 200×1.9 + 220×2.1 = 150 + 170 + 380 + 462
    assert amounts(charge) == [
        ("mileage", "1162.00"),
        ("meal_allowance", "300.00"),
        ("toll", "300.00"),
        ("parking", "45.00"),
        ("lodging", "560.00"),
    ]
    assert charge.total == D("2367.00")


def test_pass_through_lines_are_rounded_half_up_and_omitted_when_zero():
    charge = fleet_charge(FLEET, trip(tolls="12.345", parking="0", lodging="0.005"))
    assert amounts(charge) == [("time_block", "60.00"), ("toll", "12.35"), ("lodging", "0.01")]
    assert charge.total == sum(line.amount for line in charge.lines)


# --- rental ceiling ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, start, end, end_day, km, discounted, ceiling",
    [
        ("sedan", "08:00", "12:00", 1, "50", True, "212.50"),  # exactly 4 h and 50 km: half day
        ("sedan", "08:00", "12:01", 1, "50", True, "425.00"),  # just over 4 h
        ("sedan", "08:00", "12:00", 1, "50.1", True, "425.00"),  # just over 50 km
        ("sedan", "08:00", "12:00", 1, "50", False, "250.00"),
        ("sedan", "08:00", "08:00", 2, "100", True, "425.00"),  # exactly 24 h, 100 km: one day
        ("sedan", "08:00", "08:01", 2, "100", True, "850.00"),  # a started second day
        ("sedan", "08:00", "18:00", 1, "101", True, "429.25"),  # beyond 100 km/day: by km
        ("sedan", "08:00", "18:00", 3, "300", True, "1275.00"),
        ("sedan", "08:00", "18:00", 3, "301", True, "1279.25"),
        ("bus", "08:00", "18:00", 1, "80", False, "1400.00"),
        ("minibus", "08:00", "11:00", 1, "20", True, "382.50"),
        ("mpv", "08:00", "18:00", 1, "100", True, "510.00"),
    ],
)
def test_rental_ceiling_edges(cls, start, end, end_day, km, discounted, ceiling):
    assert rental_ceiling(RENTAL, cls, at(start), at(end, end_day), D(km), discounted) == D(ceiling)


def test_rental_quote_is_one_explained_line():
    charge = rental_quote(RENTAL, trip("mpv", False, "08:00", "18:00", km="180"))
    assert [(line.kind, line.description, line.amount) for line in charge.lines] == [
        ("rental", "社会租赁商务车（含驾驶员）：180 公里 × 5.90，协议折扣 15%", D("902.70"))
    ]


def test_market_reference_and_savings():
    facts = trip("sedan", True, "07:30", "19:00", km="250", wait=75, tolls="85.50")
    reference = market_reference(RENTAL, facts)
    assert reference == D("1250.00")  # 250 km × 5.0, no discount
    assert savings(reference, fleet_charge(FLEET, facts).total) == D("734.50")
    assert savings(D("100.00"), D("120.00")) == D("-20.00")


@pytest.mark.parametrize(
    "amount, ceiling, flagged",
    [("425.00", "425.00", False), ("425.01", "425.00", True), ("0.00", "425.00", False)],
)
def test_over_ceiling(amount, ceiling, flagged):
    assert over_ceiling(D(amount), D(ceiling)) is flagged


@pytest.mark.parametrize(
    "estimate, final, flags",
    [
        ("50.00", "60.00", frozenset()),
        ("50.00", "60.01", frozenset({FLAG_OVER_ESTIMATE})),
        ("50.00", "30.00", frozenset()),
        ("0.00", "5.00", frozenset({FLAG_OVER_ESTIMATE})),
    ],
)
def test_ridehail_flags(estimate, final, flags):
    assert ridehail_flags(D(estimate), D(final)) == flags


@pytest.mark.parametrize(
    "lead, ok",
    [
        (timedelta(hours=1, minutes=59), False),
        (timedelta(hours=2), True),
        (timedelta(days=30), True),
        (timedelta(days=30, seconds=1), False),
    ],
)
def test_rental_lead_time(lead, ok):
    assert rental_lead_time_ok(RENTAL, at("08:00"), at("08:00") + lead) is ok


# --- trip facts validation --------------------------------------------------------


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"started_at": datetime(2026, 10, 1, 9)}, ValueError),
        ({"finished_at": datetime(2026, 10, 1, 12)}, ValueError),
        ({"finished_at": at("08:00")}, ValueError),
        ({"vehicle_class": "limousine"}, ValueError),
        ({"odometer_km": 12.5}, TypeError),
        ({"tolls": D("-1")}, ValueError),
        ({"parking": D("NaN")}, ValueError),
        ({"waiting_minutes": -1}, ValueError),
        ({"waiting_minutes": 1.5}, TypeError),
    ],
)
def test_trip_facts_reject_bad_input(changes, error):
    fields = dict(
        vehicle_class="sedan",
        cross_region=False,
        started_at=at("09:00"),
        finished_at=at("12:00"),
        odometer_km=D("10"),
    )
    with pytest.raises(error):
        ChargeableRun(**{**fields, **changes})


def test_integer_money_is_accepted_as_decimal():
    facts = ChargeableRun("sedan", False, at("09:00"), at("10:00"), 12, tolls=5)
    assert facts.odometer_km == D("12") and isinstance(facts.tolls, D)


def test_rental_ceiling_rejects_naive_datetimes():
    with pytest.raises(ValueError):
        rental_ceiling(RENTAL, "sedan", datetime(2026, 10, 1, 8), datetime(2026, 10, 1, 9), D("10"))


# --- tariffs as versioned data ----------------------------------------------------


@pytest.mark.parametrize("tariff", [FLEET, RENTAL], ids=["fleet", "rental"])
def test_tariff_round_trips_through_json_data(tariff):
    import json

    data = json.loads(json.dumps(tariff.to_dict()))
    assert type(tariff).from_dict(data) == tariff


def test_default_fleet_tariff_data_matches_spec_tables():
    sedan = FLEET.to_dict()["classes"]["sedan"]
    assert sedan["time_blocks"] == [
        {"hours": 2, "price": "30"},
        {"hours": 4, "price": "60"},
        {"hours": 8, "price": "120"},
    ]
    assert sedan["km_bands"][-1] == {"up_to_km": None, "rate": "1.7"}
    assert RENTAL.to_dict()["discount"] == "0.15"


def test_edited_tariff_changes_the_charge():
    data = FLEET.to_dict()
    data["classes"]["sedan"]["time_blocks"][1]["price"] = "65.00"
    data["meal_allowance_per_day"] = "120.00"
    edited = FleetTariff.from_dict(data)
    assert fleet_charge(edited, trip("sedan", False, "09:00", "12:10")).total == D("65.00")
    assert fleet_charge(edited, trip("sedan", True, "08:00", "18:00", km="40")).total == D("186.00")


def _broken(path, value, base=None):
    data = (base or FLEET).to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "data, kind",
    [
        (_broken(("classes", "bus"), KeyError), FleetTariff),
        (_broken(("min_billed_km",), KeyError), FleetTariff),
        (_broken(("meal_allowance_per_day",), 100.0), FleetTariff),
        (_broken(("meal_allowance_per_day",), "abc"), FleetTariff),
        (_broken(("classes", "sedan", "extra_hour"), "-1"), FleetTariff),
        (_broken(("classes", "sedan", "km_bands", 3, "up_to_km"), 800), FleetTariff),
        (_broken(("classes", "sedan", "km_bands", 1, "up_to_km"), 50), FleetTariff),
        (_broken(("classes", "sedan", "time_blocks", 2, "hours"), 3), FleetTariff),
        (_broken(("waiting_step_minutes",), 0), FleetTariff),
        (_broken(("effective_from",), "2026-13-01"), FleetTariff),
        (_broken(("discount",), "1.5", RENTAL), RentalAgreement),
        (_broken(("classes", "mpv", "km_rate"), None, RENTAL), RentalAgreement),
    ],
)
def test_malformed_tariff_data_is_refused_in_chinese(data, kind):
    with pytest.raises(TariffError) as caught:
        kind.from_dict(data)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(caught.value))


def test_version_in_force_picks_latest_started_version_by_local_day():
    v2026 = FleetTariff.from_dict({**FLEET.to_dict(), "effective_from": "2026-01-01"})
    v2027 = FleetTariff.from_dict({**FLEET.to_dict(), "effective_from": "2027-01-01"})
    versions = [v2027, FLEET, v2026]
    assert version_in_force(versions, at("09:00")) is v2026
    # 2026-12-31 16:30 UTC is already 2027-01-01 in Shanghai
    assert version_in_force(versions, datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)) is v2027
    assert version_in_force(versions, datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)) is v2026
    assert version_in_force(versions, datetime(2010, 1, 1, tzinfo=SH)) is FLEET


def test_version_in_force_without_a_candidate_or_with_naive_time():
    with pytest.raises(LookupError):
        version_in_force([RENTAL], datetime(1999, 12, 31, tzinfo=SH))
    with pytest.raises(ValueError):
        version_in_force([RENTAL], datetime(2026, 10, 1))
    assert RENTAL.effective_from == date(2000, 1, 1)
