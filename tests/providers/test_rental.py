"""The rental-company adapter against its sandbox over real HTTP."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from providers.base import NotApplicable, OrderRequest, ProviderError
from providers.sandbox import rental as rental_sandbox
from providers.sandbox.server import SandboxServer
from tests.factories import quote_request
from tests.providers.conftest import RENTAL_KEYS, client, control
from providers.rental import RentalProvider


def reserve(rental, out_order_id="trip-1-1", **over):
    request = quote_request(**over)
    offer = rental.quote(request)[0]
    return rental.book(OrderRequest(out_order_id, offer, request, "张明", "13800000001"))


def test_quote_by_class_with_company_prices(rental):
    offers = rental.quote(quote_request(vehicle_classes=("sedan", "mpv")))
    assert [(o.vehicle_class, o.price) for o in offers] == [
        ("sedan", Decimal("200.00")), ("mpv", Decimal("240.00"))]  # half day × 0.80
    sedan = offers[0]
    assert sedan.product == "常州交运租车·大众帕萨特" and sedan.extra["quote_id"]
    assert sedan.price == sum(line.amount for line in sedan.breakdown)
    assert sedan.expires_at > datetime.now(timezone.utc) + timedelta(minutes=29)


def test_long_trips_pay_days_and_extra_km(rental):
    depart = datetime.now(timezone.utc) + timedelta(days=2)
    offer, = rental.quote(quote_request(depart_at=depart, return_at=depart + timedelta(hours=30),
                                        est_km=Decimal("250"), vehicle_classes=("mpv",)))
    # 2 days × 600 × 0.8 + 50 km × 5.9 × 0.8
    assert [line.amount for line in offer.breakdown] == [Decimal("960.00"), Decimal("236.00")]


def test_two_companies_quote_differently():
    with SandboxServer(rental_sandbox.create_app(*RENTAL_KEYS, price_factor="0.90")) as server:
        other = RentalProvider("rental-b", client(server, RENTAL_KEYS))
        assert other.quote(quote_request())[0].price == Decimal("225.00")


def test_no_class_is_not_applicable(rental):
    with pytest.raises(NotApplicable):
        rental.quote(quote_request(vehicle_classes=()))


def test_reservation_is_idempotent_and_assigned_then_billed(rental, rental_server):
    first = reserve(rental)
    assert reserve(rental).order_id == first.order_id and first.state == "created"
    control(rental_server, f"/orders/{first.order_id}/advance")
    assigned = rental.status(first.order_id)
    assert (assigned.state, assigned.plate, assigned.driver_name) == ("assigned", "苏D·Z0001", "刘师傅")
    control(rental_server, f"/orders/{first.order_id}/advance",
            {"to": "finished", "actual_km": "130", "hours": 9, "tolls": "40"})
    done = rental.status(first.order_id)
    assert done.state == "completed" and done.extra["actual_km"] == "130"
    # 1 day × 500 × 0.8 + 30 km × 5.0 × 0.8 + tolls 40
    assert done.bill.total == Decimal("560.00")


def test_a_reservation_is_found_by_our_reference(rental, rental_server):
    made = reserve(rental, "trip-8-1")
    control(rental_server, f"/orders/{made.order_id}/advance", {"to": "finished"})
    found = rental.lookup("trip-8-1")
    assert (found.order_id, found.state) == (made.order_id, "completed")
    assert found.bill.total == Decimal("400.00") and found.plate == "苏D·Z0001"
    assert rental.lookup("trip-never-sent") is None


def test_cancel_free_until_cutoff_then_charged(rental, rental_server):
    early = reserve(rental, "a")
    assert rental.cancel(early.order_id, "取消").fee == Decimal("0.00")
    soon = datetime.now(timezone.utc) + timedelta(minutes=90)
    late = reserve(rental, "b", depart_at=soon, return_at=soon + timedelta(hours=3))
    assert rental.cancel(late.order_id, "取消").fee == Decimal("40.00")  # 20 % of 200.00


def test_expired_quote_cannot_be_reserved(rental, rental_server):
    request = quote_request()
    offer = rental.quote(request)[0]
    control(rental_server, "/config", {"clock_offset_seconds": 1801})
    with pytest.raises(ProviderError) as err:
        rental.book(OrderRequest("x", offer, request, "张明", "13800000001"))
    assert err.value.code == 40410


def test_callbacks_carry_vehicle_and_bill(rental, rental_server, receiver):
    control(rental_server, "/config", {"webhook_url": receiver.url("rental-a"),
                                       "callback_backoff": 0.05})
    receiver.fail_first = 1
    order = reserve(rental)
    control(rental_server, f"/orders/{order.order_id}/advance")
    control(rental_server, f"/orders/{order.order_id}/advance", {"to": "finished"})
    got = receiver.wait_for(2)
    assert receiver.rejected == []
    # Standard Webhooks: the bare body; the refused first attempt was re-sent under its id.
    assert not {"app_key", "nonce", "sign"} & set(got[0])
    first, retry = receiver.webhook_ids[:2]
    assert first.startswith("msg_") and retry == first
    assigned, finished = (rental.parse_callback(c) for c in got)
    assert assigned.state == "assigned" and assigned.driver_phone == "13787654321"
    assert finished.state == "completed" and finished.bill.total == Decimal("400.00")
