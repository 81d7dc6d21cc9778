"""Provider fee items as our lines: mapped kinds, an ``other`` remainder, nothing dropped."""
from decimal import Decimal

import pytest

from providers.fees import map_fee_lines, unmapped
from providers.ridehail import fee_lines

KINDS = {"start_price": "base", "normal_fee": "distance", "highway_fee": "tolls",
         "bridge_fee": "tolls"}
D = Decimal


def test_items_of_one_kind_add_up_and_unknown_items_go_to_other_summing_to_the_total():
    items = {"start_price": D("10.00"), "normal_fee": D("20.40"), "highway_fee": D("5.00"),
             "bridge_fee": D("2.00"), "night_fee": D("3.00"), "dynamic_price": D("1.23")}
    lines = map_fee_lines(items, KINDS, total=D("41.63"))
    assert [(l.kind, l.amount) for l in lines] == [
        ("base", D("10.00")), ("distance", D("20.40")), ("tolls", D("7.00")),
        ("other", D("4.23"))]
    assert sum(l.amount for l in lines) == D("41.63")
    assert unmapped(items, KINDS) == ["dynamic_price", "night_fee"]


def test_the_remainder_absorbs_a_discount_so_the_lines_still_sum_to_the_total():
    lines = map_fee_lines({"start_price": D("10.00"), "normal_fee": D("20.00")}, KINDS,
                          total=D("27.00"))
    assert lines[-1].kind == "other" and lines[-1].amount == D("-3.00")
    assert sum(l.amount for l in lines) == D("27.00")


def test_a_mapping_to_a_kind_we_do_not_have_is_refused():
    with pytest.raises(ValueError):
        map_fee_lines({"x": D("1.00")}, {"x": "surcharge"})


def test_the_t3_style_adapter_no_longer_drops_fee_kinds_it_does_not_know():
    lines = fee_lines({"base": "10.00", "distance": "29.52", "time": "9.90",
                       "airport_fee": "15.00", "total": "64.42"})
    assert sum(l.amount for l in lines) == D("64.42")
    assert lines[-1].kind == "other" and lines[-1].amount == D("15.00")
