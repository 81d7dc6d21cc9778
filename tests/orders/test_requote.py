"""Re-quote at booking (issue 14 part 2), over real HTTP to the supplier sandboxes.

Approvals take hours and price locks minutes (ride-hailing 10, rental 30). The booking
worker asks the provider again when the approved offer's lock has run out: it books when
the new price is within the policy's tolerance of the approved estimate (default: at most
+10 % AND at most 50 yuan), else the trip goes back to the traveler (``price_changed``),
who accepts the new price (re-approved where the policy now needs it) or cancels."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock, db
from app.approvals.policy import DEFAULT_RULES, RequoteTolerance, requote_tolerance
from app.audit import AuditEntry
from app.trips.models import Offer
from app.worker import run_due
from tests import factories
from tests.factories import ok
from tests.orders.conftest import SUPPLIERS, sandbox_post

TO_NANJING = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
              {"name": "江苏省政府", "lat": 32.06, "lng": 118.78}]
TO_LIYANG = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
             {"name": "溧阳天目湖", "lat": 31.22, "lng": 119.21}]


@pytest.fixture
def market(sandboxes):
    """Move a supplier sandbox's business clock and prices; both reset after the test."""

    def move(name: str, *, later: timedelta = timedelta(0), price_change: str = "0") -> None:
        sandbox_post(sandboxes, name, "/config", {
            "clock_offset_seconds": later.total_seconds(), "price_change": price_change})

    yield move
    for name in SUPPLIERS:
        sandbox_post(sandboxes, name, "/config", {"clock_offset_seconds": 0, "price_change": "0"})


class Requote:
    def __init__(self, orders, api, app, sandboxes, frozen_clock, market):
        self.orders, self.api, self.app, self.sandboxes = orders, api, app, sandboxes
        self.freeze, self.market = frozen_clock, market
        self.t0 = frozen_clock(clock.now())
        self.now = self.t0

    def at(self, when: datetime) -> datetime:
        self.now = self.freeze(when)
        self.api.tokens.clear()  # tokens signed hours ago would have expired
        return when

    def submitted(self, provider: str, *, vehicle_class: str = "sedan", **body) -> tuple[int, dict]:
        """A trip quoted and submitted now with ``provider``'s offer of ``vehicle_class``."""
        trip_id = factories.new_trip(self.api, **body)
        quotes = ok(self.api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))
        offer = next(o for o in quotes["offers"] if o["provider"] == provider
                     and o["vehicle_class"] == vehicle_class and o["compliant"])
        ok(self.api.post(f"/trips/{trip_id}/submit", "demo-traveler",
                         json={"offer_id": offer["id"]}))
        return trip_id, offer

    def approved_later(self, provider: str, later: timedelta, price_change: str = "0",
                       **body) -> tuple[int, dict]:
        """Quoted and submitted now, approved ``later`` (the provider's clock moved as much
        and its prices by ``price_change``); the booking worker then runs."""
        trip_id, offer = self.submitted(provider, **body)
        self.at(self.t0 + later)
        self.orders.approve(trip_id)
        self.market(provider, later=later, price_change=price_change)
        self.orders.book(self.now)
        return trip_id, offer

    def trip(self, trip_id: int) -> dict:
        return ok(self.api.get(f"/trips/{trip_id}", "demo-traveler"))

    def offer_row(self, offer_id: int) -> Offer:
        with self.app.app_context():
            row = db.session.get(Offer, offer_id)
            db.session.expunge(row)
            db.session.remove()
            return row


@pytest.fixture
def rq(orders, api, app, sandboxes, frozen_clock, market):
    return Requote(orders, api, app, sandboxes, frozen_clock, market)


def history(trip: dict) -> list[tuple[str, str]]:
    return [(e["state"], e["action"]) for e in trip["history"]]


# --- the tolerance, as data ------------------------------------------------------------------

@pytest.mark.parametrize("approved, new, allowed", [
    ("200.00", "220.00", True),     # +10 % exactly
    ("200.00", "220.01", False),    # a cent beyond 10 %
    ("1000.00", "1050.00", True),   # +50 yuan exactly (5 %)
    ("1000.00", "1050.01", False),  # a cent beyond 50 yuan
    ("600.00", "650.00", True),     # both bounds exactly at once? 8.3 %, 50 yuan
    ("400.00", "440.01", False),    # within 50 yuan, beyond 10 %
    ("300.00", "120.00", True),     # cheaper always is
])
def test_both_bounds_must_hold(approved, new, allowed):
    tolerance = requote_tolerance(DEFAULT_RULES)
    assert tolerance == RequoteTolerance(Decimal("10"), Decimal("50.00"))
    assert tolerance.allows(Decimal(approved), Decimal(new)) is allowed


def test_a_policy_without_tolerance_gets_the_default_and_one_with_it_its_own():
    assert requote_tolerance({"steps": []}).allows(Decimal("100"), Decimal("110"))
    strict = requote_tolerance({"steps": [], "requote": {"max_increase_pct": "0",
                                                         "max_increase_amount": "0.00"}})
    assert not strict.allows(Decimal("100"), Decimal("100.01"))
    assert strict.allows(Decimal("100"), Decimal("100"))


# --- the Done-when line -------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["rental-a", "ridehail"])
def test_a_booking_approved_three_hours_after_quoting_is_requoted_and_booked(rq, provider):
    trip_id, offer = rq.approved_later(provider, timedelta(hours=3))
    approved_row = rq.offer_row(offer["id"])
    assert approved_row.expires_at < rq.now  # the lock ran out hours ago

    trip = rq.trip(trip_id)
    assert trip["state"] == "dispatched", trip
    assert trip["selected_offer_id"] != offer["id"]
    requoted = next(e for e in trip["history"] if e["action"] == "orders:requoted")
    assert "报价锁定已过期" in requoted["comment"] and "已按新价格下单" in requoted["comment"]
    new = rq.offer_row(trip["selected_offer_id"])
    assert new.expires_at > rq.now and new.price == approved_row.price
    assert new.extra["requote_of"] == offer["id"] and new.rank == 0
    key = "quote_id" if provider != "ridehail" else "estimate_id"
    assert new.extra[key] != approved_row.extra[key]
    row = rq.orders.order(trip_id)
    assert row.state == "created" and row.attempts == 1  # one claim: no refusal, no retry
    # The re-quoted offer is not one of the traveler's ranked quotes.
    latest = ok(rq.api.get(f"/trips/{trip_id}/quotes", "demo-traveler"))
    assert trip["selected_offer_id"] not in [o["id"] for o in latest["offers"]]


def test_within_the_lock_nothing_is_asked_again(rq):
    trip_id, offer = rq.approved_later("rental-a", timedelta(minutes=20))
    trip = rq.trip(trip_id)
    assert trip["state"] == "dispatched" and trip["selected_offer_id"] == offer["id"]
    assert "orders:requoted" not in [a for _, a in history(trip)]


# --- the edges, over HTTP -----------------------------------------------------------------------

@pytest.mark.parametrize("stops, hours, bound, over, booked", [
    (None, 3, "pct", "0.00", True),             # half a day in the city: +10 % exactly
    (None, 3, "pct", "0.01", False),            # a cent more
    (TO_NANJING, 10, "amount", "0.00", True),   # a day to Nanjing and back: +50 exactly
    (TO_NANJING, 10, "amount", "0.01", False),  # a cent more
])
def test_the_bounds_at_their_edges(rq, stops, hours, bound, over, booked):
    body = {"hours": hours, **({"stops": stops} if stops else {})}
    trip_id, offer = rq.submitted("rental-a", **body)
    approved = Decimal(offer["price"])
    if bound == "pct":
        assert approved * Decimal("0.10") < 50
        change = (approved * Decimal("0.10")).quantize(Decimal("0.01")) + Decimal(over)
        assert change - Decimal(over) == approved * Decimal("0.10")  # exactly 10 %
    else:
        assert approved * Decimal("0.10") > 50
        change = Decimal("50.00") + Decimal(over)
    rq.at(rq.t0 + timedelta(hours=2))
    rq.orders.approve(trip_id)
    rq.market("rental-a", later=timedelta(hours=2), price_change=str(change))
    rq.orders.book(rq.now)

    trip = rq.trip(trip_id)
    new_price = approved + change
    if booked:
        assert trip["state"] == "dispatched", trip
        assert rq.offer_row(trip["selected_offer_id"]).price == new_price
        assert trip["estimate"] == offer["price"]  # the approved estimate stays
    else:
        assert trip["state"] == "price_changed", trip
        assert trip["price_change"]["approved_estimate"] == offer["price"]
        assert trip["price_change"]["new_price"] == str(new_price)
        assert trip["selected_offer_id"] == offer["id"]


# --- back to the traveler -----------------------------------------------------------------------

def test_beyond_tolerance_goes_back_to_the_traveler_who_sees_why(rq, app):
    trip_id, offer = rq.approved_later("rental-a", timedelta(hours=3), price_change="60.00")
    trip = rq.trip(trip_id)
    assert trip["state"] == "price_changed"
    change = trip["price_change"]
    assert change["new_price"] == str(Decimal(offer["price"]) + 60)
    assert "超出可接受范围" in change["reason"] and "请确认新价格或取消行程" in change["reason"]
    last = trip["history"][-1]
    assert (last["state"], last["from_state"], last["action"]) == (
        "price_changed", "approved", "orders:price_changed")
    assert last["comment"] == change["reason"]
    assert trip["allowed_actions"] == ["cancel", "accept_price"]
    # Not in the dispatch queue, no provider order, and the worker leaves it alone.
    queue = ok(rq.api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    assert trip_id not in [t["id"] for t in queue]
    row = rq.orders.order(trip_id)
    assert row.state == "pending" and row.order_id is None
    assert rq.orders.book(rq.now + timedelta(minutes=5)) == {"orders.book": 0}
    with app.app_context():
        (audited,) = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "trips", AuditEntry.entity_id == trip_id,
            AuditEntry.action == "state:price_changed")).all()
        assert audited.data["from"] == "approved" and audited.actor_id is None
        assert (audited.data["approved_estimate"], audited.data["new_price"]) == (
            change["approved_estimate"], change["new_price"])
        (order_audit,) = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "provider_orders",
            AuditEntry.data["event"].as_string() == "requote_sent_back")).all()
        assert order_audit.data["trip_id"] == trip_id
        db.session.remove()
    # Someone else's trip: not even visible; the dispatcher may not accept for the traveler.
    assert rq.api.post(f"/trips/{trip_id}/accept-price", "demo-traveler-2").status_code == 404
    assert rq.api.post(f"/trips/{trip_id}/accept-price", "demo-dispatcher").status_code == 403


def test_accepting_the_new_price_books_it(rq):
    trip_id, offer = rq.approved_later("rental-a", timedelta(hours=3), price_change="60.00")
    new_offer_id = rq.trip(trip_id)["price_change"]["offer_id"]
    trip = ok(rq.api.post(f"/trips/{trip_id}/accept-price", "demo-traveler"))
    assert trip["state"] == "approved" and trip["selected_offer_id"] == new_offer_id
    assert trip["estimate"] == str(Decimal(offer["price"]) + 60)
    assert trip["history"][-1]["action"] == "orders:price_accepted"
    again = rq.api.post(f"/trips/{trip_id}/accept-price", "demo-traveler")
    assert again.status_code == 409 and again.get_json()["code"] == "no_price_change"

    rq.orders.book(rq.now)
    trip = rq.trip(trip_id)
    assert trip["state"] == "dispatched"
    assert rq.orders.order(trip_id).state == "created"


def test_accepting_a_price_that_needs_the_platform_step_asks_for_it_first(rq):
    """In-city, on a workday: the approved estimate needs the unit alone; the new price is
    over 1,000 yuan, so accepting it appends the platform step before booking."""
    depart = _workday_morning(rq.now)
    trip_id, offer = rq.submitted("rental-a", stops=TO_LIYANG, hours=9, one_way=True,
                                  depart_at=depart)
    approved = Decimal(offer["price"])
    assert approved < 1000
    rq.at(rq.t0 + timedelta(hours=1))
    rq.orders.approve(trip_id)
    steps = ok(rq.api.get(f"/trips/{trip_id}/approval", "demo-traveler"))["steps"]
    assert [s["key"] for s in steps] == ["unit"]
    rq.market("rental-a", later=timedelta(hours=1), price_change=str(1000 - approved + 10))
    rq.orders.book(rq.now)
    assert rq.trip(trip_id)["state"] == "price_changed"

    trip = ok(rq.api.post(f"/trips/{trip_id}/accept-price", "demo-traveler"))
    assert trip["state"] == "pending_approval"
    approval = ok(rq.api.get(f"/trips/{trip_id}/approval", "demo-traveler"))
    assert [(s["key"], s["state"], s["reasons"]) for s in approval["steps"]] == [
        ("unit", "approved", ["always"]),
        ("platform", "pending", ["estimate_at_least:1000.00"])]
    assert rq.orders.book(rq.now) == {"orders.book": 0}  # nothing booked before approval
    rq.orders.approve(trip_id)
    rq.orders.book(rq.now)
    assert rq.trip(trip_id)["state"] == "dispatched"


def test_declining_is_cancelling(rq):
    trip_id, _ = rq.approved_later("rental-a", timedelta(hours=3), price_change="60.00")
    trip = ok(rq.api.post(f"/trips/{trip_id}/cancel", "demo-traveler",
                          json={"reason": "新价格过高"}))
    assert trip["state"] == "cancelled"
    rq.orders.book(rq.now)
    assert rq.orders.order(trip_id).state == "cancelled"  # never sent: nothing to cancel


def test_an_unanswered_price_change_expires_at_departure(rq, app):
    trip_id, _ = rq.approved_later("rental-a", timedelta(hours=3), price_change="60.00")
    depart = datetime.fromisoformat(rq.trip(trip_id)["depart_at"])
    with app.app_context():
        assert run_due(now=depart - timedelta(minutes=1),
                       names=["orders.expire_price_changes"]) == {"orders.expire_price_changes": 0}
        assert run_due(now=depart, names=["orders.expire_price_changes"]) == {
            "orders.expire_price_changes": 1}
    trip = rq.trip(trip_id)
    assert trip["state"] == "expired" and trip["history"][-1]["action"] == "orders:price_expired"


def test_the_tolerance_is_policy_data_an_admin_edits(rq):
    published = rq.api.post("/admin/policies", "demo-admin", json={
        "effective_from": (rq.now - timedelta(minutes=1)).isoformat(),
        "rules": {**{"steps": DEFAULT_RULES["steps"]},
                  "requote": {"max_increase_pct": "0", "max_increase_amount": "0.00"}}})
    assert published.status_code == 201, published.get_json()
    assert published.get_json()["rules"]["requote"] == {"max_increase_pct": "0.00",
                                                        "max_increase_amount": "0.00"}
    bad = rq.api.post("/admin/policies", "demo-admin", json={
        "effective_from": rq.now.isoformat(),
        "rules": {"steps": DEFAULT_RULES["steps"], "requote": {"max_increase_pct": "-5",
                                                               "max_increase_amount": "50.00"}}})
    assert bad.status_code == 422
    trip_id, _ = rq.approved_later("rental-a", timedelta(hours=3), price_change="0.01")
    assert rq.trip(trip_id)["state"] == "price_changed"


def test_an_emergency_trip_is_booked_at_the_new_price_whatever_it_is(rq):
    trip_id, offer = rq.submitted("rental-a", purpose="emergency")
    rq.at(rq.t0 + timedelta(hours=1))
    rq.market("rental-a", later=timedelta(hours=1), price_change="300.00")
    rq.orders.book(rq.now)
    trip = rq.trip(trip_id)
    assert trip["state"] == "dispatched"
    note = next(e for e in trip["history"] if e["action"] == "orders:requoted")
    assert "紧急用车，按新价格下单" in note["comment"]
    assert rq.offer_row(trip["selected_offer_id"]).price == Decimal(offer["price"]) + 300


def test_a_failing_requote_is_retried_like_any_booking_failure(rq, faults):
    trip_id, offer = rq.submitted("rental-a")
    rq.at(rq.t0 + timedelta(hours=1))
    rq.orders.approve(trip_id)
    rq.market("rental-a", later=timedelta(hours=1))
    faults("rental-a", fault="5xx", path="/api/v2/quote", times=1)
    rq.orders.book(rq.now)
    row = rq.orders.order(trip_id)
    assert row.state == "pending" and row.attempts == 1
    assert "系统将于" in ok(rq.api.get(f"/trips/{trip_id}/dispatch", "demo-traveler"))[
        "dispatch_issue"]
    rq.orders.book(row.next_attempt_at)
    assert rq.trip(trip_id)["state"] == "dispatched"


def _workday_morning(now: datetime) -> datetime:
    day = clock.local(now).date() + timedelta(days=2)
    while day.weekday() not in (1, 2, 3):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, tzinfo=clock.SHANGHAI)


def test_a_provider_whose_clock_says_the_lock_passed_is_asked_again(rq):
    """Our clock says the offer is still locked, the provider's says not (40410): that is no
    refusal for the dispatch queue but a re-quote like any other."""
    trip_id, offer = rq.submitted("rental-a")
    rq.at(rq.t0 + timedelta(minutes=5))
    rq.orders.approve(trip_id)
    rq.market("rental-a", later=timedelta(hours=2))
    assert rq.offer_row(offer["id"]).expires_at > rq.now
    rq.orders.book(rq.now)
    trip = rq.trip(trip_id)
    assert trip["state"] == "dispatched" and trip["selected_offer_id"] != offer["id"]
    assert rq.orders.order(trip_id).state == "created"
