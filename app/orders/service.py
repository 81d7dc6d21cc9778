"""Provider orders (rental, ride-hailing): booking after approval, signed callbacks,
cancellation with the provider's fee.

Booking (worker job ``orders.book``) runs in three short steps so that no write
transaction is held while the provider is called: *claim* (a ``pending`` row becomes
``booking`` with a lease, committed), *call* the adapter with no transaction open, *record*
the answer (a new write transaction). The row and its ``out_order_id`` exist before the
first call and every retry sends the same ``out_order_id``, which the provider deduplicates:
a lost answer, a crashed worker (its lease runs out) or a second run never make a second
provider order. Transient failures (timeout, unreachable, 5xx, malformed) are retried with
exponential backoff up to ``MAX_ATTEMPTS``; a refusal fails at once. Either way the trip's
``dispatch_issue`` says why in Chinese, so the dispatcher queue shows it.

Callbacks (``apply_callback``) move an order only forward (``ORDER_RANK``): a duplicate or
an out-of-order event is answered but changes nothing. The trip follows the order:
created/assigned/arrived → ``dispatched``, in_trip → ``in_progress``, completed/paid →
``completed``; the first final bill goes to the ``provider_bill`` hook (billing).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError

from app import audit, clock, db
from app.errors import Conflict, IllegalTransition, UpstreamError
from app.orders.models import LIVE, ORDER_RANK, OrderState, ProviderOrder, WebhookNonce
from app import supply
from app.quotes.service import provider_offer, quote_request_for
from app.trips import events
from app.trips.models import Channel, Offer, Trip, TripState
from app.trips.service import get_visible
from providers import base

log = logging.getLogger(__name__)
S = TripState
O = OrderState

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
# A worker that claimed a booking and vanished gives it up after this long.
LEASE = timedelta(minutes=2)
BATCH = 20
PROVIDER_CHANNELS = (Channel.RENTAL, Channel.RIDEHAIL)
# Where a provider's order state puts the trip.
TRIP_TARGET = {O.CREATED: S.DISPATCHED, O.ASSIGNED: S.DISPATCHED, O.ARRIVED: S.DISPATCHED,
               O.IN_TRIP: S.IN_PROGRESS, O.COMPLETED: S.COMPLETED, O.PAID: S.COMPLETED}
REFUSALS = {40400: "供应商找不到所选报价", 40410: "所选报价已过期，供应商拒绝下单",
            42200: "供应商认为下单信息不完整"}
ENDED = (S.CANCELLED, S.REJECTED, S.WITHDRAWN, S.EXPIRED)


def _audit(session, row: ProviderOrder, action: str, data: dict | None = None) -> None:
    """Audit what happened to an order that did not change its state."""
    audit.record(session, entity="provider_orders", entity_id=row.id, action=action,
                 actor_id=None, data={"trip_id": row.trip_id, "provider": row.provider,
                                      "state": row.state, **(data or {})})


def _move(session, row: ProviderOrder, to: OrderState, event: str,
          data: dict | None = None, at: datetime | None = None) -> None:
    """Move the order by a legal step (``ProviderOrder.TRANSITIONS``), audited as ``event``."""
    row.transition(session, to, actor_id=None, at=at,
                   data={"event": event, "trip_id": row.trip_id, "provider": row.provider,
                         **(data or {})})


def _lock_order(session, stmt) -> ProviderOrder | None:
    return session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


# --- replay protection ---------------------------------------------------------------------

class DbNonceStore:
    """``providers.http.NonceStore`` in the database: a nonce is refused in every process
    once accepted. Runs in the caller's transaction (kept only if the callback is handled)."""

    def __init__(self, session):
        self.session = session

    def add(self, key: str, nonce: str, expires_at: float) -> bool:
        try:
            with self.session.begin_nested():
                self.session.add(WebhookNonce(
                    provider=key, nonce=nonce,
                    expires_at=datetime.fromtimestamp(expires_at, timezone.utc)))
        except IntegrityError:
            return False
        return True


def purge_nonces(session, now: datetime) -> int:
    """Forget nonces whose timestamps are outside the window anyway."""
    return session.execute(delete(WebhookNonce).where(WebhookNonce.expires_at < now)).rowcount


# --- booking -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    order_pk: int
    provider: str
    request: base.OrderRequest


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
        _audit(session, row, "opened", {"out_order_id": row.out_order_id})
    return len(trip_ids)


def _order_request(session, trip: Trip, row: ProviderOrder) -> base.OrderRequest:
    offer = session.get(Offer, trip.selected_offer_id)
    passengers = trip.passengers or []
    contact = passengers[0].get("name") if passengers else None
    return base.OrderRequest(
        out_order_id=row.out_order_id, offer=provider_offer(offer),
        request=quote_request_for(trip, supply.route_estimator()),
        contact_name=contact or trip.applicant.name, contact_phone=trip.applicant.phone)


def claim_due(session, now: datetime) -> list[Claimed]:
    """Due ``pending`` rows (and ``booking`` rows whose worker's lease ran out) become
    ``booking`` under a fresh lease; the caller commits before calling out."""
    rows = session.scalars(select(ProviderOrder).where(
        ((ProviderOrder.state == O.PENDING) & (ProviderOrder.next_attempt_at <= now))
        | ((ProviderOrder.state == O.BOOKING) & (ProviderOrder.claimed_until < now)))
        .order_by(ProviderOrder.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    claimed = []
    for row in rows:
        trip = session.get(Trip, row.trip_id)
        if row.state == O.PENDING and trip.state in ENDED:
            _drop(session, row, trip)
            continue
        if supply.ordering(row.provider) is None:
            _fail(session, row, trip, f"供应商“{row.provider}”未启用，无法下单", now)
            continue
        row.claimed_until, row.attempts = now + LEASE, row.attempts + 1
        _move(session, row, O.BOOKING, "claimed", {"attempt": row.attempts}, now)
        claimed.append(Claimed(row.id, row.provider, _order_request(session, trip, row)))
    return claimed


def place(claim: Claimed) -> base.Order | base.ProviderError:
    """The network call, outside any transaction; failures come back as values."""
    try:
        return supply.ordering(claim.provider).book(claim.request)
    except base.ProviderError as exc:
        return exc


def transient(exc: base.ProviderError) -> bool:
    """Worth another try: no answer, an unreadable one, or a server error."""
    if isinstance(exc, (base.ProviderTimeout, base.MalformedResponse, base.SignatureError)):
        return True
    code = exc.code
    return code is None or (isinstance(code, int) and (500 <= code < 600 or 50000 <= code < 60000))


def record(session, claim: Claimed, outcome: base.Order | base.ProviderError,
           now: datetime) -> None:
    """Write down what the provider answered (in the caller's write transaction)."""
    row = _lock_order(session, select(ProviderOrder).where(ProviderOrder.id == claim.order_pk))
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    if isinstance(outcome, base.ProviderError):
        _failed_attempt(session, row, trip, outcome, now)
        return
    row.claimed_until, row.error = None, None
    _absorb(row, outcome)
    booked = {"order_id": row.order_id, "out_order_id": row.out_order_id}
    state = OrderState(outcome.state)
    if ORDER_RANK[state] > ORDER_RANK[row.state]:
        _move(session, row, state, "booked", booked, now)
    else:  # a callback recorded the order first
        _audit(session, row, "booked", booked)
    if trip.dispatchable:
        _dispatched(session, trip, _event_data(row, "booked"), now)


def _dispatched(session, trip: Trip, data: dict, now: datetime) -> None:
    """The provider took the order: the trip is dispatched (and off the dispatch queue)."""
    trip.dispatch_issue = None
    trip.transition(session, S.DISPATCHED, actor_id=None, at=now, data=data)
    events.publish(session, events.TRIP_DISPATCHED, trip=trip, at=now)


def _failed_attempt(session, row: ProviderOrder, trip: Trip, exc: base.ProviderError,
                    now: datetime) -> None:
    row.claimed_until = None
    if row.state != O.BOOKING:
        # The provider's callback told us the order was made: only its answer was lost.
        _audit(session, row, "answer_lost", {"error": str(exc), "attempt": row.attempts})
        return
    if transient(exc) and row.attempts < MAX_ATTEMPTS:
        wait = RETRY_BASE * (2 ** (row.attempts - 1))
        row.next_attempt_at, row.error = now + wait, str(exc)
        _move(session, row, O.PENDING, "retry_scheduled",
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
    _move(session, row, O.FAILED, "gave_up", {"reason": reason, "error": row.error}, now)
    _set_issue(session, trip, reason, row, now)


def _set_issue(session, trip: Trip, reason: str, row: ProviderOrder, now: datetime) -> None:
    trip.dispatch_issue = reason
    trip.note(session, "orders:booking_issue", actor_id=None, at=now, comment=reason,
              data={"provider": row.provider, "event": row.state})


def book_due(session, now: datetime) -> int:
    """One run of the booking job: open, claim, call (no transaction), record."""
    db.begin_write(session)
    open_orders(session, now)
    claims = claim_due(session, now)
    session.commit()
    for claim in claims:
        outcome = place(claim)
        db.begin_write(session)
        record(session, claim, outcome, now)
        session.commit()
        _cancel_orphan(session, claim.order_pk, now)
    return len(claims)


def _cancel_orphan(session, order_pk: int, now: datetime) -> None:
    """The trip was cancelled while its booking was in flight: cancel the new order too."""
    row = session.get(ProviderOrder, order_pk, populate_existing=True)
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    session.commit()
    if trip.state != S.CANCELLED or row.order_id is None or row.state == O.CANCELLED:
        return
    _cancel_with_provider(session, order_pk, row.provider, row.order_id, "行程已取消",
                          {"orphan": True})


def _cancel_with_provider(session, order_pk: int, provider: str, order_id: str, reason: str,
                          note: dict) -> bool:
    """Cancel an order we no longer want with its provider, with no transaction open during
    the call, then record it; False when the provider could not be reached (tried again
    later). The provider's own cancel callback may have recorded it first."""
    adapter = supply.ordering(provider)
    if adapter is None:
        log.warning("could not cancel order %s we no longer want: provider %s is not enabled",
                    order_id, provider)
        return False
    try:
        result = adapter.cancel(order_id, reason)
    except base.ProviderError as exc:
        log.warning("could not cancel order %s we no longer want: %s", order_id, exc)
        return False
    db.begin_write(session)
    row = _lock_order(session, select(ProviderOrder).where(ProviderOrder.id == order_pk))
    if row.state != O.CANCELLED:
        row.cancel_fee = result.fee
        _move(session, row, O.CANCELLED, "cancel_sent", {"fee": str(result.fee), **note})
    else:  # the provider's callback recorded it first
        _audit(session, row, "cancel_sent", {"fee": str(result.fee), **note})
    session.commit()
    return True


# --- callbacks -----------------------------------------------------------------------------

def _absorb(row: ProviderOrder, order: base.Order) -> None:
    row.order_id = order.order_id or row.order_id
    row.plate = order.plate or row.plate
    row.driver_name = order.driver_name or row.driver_name
    row.driver_phone = order.driver_phone or row.driver_phone


def _event_data(row: ProviderOrder, event: str) -> dict:
    return {"provider": row.provider, "event": event, "order_id": row.order_id}


def apply_callback(session, provider: str, order: base.Order, now: datetime) -> dict:
    """Apply one verified callback; duplicates, stale events and unknown orders change nothing."""
    row = _lock_order(session, select(ProviderOrder).where(
        ProviderOrder.provider == provider, ProviderOrder.out_order_id == order.out_order_id))
    if row is None:
        log.warning("callback from %s for unknown order %s/%s", provider, order.order_id,
                    order.out_order_id)
        return {"ignored": "unknown_order"}
    rank = ORDER_RANK.get(order.state)
    if rank is None or rank <= ORDER_RANK[row.state]:
        return {"ignored": "stale_event", "state": row.state}
    state = OrderState(order.state)
    _absorb(row, order)
    row.last_event_at = now
    if state == O.CANCELLED:
        row.cancel_fee = base.money(order.extra.get("cancel_fee") or "0")
    _move(session, row, state, "callback", {"order_id": row.order_id}, now)
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    if trip.channel not in PROVIDER_CHANNELS or trip.state == S.CANCELLED:
        # The trip moved to the fleet, or was cancelled, after its booking had been given up,
        # and the provider made the order after all (lost answers): the order is not the
        # trip's; ``cancel_unwanted`` cancels it with the provider.
        return {"ok": True, "state": row.state, "ignored": "trip_not_with_provider"}
    data = {**_event_data(row, state), **_driver(row)}
    if order.extra.get("actual_km"):  # what a rental company bills on, in the trip history
        data["actual_km"] = str(order.extra["actual_km"])
    if state == O.CANCELLED:
        _provider_cancelled(session, trip, data, now)
    else:
        _advance_trip(session, trip, TRIP_TARGET[state], data, now)
    if order.bill is not None and row.bill is None and rank >= ORDER_RANK[O.COMPLETED]:
        row.bill = [line.as_dict() for line in order.bill.lines]
        _provider_bill(session, trip, order)
    return {"ok": True, "state": row.state}


def _driver(row: ProviderOrder) -> dict:
    return {k: v for k, v in (("plate", row.plate), ("driver_name", row.driver_name),
                              ("driver_phone", row.driver_phone)) if v}


def _advance_trip(session, trip: Trip, target: TripState, data: dict, now: datetime) -> None:
    """Move the trip forward to ``target`` by legal steps; otherwise just note the event."""
    moved = False
    if trip.dispatchable:
        _dispatched(session, trip, data, now)
        moved = True
    if target == S.IN_PROGRESS and trip.startable:
        trip.transition(session, S.IN_PROGRESS, actor_id=None, at=now, data=data)
        events.publish(session, events.TRIP_STARTED, trip=trip, at=now)
        moved = True
    if target == S.COMPLETED and trip.state in (S.DISPATCHED, S.IN_PROGRESS):
        trip.transition(session, S.COMPLETED, actor_id=None, at=now, data=data)
        moved = True
    if not moved:
        trip.note(session, f"provider:{data['event']}", actor_id=None, at=now, data=data)


def _provider_cancelled(session, trip: Trip, data: dict, now: datetime) -> None:
    """The provider cancelled (we did not): the trip waits for the dispatcher again."""
    if trip.state == S.DISPATCHED:
        trip.dispatch_issue = "供应商取消了订单，请联系供应商、改派公车或取消行程"
        trip.transition(session, trip.undispatched_state(), actor_id=None, at=now,
                        comment=trip.dispatch_issue, data=data)
    else:
        trip.note(session, "provider:cancelled", actor_id=None, at=now, data=data)


def _provider_bill(session, trip: Trip, order: base.Order) -> None:
    """Hand the final bill to billing through the ``provider_bill`` event."""
    events.publish(session, events.PROVIDER_BILL, trip=trip, bill=order.bill, order=order)


def _drop(session, row: ProviderOrder, trip: Trip) -> None:
    """No more booking for this row. Never sent: cancelled. Sent but never answered (every
    answer lost): ``failed``, not ``cancelled``, so that if the provider made the order after
    all its callbacks still register and ``cancel_unwanted`` cancels it with the provider."""
    placed = row.attempts > 0
    to = O.FAILED if placed else O.CANCELLED
    if row.state != to:
        _move(session, row, to, "dropped", {"trip_state": trip.state.value, "placed": placed})


# --- the dispatcher's way out: the fleet ----------------------------------------------------

SWITCHABLE = (O.FAILED, O.CANCELLED)


def switch_to_fleet(session, *, actor, trip_id: int, reason: str) -> Trip:
    """A provider trip whose booking failed (refused, retries exhausted, or the provider
    cancelled) becomes a fleet trip, waiting in the queue for a vehicle and a driver."""
    trip = get_visible(session, actor, trip_id)
    if trip.channel not in PROVIDER_CHANNELS:
        raise Conflict("该行程已由公车平台派车", code="not_provider_trip")
    if not trip.dispatchable:
        raise IllegalTransition("只有待派车的行程可以改派公车", code="not_dispatchable",
                                errors={"state": trip.state.value})
    row = _lock_order(session, select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
    if row is None or row.state not in SWITCHABLE:
        raise Conflict("供应商订单仍在处理中，不能改派公车；请先取消该订单",
                       code="provider_order_live",
                       errors={"order_state": row.state if row else None})
    channel, issue = trip.channel, trip.dispatch_issue
    trip.channel, trip.dispatch_issue = Channel.FLEET, None
    data = {"from_channel": str(channel), "provider": row.provider, "order_state": row.state,
            "out_order_id": row.out_order_id, "issue": issue}
    trip.note(session, "dispatch:switched_to_fleet", actor_id=actor.id, comment=reason, data=data)
    _audit(session, row, "abandoned", {"reason": reason, "by": actor.id})
    return trip


def cancel_unwanted(session, now: datetime) -> int:
    """Cancel, with the provider, live orders of trips that moved to the fleet or were
    cancelled while their booking had been given up (the provider made the order after all,
    its answers lost). Calls are made outside transactions."""
    rows = session.execute(select(ProviderOrder.id, ProviderOrder.provider, ProviderOrder.order_id)
                           .join(Trip, Trip.id == ProviderOrder.trip_id)
                           .where(or_(Trip.channel == Channel.FLEET, Trip.state == S.CANCELLED),
                                  ProviderOrder.state.in_(LIVE),
                                  ProviderOrder.order_id.is_not(None))
                           .order_by(ProviderOrder.id).limit(BATCH)).all()
    session.commit()
    return sum(_cancel_with_provider(session, order_pk, provider, order_id,
                                     "行程已取消或改由公车平台保障", {"unwanted": True})
               for order_pk, provider, order_id in rows)


# --- cancellation --------------------------------------------------------------------------

def cancel_provider_order(session, *, trip: Trip, **_) -> events.CancellationFee | None:
    """Cancel the trip's provider order and report the fee the provider charges.

    The call is made inside the cancel request, holding its write transaction. That is a
    deliberate choice: the fee must be on the trip in the same commit as the cancellation,
    and if the provider cannot be reached the cancellation fails (502) and nothing changes
    on our side, so we never show a trip as cancelled while its car is still on the way.
    The call is short (the adapter's 0.5 s connect / 3 s read timeouts), idempotent at the
    provider (a retry of the same cancel returns the same fee) and cancellations are rare.
    A booking still in flight is cancelled by the booking job once it learns the order id.
    """
    row = _lock_order(session, select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
    if row is None or row.state == O.BOOKING:
        return None
    if row.state in (O.PENDING, O.FAILED):
        _drop(session, row, trip)
        return None
    if row.state != O.CANCELLED:
        adapter = supply.ordering(row.provider)
        if adapter is None:
            raise UpstreamError("该供应商已停用，暂时无法取消订单，请联系调度员",
                                code="provider_cancel_failed",
                                errors={"provider": row.provider, "reason": "provider disabled"})
        try:
            result = adapter.cancel(row.order_id, "行程已取消")
        except base.ProviderError as exc:
            raise UpstreamError("供应商暂时无法取消订单，请稍后重试", code="provider_cancel_failed",
                                errors={"provider": row.provider, "reason": str(exc)}) from exc
        row.cancel_fee = result.fee
        _move(session, row, O.CANCELLED, "cancel_sent",
              {"fee": str(result.fee), "order_id": row.order_id})
    if not row.cancel_fee:
        return None
    return events.CancellationFee(amount=Decimal(row.cancel_fee), provider=row.provider,
                                 extra={"order_id": row.order_id})
