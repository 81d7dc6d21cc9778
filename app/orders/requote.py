"""Re-quote at booking (issue 14 part 2).

A provider's price is locked for minutes (ride-hailing 10, rental 30) and approvals take
hours. When the approved offer's lock has run out (or runs out within ``LOCK_MARGIN``) by
the time the booking worker claims the order — or the provider refuses the order because
it has by its clock (``EXPIRED_CODES``) — the worker asks the same provider again for the
same product (same provider, product and class) and:

- books the new offer when its price is within the policy's tolerance of the approved
  estimate (``app.approvals.policy.requote_tolerance``: default at most +10 % AND at most
  50 yuan more; a cheaper price always is). The new offer is stored (``rank`` 0, not part
  of any quote round's ranking), becomes the trip's selected offer, and the trip's history
  says what happened (``orders:requoted``). The trip's ``estimate`` stays the approved one.
- otherwise sends the trip back to the traveler: ``approved → price_changed``, audited,
  with the approved estimate, the new price and why in the history and in the trip's
  ``price_change``; ``trip_price_changed`` is published. The order row waits (``pending``)
  and is not claimed while the trip is there. The traveler accepts (``accept_price``: the
  new offer and price become the trip's, the approval workflow is routed again at the new
  price and the steps the policy now requires are asked first) or cancels; a trip left
  there past its departure expires.

Emergency trips (先用后补) are booked at the new price whatever it is (noted), since they
are dispatched before any approval. The provider calls happen outside any transaction, in
the booking worker's *call* step; every failure to re-quote is a transient booking failure
(retried with backoff like any other).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import User, VehicleClass
from app.approvals import workflow
from app.approvals.admin import policy_in_force
from app.approvals.policy import RequoteTolerance, requote_tolerance
from app.errors import IllegalTransition, NotFound
from app.orders.models import OrderState, ProviderOrder
from app.quotes.service import provider_offer
from app.trips import events
from app.trips.models import ActionContext, Channel, Offer, Trip, TripState
from app.trips.service import get_own
from providers import base

S = TripState
# A lock ending this soon is as good as gone: the order would reach the provider too late.
LOCK_MARGIN = timedelta(seconds=30)
# A provider refusing an order because the offer's lock expired (its clock may run ahead
# of ours): re-quote as well.
EXPIRED_CODES = frozenset({40410})


@dataclass(frozen=True)
class Terms:
    """What the worker's call step needs to decide on a new price (plain data)."""

    approved: Decimal  # the trip's approved estimate
    tolerance: RequoteTolerance
    old: base.ProviderOffer  # the approved offer: the product to ask for again
    force: bool  # emergency trips book whatever the new price
    due: bool  # the lock has run out by our clock: ask again before booking


@dataclass(frozen=True)
class Requoted:
    """The call step's answer: the provider's new offer for the product (None when it no
    longer offers it), whether it was booked, and the booking's outcome if it was."""

    offer: base.ProviderOffer | None
    within: bool
    outcome: base.Order | base.ProviderError | None = None


def terms_for(session, trip: Trip, offer: Offer, now: datetime) -> Terms:
    """How to re-quote the trip's approved offer; ``due`` when its lock has run out (or
    nearly) by our clock."""
    _, rules = policy_in_force(session, now)
    return Terms(approved=trip.estimate if trip.estimate is not None else offer.price,
                 tolerance=requote_tolerance(rules), old=provider_offer(offer),
                 force=trip.emergency, due=offer.expires_at <= now + LOCK_MARGIN)


def same_product(offers: list[base.ProviderOffer],
                 old: base.ProviderOffer) -> base.ProviderOffer | None:
    """The provider's new offer for exactly what was approved (cheapest if several)."""
    same = [o for o in offers if o.available and o.provider == old.provider
            and o.product == old.product and o.vehicle_class == old.vehicle_class
            and o.extra.get("tier") == old.extra.get("tier")]
    return min(same, key=lambda o: o.price) if same else None


def requote_and_book(provider: base.SupplyProvider, request: base.OrderRequest,
                     terms: Terms) -> Requoted:
    """Ask the provider again; book the new offer when the price is acceptable. Network
    only, no transaction. A quote failure raises (the booking retries it)."""
    try:
        offers = provider.quote(request.request)
    except base.NotApplicable:
        offers = []
    new = same_product(offers, terms.old)
    if new is None:
        return Requoted(None, within=False)
    if not (terms.force or terms.tolerance.allows(terms.approved, new.price)):
        return Requoted(new, within=False)
    try:
        outcome: base.Order | base.ProviderError = provider.book(replace(request, offer=new))
    except base.ProviderError as exc:
        outcome = exc
    return Requoted(new, within=True, outcome=outcome)


def _store(session, trip: Trip, offer: base.ProviderOffer, now: datetime) -> Offer:
    latest = session.scalar(select(func.max(Offer.quote_round)).where(Offer.trip_id == trip.id))
    row = Offer(trip_id=trip.id, channel=Channel(offer.channel), provider=offer.provider,
                product=offer.product, vehicle_class=VehicleClass(offer.vehicle_class),
                seats=offer.seats, nev=offer.nev, price=offer.price,
                breakdown=[line.as_dict() for line in offer.breakdown],
                available=offer.available, expires_at=offer.expires_at, compliant=True,
                reasons=[], recommended=False, rank=0, quote_round=latest or 1,
                extra={**offer.extra, "requote_of": trip.selected_offer_id}, created_at=now)
    session.add(row)
    session.flush()
    return row


def _facts(terms: Terms, new: Decimal | None) -> dict:
    return {"approved_estimate": str(terms.approved),
            "new_price": str(new) if new is not None else None,
            "tolerance": terms.tolerance.as_dict(), "provider": terms.old.provider}


def booked_at_new_price(session, trip: Trip, requoted: Requoted, terms: Terms,
                        now: datetime) -> None:
    """Within tolerance: the new offer is the trip's from now on (noted and audited)."""
    row = _store(session, trip, requoted.offer, now)
    before = trip.selected_offer_id
    trip.selected_offer_id = row.id
    new = requoted.offer.price
    why = ("紧急用车，按新价格下单" if terms.force and not terms.tolerance.allows(terms.approved, new)
           else "在可接受范围内，已按新价格下单")
    trip.note(session, "orders:requoted", actor_id=None, at=now,
              comment=f"报价锁定已过期，供应商重新报价{new}元（审批预估{terms.approved}元），{why}",
              data={**_facts(terms, new), "offer_id": row.id, "offer_before": before})


def send_back(session, trip: Trip, order: ProviderOrder, requoted: Requoted, terms: Terms,
              now: datetime, move) -> None:
    """Beyond tolerance (or the product is gone): the trip goes back to the traveler."""
    offer_row = _store(session, trip, requoted.offer, now) if requoted.offer else None
    new = requoted.offer.price if requoted.offer else None
    order.claimed_until, order.next_attempt_at = None, now
    # No order was placed: this claim asked for a price only (a later drop is "never sent").
    order.attempts -= 1
    order.error = "requote beyond tolerance" if new is not None else "product no longer offered"
    move(session, order, OrderState.PENDING, "requote_sent_back",
         {**_facts(terms, new), "offer_id": offer_row.id if offer_row else None}, now)
    if not trip.can_transition(S.PRICE_CHANGED):
        return  # the trip moved on meanwhile (cancelled): the order row is dropped next
    tol = terms.tolerance
    if new is None:
        reason = (f"报价锁定已过期，供应商已不再提供“{terms.old.product}”，"
                  "请取消行程后重新申请")
    else:
        reason = (f"报价锁定已过期，供应商重新报价{new}元，较审批预估{terms.approved}元上涨"
                  f"{new - terms.approved}元，超出可接受范围（不超过{tol.max_increase_pct.normalize()}%"
                  f"且不超过{tol.max_increase_amount}元），请确认新价格或取消行程")
    trip.transition(session, S.PRICE_CHANGED, actor_id=None, at=now, comment=reason,
                    data={"action": "orders:price_changed", **_facts(terms, new),
                          "offer_id": offer_row.id if offer_row else None, "reason": reason})
    events.publish(session, events.TRIP_PRICE_CHANGED, trip=trip, approved=terms.approved,
                   new_price=new, at=now)


def accept_price(session, *, actor: User, trip_id: int, now: datetime) -> Trip:
    """The traveler takes the provider's new price: it becomes the trip's estimate and
    selected offer, the trip is approved again, and if the approval policy now requires
    steps its workflow did not hold (e.g. the platform step from 1000 yuan) they are asked
    first (``pending_approval``). Booking then resumes (re-quoting again if the new lock
    ran out meanwhile)."""
    trip = get_own(session, actor, trip_id)
    if not trip.can_accept_price(actor, ActionContext()):
        raise IllegalTransition("只有价格变化待确认的行程可以接受新价格", code="no_price_change",
                                errors={"state": trip.state.value})
    change = trip.price_change()
    offer = session.get(Offer, change["offer_id"]) if change["offer_id"] else None
    if offer is None:
        raise NotFound("供应商已不再提供该车型，请取消行程后重新申请", code="offer_not_found")
    before = trip.estimate
    trip.selected_offer_id, trip.estimate = offer.id, offer.price
    trip.transition(session, S.APPROVED, actor_id=actor.id, at=now,
                    comment=f"申请人接受新价格{offer.price}元（原审批预估{before}元）",
                    data={"action": "orders:price_accepted", "offer_id": offer.id,
                          "estimate_before": str(before), "estimate": str(offer.price)})
    workflow.reapprove_for_new_price(session, actor=actor, trip=trip, now=now,
                                     comment="供应商价格变化，申请人接受新价格后需补充审批")
    order = session.scalar(select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
    if order is not None and order.state == OrderState.PENDING:
        order.next_attempt_at = now
    return trip


def expire_unanswered(session, now: datetime) -> int:
    """Trips still waiting on the traveler's answer at their departure expire."""
    trips = session.scalars(select(Trip).where(Trip.state == S.PRICE_CHANGED,
                                               Trip.depart_at <= now)
                            .order_by(Trip.id).with_for_update(skip_locked=True, of=Trip)).all()
    for trip in trips:
        trip.transition(session, S.EXPIRED, actor_id=None, at=now,
                        comment="出发时间已过，新价格未确认", data={"action": "orders:price_expired"})
        events.publish(session, events.TRIP_EXPIRED, trip=trip, at=now)
    return len(trips)
