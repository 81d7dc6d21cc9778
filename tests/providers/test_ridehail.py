"""The ride-hailing adapter against its sandbox over real HTTP."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from providers.base import NotApplicable, OrderRequest, ProviderError
from tests.factories import quote_request
from tests.providers.conftest import control, fault


def order_for(ridehail, out_order_id="trip-1-1", **over):
    request = quote_request(**over)
    economy = next(o for o in ridehail.quote(request) if o.extra["tier"] == "economy")
    return ridehail.book(OrderRequest(out_order_id, economy, request, "张明", "13800000001"))


def test_estimate_per_tier_with_ten_minute_lock(ridehail):
    offers = ridehail.quote(quote_request())
    assert {o.extra["tier"] for o in offers} == {"economy", "comfort", "business", "luxury"}
    now = datetime.now(timezone.utc)
    for offer in offers:
        assert isinstance(offer.price, Decimal) and offer.price > 0
        assert offer.price == sum(line.amount for line in offer.breakdown)
        assert 590 <= (offer.expires_at - now).total_seconds() <= 601
        assert offer.extra["estimate_id"].startswith("est_")
    economy = next(o for o in offers if o.extra["tier"] == "economy")
    assert (economy.vehicle_class, economy.seats, economy.nev) == ("sedan", 4, True)
    assert [line.kind for line in economy.breakdown] == ["base", "distance", "time"]


def test_big_groups_get_only_big_tiers_or_nothing(ridehail):
    assert {o.extra["tier"] for o in ridehail.quote(quote_request(passengers=5))} == {"business"}
    with pytest.raises(NotApplicable):
        ridehail.quote(quote_request(passengers=9))


def test_order_creation_is_idempotent_by_out_order_id(ridehail):
    first = order_for(ridehail)
    again = order_for(ridehail)  # a new estimate, the same out_order_id: the same order
    assert first.order_id == again.order_id and first.state == "created"
    assert ridehail.status(first.order_id).out_order_id == "trip-1-1"
    assert order_for(ridehail, "trip-2-1").order_id != first.order_id


def test_an_order_whose_answer_was_lost_is_found_by_our_reference(ridehail, ridehail_server):
    fault(ridehail_server, fault="lost_response", path="/v1/orders", times=3)
    with pytest.raises(ProviderError):
        order_for(ridehail, "trip-7-1")  # made, but every answer was lost
    found = ridehail.lookup("trip-7-1")
    assert found.out_order_id == "trip-7-1" and found.order_id.startswith("RH")
    assert found.state == "created"
    control(ridehail_server, f"/orders/{found.order_id}/advance", {"to": "completed"})
    done = ridehail.lookup("trip-7-1")
    assert done.state == "completed" and done.bill.total > Decimal("0")
    assert ridehail.lookup("trip-never-sent") is None


def test_expired_estimate_cannot_be_ordered(ridehail, ridehail_server):
    request = quote_request()
    offer = ridehail.quote(request)[0]
    control(ridehail_server, "/config", {"clock_offset_seconds": 601})
    with pytest.raises(ProviderError) as err:
        ridehail.book(OrderRequest("trip-9-1", offer, request, "张明", "13800000001"))
    assert err.value.code == 40410


def test_cancel_is_free_before_assignment_and_costs_after(ridehail, ridehail_server):
    early = order_for(ridehail, "a")
    assert ridehail.cancel(early.order_id, "行程取消").fee == Decimal("0.00")
    assert ridehail.cancel(early.order_id, "again").fee == Decimal("0.00")  # idempotent
    late = order_for(ridehail, "b")
    control(ridehail_server, f"/orders/{late.order_id}/advance")
    assert ridehail.cancel(late.order_id, "会议改期").fee == Decimal("5.00")
    done = order_for(ridehail, "c")
    control(ridehail_server, f"/orders/{done.order_id}/advance", {"to": "in_trip"})
    with pytest.raises(ProviderError) as err:
        ridehail.cancel(done.order_id, "too late")
    assert err.value.code == 40901


def test_driver_position_and_final_fee(ridehail, ridehail_server):
    order = order_for(ridehail)
    with pytest.raises(ProviderError):
        ridehail.driver_position(order.order_id)
    control(ridehail_server, f"/orders/{order.order_id}/advance")
    assigned = ridehail.status(order.order_id)
    assert assigned.state == "assigned" and assigned.plate and assigned.driver_phone
    assert abs(ridehail.driver_position(order.order_id).lat - 31.81) < 0.01
    control(ridehail_server, f"/orders/{order.order_id}/advance",
            {"to": "completed", "actual_km": "20", "actual_minutes": 30, "tolls": "5.00",
             "parking": "8.00"})
    bill = ridehail.status(order.order_id).bill
    assert [line.kind for line in bill.lines] == ["base", "distance", "time", "tolls", "parking"]
    # economy: 10 + 20 × 1.80 + 30 × 0.30 + 5 + 8
    assert bill.total == Decimal("68.00")


def test_callbacks_are_signed_ordered_and_retried_until_2xx(ridehail, ridehail_server, receiver):
    control(ridehail_server, "/config", {"webhook_url": receiver.url("ridehail"),
                                         "callback_backoff": 0.05})
    receiver.fail_first = 2
    order = order_for(ridehail)
    for _ in range(4):  # assigned, arrived, in_trip, completed
        control(ridehail_server, f"/orders/{order.order_id}/advance")
    got = receiver.wait_for(4)
    assert [c["state"] for c in got] == ["assigned", "arrived", "in_trip", "completed"]
    assert receiver.rejected == []
    final = ridehail.parse_callback(got[-1])
    assert final.state == "completed" and final.bill.total > 0
    attempts = requests.get(f"{ridehail_server.url}/__sandbox/callbacks", timeout=2).json()["items"]
    assert [a["status"] for a in attempts[:3]] == [503, 503, 200]


def test_callbacks_give_up_after_bounded_attempts(ridehail, ridehail_server, receiver):
    control(ridehail_server, "/config", {"webhook_url": receiver.url("ridehail"),
                                         "callback_backoff": 0.01, "callback_attempts": 3})
    receiver.fail_first = 3
    order = order_for(ridehail)
    control(ridehail_server, f"/orders/{order.order_id}/advance")
    control(ridehail_server, f"/orders/{order.order_id}/advance")
    got = receiver.wait_for(1)  # "assigned" is given up after 3 refusals; "arrived" gets through
    assert [c["state"] for c in got] == ["arrived"]
    attempts = requests.get(f"{ridehail_server.url}/__sandbox/callbacks", timeout=2).json()["items"]
    assert [a["attempt"] for a in attempts if a["state"] == "assigned"] == [1, 2, 3]
