"""Booking provider orders (rental, ride-hailing) after approval, and the order row's
audited moves the other order modules share.

Booking (worker job ``orders.book``) runs in three short steps so that no write
transaction is held while the provider is called: *claim* (a ``pending`` row becomes
``booking`` with a lease, committed), *call* the adapter with no transaction open, *record*
the answer (a new write transaction). The row and its ``out_order_id`` exist before the
first call and every retry sends the same ``out_order_id``, which the provider deduplicates:
a lost answer, a crashed worker (its lease runs out) or a second run never make a second
provider order. Transient failures (timeout, unreachable, 5xx, malformed) are retried with
exponential backoff up to ``MAX_ATTEMPTS``; a refusal fails at once. Either way the trip's
``dispatch_issue`` says why in Chinese, so the dispatcher queue shows it. When the approved
offer's price lock has expired (by our clock, or the provider refuses the offer as expired),
the call step re-quotes (``app.orders.requote``).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from app import audit, clock, supply
from app.orders import requote
from app.orders.models import ORDER_RANK, OrderState, ProviderOrder
from app.quotes.service import provider_offer, quote_request_for
from app.trips import events
from app.trips.models import Channel, Offer, Trip, TripState
from providers import base
from providers.route import RouteEstimate

S = TripState
O = OrderState

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
# A worker that claimed a booking and vanished gives it up after this long.
LEASE = timedelta(minutes=2)
BATCH = 20
PROVIDER_CHANNELS = (Channel.RENTAL, Channel.RIDEHAIL, Channel.PARTNER)
REFUSALS = {40400: "供应商找不到所选报价，拒绝下单", 40410: "所选报价已过期，供应商拒绝下单",
            42200: "供应商认为下单信息不完整"}
ENDED = (S.CANCELLED, S.REJECTED, S.WITHDRAWN, S.EXPIRED)


# --- the order row: audited moves and its lock (every order module uses them) --------------

def audit_order(session, row: ProviderOrder, action: str, data: dict | None = None) -> None:
    """Audit what happened to an order that did not change its state."""
    audit.record(session, entity="provider_orders", entity_id=row.id, action=action,
                 actor_id=None, data={"trip_id": row.trip_id, "provider": row.provider,
                                      "state": row.state, **(data or {})})


def move(session, row: ProviderOrder, to: OrderState, event: str,
         data: dict | None = None, at: datetime | None = None) -> None:
    """Move the order by a legal step (``ProviderOrder.TRANSITIONS``), audited as ``event``."""
    row.transition(session, to, actor_id=None, at=at,
                   data={"event": event, "trip_id": row.trip_id, "provider": row.provider,
                         **(data or {})})


def lock_order(session, stmt) -> ProviderOrder | None:
    return session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


# --- booking -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    order_pk: int
    provider: str
    request: base.OrderRequest
    # How to re-quote if the approved offer's price lock has expired (``requote.due``:
    # it has by our clock, so ask again before booking).
    requote: requote.Terms | None = None


def open_orders(session, now: datetime) -> int:
    """A ``pending`` order row for every dispatchable provider trip that has none."""
    # Row locks (skipped when another worker holds them) keep two workers from opening an
    # order for the same trip on PostgreSQL; SQLite has the single writer.
    trip_ids = session.scalars(select(Trip.id).where(
        Trip.channel.in_(PROVIDER_CHANNELS), Trip.dispatchable,
        ~exists().where(ProviderOrder.trip_id == Trip.id)).order_by(Trip.id).limit(BATCH)
        .with_for_update(skip_locked=True)).all()
    for trip in (session.get(Trip, trip_id) for trip_id in trip_ids):
        offer = session.get(Offer, trip.selected_offer_id) if trip.selected_offer_id else None
        row = ProviderOrder(trip_id=trip.id, provider=offer.provider if offer else "",
                            out_order_id=f"T{trip.id}-{secrets.token_hex(4)}", state=O.PENDING,
                            next_attempt_at=now, created_at=now)
        session.add(row)
        session.flush()
        audit_order(session, row, "opened", {"out_order_id": row.out_order_id})
    return len(trip_ids)


def _order_request(session, trip: Trip, row: ProviderOrder) -> base.OrderRequest:
    offer = session.get(Offer, trip.selected_offer_id)
    passengers = trip.passengers or []
    contact = passengers[0].get("name") if passengers else None
    # The route as quoted (no routing call while the claim's write transaction is open).
    known = (RouteEstimate(trip.est_distance_km, trip.est_duration_min)
             if trip.est_distance_km is not None and trip.est_duration_min is not None else None)
    return base.OrderRequest(
        out_order_id=row.out_order_id, offer=provider_offer(offer),
        request=quote_request_for(trip, supply.route_estimator(), estimate=known),
        contact_name=contact or trip.applicant.name, contact_phone=trip.applicant.phone)


def claim_due(session, now: datetime) -> list[Claimed]:
    """Due ``pending`` rows (and ``booking`` rows whose worker's lease ran out) become
    ``booking`` under a fresh lease; the caller commits before calling out."""
    # Orders of trips not dispatchable now wait: back with the traveler for a new price, or
    # waiting for an approval step a new price needs (ended trips are claimed, to drop them).
    waiting = exists().where(Trip.id == ProviderOrder.trip_id, ~Trip.dispatchable,
                             Trip.state.not_in(ENDED))
    rows = session.scalars(select(ProviderOrder).where(
        ((ProviderOrder.state == O.PENDING) & (ProviderOrder.next_attempt_at <= now) & ~waiting)
        | ((ProviderOrder.state == O.BOOKING) & (ProviderOrder.claimed_until < now)))
        .order_by(ProviderOrder.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    claimed = []
    for row in rows:
        trip = session.get(Trip, row.trip_id)
        if row.state == O.PENDING and trip.state in ENDED:
            drop(session, row, trip)
            continue
        if supply.ordering(row.provider) is None:
            _fail(session, row, trip, f"供应商“{row.provider}”未启用，无法下单", now)
            continue
        row.claimed_until, row.attempts = now + LEASE, row.attempts + 1
        move(session, row, O.BOOKING, "claimed", {"attempt": row.attempts}, now)
        terms = requote.terms_for(session, trip, session.get(Offer, trip.selected_offer_id), now)
        claimed.append(Claimed(row.id, row.provider, _order_request(session, trip, row), terms))
    return claimed


Outcome = base.Order | base.ProviderError | requote.Requoted


def place(claim: Claimed) -> Outcome:
    """The network calls, outside any transaction; failures come back as values."""
    provider = supply.ordering(claim.provider)
    try:
        if claim.requote is not None and claim.requote.due:
            return requote.requote_and_book(provider, claim.request, claim.requote)
        try:
            return provider.book(claim.request)
        except base.ProviderError as exc:
            # The provider's clock says the lock ran out although ours did not.
            if claim.requote is None or exc.code not in requote.EXPIRED_CODES:
                raise
            return requote.requote_and_book(provider, claim.request, claim.requote)
    except base.ProviderError as exc:
        return exc


def transient(exc: base.ProviderError) -> bool:
    """Worth another try: no answer, an unreadable one, a server error, or a rate limit
    (HTTP 429: nothing was done, try later)."""
    if isinstance(exc, (base.ProviderTimeout, base.MalformedResponse, base.SignatureError)):
        return True
    code = exc.code
    return code is None or code == 429 or (
        isinstance(code, int) and (500 <= code < 600 or 50000 <= code < 60000))


def record(session, claim: Claimed, outcome: Outcome, now: datetime) -> None:
    """Write down what the provider answered (in the caller's write transaction)."""
    row = lock_order(session, select(ProviderOrder).where(ProviderOrder.id == claim.order_pk))
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    if isinstance(outcome, requote.Requoted):
        if not outcome.within:
            if row.state == O.BOOKING:
                requote.send_back(session, trip, row, outcome, claim.requote, now, move)
            return
        requote.booked_at_new_price(session, trip, outcome, claim.requote, now)
        outcome = outcome.outcome
    if isinstance(outcome, base.ProviderError):
        _failed_attempt(session, row, trip, outcome, now)
        return
    row.claimed_until, row.error = None, None
    absorb(row, outcome)
    booked = {"order_id": row.order_id, "out_order_id": row.out_order_id}
    state = OrderState(outcome.state)
    if ORDER_RANK[state] > ORDER_RANK[row.state]:
        move(session, row, state, "booked", booked, now)
    else:  # a callback recorded the order first
        audit_order(session, row, "booked", booked)
    if trip.dispatchable:
        dispatched(session, trip, event_data(row, "booked"), now)


def dispatched(session, trip: Trip, data: dict, now: datetime) -> None:
    """The provider took the order: the trip is dispatched (and off the dispatch queue)."""
    trip.dispatch_issue = None
    trip.transition(session, S.DISPATCHED, actor_id=None, at=now, data=data)
    events.publish(session, events.TRIP_DISPATCHED, trip=trip, at=now)


def _failed_attempt(session, row: ProviderOrder, trip: Trip, exc: base.ProviderError,
                    now: datetime) -> None:
    row.claimed_until = None
    if row.state != O.BOOKING:
        # The provider's callback told us the order was made: only its answer was lost.
        audit_order(session, row, "answer_lost", {"error": str(exc), "attempt": row.attempts})
        return
    if transient(exc) and row.attempts < MAX_ATTEMPTS:
        wait = RETRY_BASE * (2 ** (row.attempts - 1))
        row.next_attempt_at, row.error = now + wait, str(exc)
        move(session, row, O.PENDING, "retry_scheduled",
             {"error": str(exc), "attempt": row.attempts,
              "next_attempt_at": row.next_attempt_at.isoformat()}, now)
        at = clock.local(row.next_attempt_at).strftime("%H:%M")
        _set_issue(session, trip, f"供应商暂时无法下单（第{row.attempts}次），系统将于{at}自动重试",
                   row, now)
        return
    if transient(exc):
        reason = f"向供应商下单{row.attempts}次均失败，请联系供应商、改派公车或取消行程"
    else:
        reason = REFUSALS.get(exc.code, "供应商拒绝下单") + f"（代码 {exc.code}）"
    _fail(session, row, trip, reason, now, error=str(exc))


def _fail(session, row: ProviderOrder, trip: Trip, reason: str, now: datetime, *,
          error: str | None = None) -> None:
    row.claimed_until, row.error = None, error or reason
    move(session, row, O.FAILED, "gave_up", {"reason": reason, "error": row.error}, now)
    _set_issue(session, trip, reason, row, now)


def _set_issue(session, trip: Trip, reason: str, row: ProviderOrder, now: datetime) -> None:
    trip.dispatch_issue = reason
    trip.note(session, "orders:booking_issue", actor_id=None, at=now, comment=reason,
              data={"provider": row.provider, "event": row.state})


def absorb(row: ProviderOrder, order: base.Order) -> None:
    if order.order_id and row.order_id and order.order_id != row.order_id:
        # The provider reassigned the order under a new id: keep the old one findable.
        row.order_id_history = [*(row.order_id_history or []), row.order_id]
    row.order_id = order.order_id or row.order_id
    row.plate = order.plate or row.plate
    row.driver_name = order.driver_name or row.driver_name
    row.driver_phone = order.driver_phone or row.driver_phone


def event_data(row: ProviderOrder, event: str) -> dict:
    return {"provider": row.provider, "event": event, "order_id": row.order_id}


def drop(session, row: ProviderOrder, trip: Trip) -> None:
    """No more booking for this row. Never sent: cancelled. Sent but never answered (every
    answer lost): ``failed``, not ``cancelled``, so that if the provider made the order after
    all its callbacks still register and ``cancel_unwanted`` cancels it with the provider."""
    placed = row.attempts > 0
    to = O.FAILED if placed else O.CANCELLED
    if row.state != to:
        move(session, row, to, "dropped", {"trip_state": trip.state.value, "placed": placed})


def trips_with_plate(plate: str):
    """SELECT of the ids of trips whose provider order names a car with ``plate`` (the trip
    list's plate filter)."""
    return select(ProviderOrder.trip_id).where(ProviderOrder.plate == plate)
