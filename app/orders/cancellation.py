"""Cancelling provider orders: with the trip (the provider's fee goes on it), orders we no
longer want (a booking answered after its trip was cancelled, or made after all for a trip
moved to the fleet), and the dispatcher's switch of a failed provider trip to the fleet."""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select

from app import db, supply
from app.approvals import workflow
from app.billing import service as billing
from app.errors import Conflict, IllegalTransition, UpstreamError
from app.orders.booking import (BATCH, PROVIDER_CHANNELS, audit_order, drop, lock_order,
                                move)
from app.orders.models import LIVE, OrderState, ProviderOrder
from app.trips import events
from app.trips.models import Channel, Trip, TripState
from app.trips.service import get_visible
from providers import base

log = logging.getLogger(__name__)
S = TripState
O = OrderState



# --- with the trip -------------------------------------------------------------------------

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
    row = lock_order(session, select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
    if row is None or row.state == O.BOOKING:
        return None
    if row.state in (O.PENDING, O.FAILED):
        drop(session, row, trip)
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
        move(session, row, O.CANCELLED, "cancel_sent",
             {"fee": str(result.fee), "order_id": row.order_id})
    if not row.cancel_fee:
        return None
    return events.CancellationFee(amount=Decimal(row.cancel_fee), provider=row.provider,
                                 extra={"order_id": row.order_id})


# --- orders we no longer want --------------------------------------------------------------

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
    row = lock_order(session, select(ProviderOrder).where(ProviderOrder.id == order_pk))
    if row.state != O.CANCELLED:
        row.cancel_fee = result.fee
        move(session, row, O.CANCELLED, "cancel_sent", {"fee": str(result.fee), **note})
    else:  # the provider's callback recorded it first
        audit_order(session, row, "cancel_sent", {"fee": str(result.fee), **note})
    session.commit()
    return True


def cancel_orphan(session, order_pk: int) -> None:
    """The trip was cancelled while its booking was in flight: cancel the new order too."""
    row = session.get(ProviderOrder, order_pk, populate_existing=True)
    trip = session.get(Trip, row.trip_id, populate_existing=True)
    session.commit()
    if trip.state != S.CANCELLED or row.order_id is None or row.state == O.CANCELLED:
        return
    _cancel_with_provider(session, order_pk, row.provider, row.order_id, "行程已取消",
                          {"orphan": True})


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


# --- the dispatcher's way out: the fleet ----------------------------------------------------

SWITCHABLE = (O.FAILED, O.CANCELLED)


def switch_to_fleet(session, *, actor, trip_id: int, reason: str) -> Trip:
    """A provider trip whose booking failed (refused, retries exhausted, or the provider
    cancelled) becomes a fleet trip, waiting in the queue for a vehicle and a driver. Its
    estimate becomes the fleet's; when that price needs an approval step the trip's
    workflow did not hold, the trip goes back for that step first."""
    trip = get_visible(session, actor, trip_id)
    if trip.channel not in PROVIDER_CHANNELS:
        raise Conflict("该行程已由公车平台派车", code="not_provider_trip")
    if not trip.dispatchable:
        raise IllegalTransition("只有待派车的行程可以改派公车", code="not_dispatchable",
                                errors={"state": trip.state.value})
    row = lock_order(session, select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
    if row is None or row.state not in SWITCHABLE:
        raise Conflict("供应商订单仍在处理中，不能改派公车；请先取消该订单",
                       code="provider_order_live",
                       errors={"order_state": row.state if row else None})
    channel, issue, estimate = trip.channel, trip.dispatch_issue, trip.estimate
    trip.channel, trip.dispatch_issue = Channel.FLEET, None
    trip.estimate = billing.fleet_estimate(session, trip)
    data = {"from_channel": str(channel), "provider": row.provider, "order_state": row.state,
            "out_order_id": row.out_order_id, "issue": issue,
            "estimate_before": str(estimate), "estimate": str(trip.estimate)}
    trip.note(session, "dispatch:switched_to_fleet", actor_id=actor.id, comment=reason, data=data)
    audit_order(session, row, "abandoned", {"reason": reason, "by": actor.id})
    workflow.reapprove_for_new_price(session, actor=actor, trip=trip)
    return trip
