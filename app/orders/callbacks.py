"""Provider callbacks: the nonce store that refuses replays, and applying a verified callback.

Callbacks (``apply_callback``) move an order only forward (``ORDER_RANK``): a duplicate or
an out-of-order event is answered but changes nothing. A provider that versions its
callbacks (``version``, increasing per order: partner platforms) is ordered by it instead:
an older version is stale whatever its state, and a newer ``created`` after ``assigned``
is the provider taking the assignment back (the crew is forgotten, the trip stays
dispatched with the provider and waits for the next assignment). The trip follows the order:
created/assigned/arrived → ``dispatched``, in_trip → ``in_progress``, completed/paid →
``completed``; the first final bill goes to the ``provider_bill`` hook (billing).
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.orders.booking import (PROVIDER_CHANNELS, absorb, audit_order, dispatched, event_data,
                                lock_order, move)
from app.orders.models import ORDER_RANK, OrderState, ProviderOrder, WebhookNonce
from app.trips import events
from app.trips.models import Trip, TripState
from providers import base

log = logging.getLogger(__name__)
S = TripState
O = OrderState

# Where a provider's order state puts the trip.
TRIP_TARGET = {O.CREATED: S.DISPATCHED, O.ASSIGNED: S.DISPATCHED, O.ARRIVED: S.DISPATCHED,
               O.IN_TRIP: S.IN_PROGRESS, O.COMPLETED: S.COMPLETED, O.PAID: S.COMPLETED}


# --- replay protection ---------------------------------------------------------------------

class DbNonceStore:
    """``providers.http.NonceStore`` in the database: a nonce (a ride-hailing ``nonce``, a
    Standard Webhooks ``webhook-id``) is refused in every process once accepted. Runs in the
    caller's transaction (kept only if the callback is handled). The table keeps the nonce's
    SHA-256, so a platform's nonce of any length fits."""

    def __init__(self, session):
        self.session = session

    def add(self, key: str, nonce: str, expires_at: float) -> bool:
        try:
            with self.session.begin_nested():
                self.session.add(WebhookNonce(
                    provider=key, nonce=hashlib.sha256(nonce.encode()).hexdigest(),
                    expires_at=datetime.fromtimestamp(expires_at, timezone.utc)))
        except IntegrityError:
            return False
        return True


def purge_nonces(session, now: datetime) -> int:
    """Forget nonces whose timestamps are outside the window anyway."""
    return session.execute(delete(WebhookNonce).where(WebhookNonce.expires_at < now)).rowcount


# --- callbacks -----------------------------------------------------------------------------

def apply_callback(session, provider: str, order: base.Order, now: datetime, *,
                   source: str = "callback") -> dict:
    """Apply one verified callback, or a provider's answer to our asking (``source`` names
    it in the order's audit); duplicates, stale events and unknown orders change nothing."""
    row = _find_order(session, provider, order)
    if row is None:
        log.warning("callback from %s for unknown order %s/%s", provider, order.order_id,
                    order.out_order_id)
        return {"ignored": "unknown_order"}
    if order.order_id in (row.order_id_history or []):
        return {"ignored": "stale_event", "state": row.state}  # about a replaced order id
    version = _version(order)
    if version is not None:
        if row.last_version is not None and version <= row.last_version:
            return {"ignored": "stale_event", "state": row.state}
        row.last_version = version
        if order.state == O.CREATED and row.state in (O.ASSIGNED, O.ARRIVED):
            return _taken_back(session, row, version, now, source)
    changed = _reassigned(session, row, order, now, source)
    rank = ORDER_RANK.get(order.state)
    if rank is None or rank <= ORDER_RANK[row.state]:
        changed = _driver_changed(session, row, order, now, source) or changed
        changed = _cancel_fee_changed(session, row, order, now, source) or changed
        if changed:
            return {"ok": True, "state": row.state}
        return {"ignored": "stale_event", "state": row.state}
    state = OrderState(order.state)
    crew_before = _driver(row)
    absorb(row, order)
    row.last_event_at = now
    if state == O.CANCELLED:
        row.cancel_fee = base.money(order.extra.get("cancel_fee") or "0")
    move(session, row, state, source, {"order_id": row.order_id}, now)
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    if trip.channel not in PROVIDER_CHANNELS or trip.state == S.CANCELLED:
        # The trip moved to the fleet, or was cancelled, after its booking had been given up,
        # and the provider made the order after all (lost answers): the order is not the
        # trip's; ``cancel_unwanted`` cancels it with the provider.
        return {"ok": True, "state": row.state, "ignored": "trip_not_with_provider"}
    data = {**event_data(row, state), **_driver(row)}
    if order.extra.get("actual_km"):  # what a rental company bills on, in the trip history
        data["actual_km"] = str(order.extra["actual_km"])
    if state == O.CANCELLED:
        _provider_cancelled(session, trip, data, now)
    else:
        _advance_trip(session, trip, TRIP_TARGET[state], data, now)
        if _driver(row) != crew_before and row.plate:
            events.publish(session, events.TRIP_CREW_KNOWN, trip=trip, crew=_driver(row), at=now)
    if order.bill is not None and row.bill is None and rank >= ORDER_RANK[O.COMPLETED]:
        row.bill = [line.as_dict() for line in order.bill.lines]
        _provider_bill(session, trip, order)
    return {"ok": True, "state": row.state}


def _version(order: base.Order) -> int | None:
    version = order.extra.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _taken_back(session, row: ProviderOrder, version: int, now: datetime, source: str) -> dict:
    """A newer version says ``created`` again: the provider took the vehicle and driver back
    (a partner's dispatcher unassigned them). The order waits for its next assignment, the
    crew it had is forgotten; the trip stays dispatched with the provider, noted."""
    before = _driver(row)
    move(session, row, O.CREATED, source, {"order_id": row.order_id, "version": version,
                                           "previous": before}, now)
    row.plate = row.driver_name = row.driver_phone = None
    row.last_event_at = now
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    trip.note(session, "provider:unassigned", actor_id=None, at=now,
              comment="供应商撤回了已派车辆，等待重新派车",
              data={"provider": row.provider, "order_id": row.order_id, "previous": before})
    return {"ok": True, "state": row.state}


def _find_order(session, provider: str, order: base.Order) -> ProviderOrder | None:
    """The order row a provider's answer is about: by our reference when the provider
    echoes it, else by its order id, current or the one it replaced (reassignment)."""
    stmt = select(ProviderOrder).where(ProviderOrder.provider == provider)
    if order.out_order_id:
        return lock_order(session, stmt.where(ProviderOrder.out_order_id == order.out_order_id))
    ids = [order.order_id, *order.extra.get("previous_order_ids", [])]
    return lock_order(session, stmt.where(ProviderOrder.order_id.in_(ids)).limit(1))


def _reassigned(session, row: ProviderOrder, order: base.Order, now: datetime,
                source: str) -> bool:
    """The provider gave the order a new id (and a new driver search): keep the old id in the
    history, take the new one and its driver (none yet), note it on the trip."""
    if not (order.order_id and row.order_id and order.order_id != row.order_id):
        return False
    old = row.order_id
    absorb(row, order)
    row.plate, row.driver_name, row.driver_phone = (order.plate, order.driver_name,
                                                    order.driver_phone)
    row.last_event_at = now
    data = {"from_order_id": old, "order_id": row.order_id, "source": source}
    audit_order(session, row, "reassigned", data)
    trip = session.get(Trip, row.trip_id)
    trip.note(session, "provider:reassigned", actor_id=None, at=now,
              data={"provider": row.provider, **data})
    return True


def _driver_changed(session, row: ProviderOrder, order: base.Order, now: datetime,
                    source: str) -> bool:
    """The same state with another driver or car (the provider changed them): take it."""
    new = (order.plate, order.driver_name, order.driver_phone)
    if order.state != row.state or order.state == O.CANCELLED or not order.plate \
            or new == (row.plate, row.driver_name, row.driver_phone):
        return False
    before = _driver(row)
    absorb(row, order)
    row.last_event_at = now
    audit_order(session, row, "driver_changed", {"before": before, "source": source,
                                                 **_driver(row)})
    trip = session.get(Trip, row.trip_id)
    trip.note(session, "provider:driver_changed", actor_id=None, at=now,
              data={"provider": row.provider, "order_id": row.order_id, **_driver(row)})
    return True


def _cancel_fee_changed(session, row: ProviderOrder, order: base.Order, now: datetime,
                        source: str) -> bool:
    """The fee a provider finally decides for a cancelled order (it arrives with the order's
    detail after the cancellation) replaces the one its fee rule gave on the order, audited
    and noted on the trip; the decided fee is published again (``cancellation_fee``), so
    billing revises the trip's cancellation charge and its statement line follows."""
    fee = order.extra.get("cancel_fee")
    if row.state != O.CANCELLED or order.state != O.CANCELLED or fee is None:
        return False
    fee = base.money(fee)
    if row.cancel_fee is not None and base.money(row.cancel_fee) == fee:
        return False
    data = {"before": None if row.cancel_fee is None else str(row.cancel_fee),
            "fee": str(fee), "source": source}
    audit_order(session, row, "cancel_fee_decided", data)
    row.cancel_fee = fee
    trip = session.get(Trip, row.trip_id)
    trip.note(session, "provider:cancel_fee_decided", actor_id=None, at=now,
              data={"provider": row.provider, "order_id": row.order_id, **data})
    trip.cancellation_fee = fee
    events.publish(session, events.CANCELLATION_FEE, trip=trip, at=now,
                   fee=events.CancellationFee(amount=fee, provider=row.provider,
                                              extra={"order_id": row.order_id}))
    return True


def _driver(row: ProviderOrder) -> dict:
    return {k: v for k, v in (("plate", row.plate), ("driver_name", row.driver_name),
                              ("driver_phone", row.driver_phone)) if v}


def _advance_trip(session, trip: Trip, target: TripState, data: dict, now: datetime) -> None:
    """Move the trip forward to ``target`` by legal steps; otherwise just note the event."""
    moved = False
    if trip.dispatchable:
        dispatched(session, trip, data, now)
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
