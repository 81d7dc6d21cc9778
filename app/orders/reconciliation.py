"""Reconciling provider orders whose callbacks were missed (worker job ``orders.reconcile``).

Callbacks carry every change of an order, but one can be lost for good (our app was down
longer than the provider kept retrying): the trip would stay ``dispatched`` and never be
billed. So an order not yet final (``LIVE``) that nothing has touched for ``STALE_AFTER`` is
asked about with the adapter's ``status``, and the answer is applied exactly as its callback
would have been (``callbacks.apply_callback``: forward only, the first final bill billed
once, so a callback arriving late changes nothing). An order given up after its booking
was sent (``failed``) whose id we never learned may have been made all the same (every
answer lost): it is looked up by our own ``out_order_id`` until the provider answers. A
cancelled order of a provider that decides its cancellation fee after the fact
(``cancel_fee_decided_later``, DiDi) is asked about for ``FEE_WINDOW`` after it was made,
so a fee whose notify was lost still reaches the order.

Like booking, in three steps so that no transaction is open during a call: *claim* the due
rows (their ``updated_at`` is touched, so each is asked at most once per ``STALE_AFTER`` and
a second worker skips it), *ask* the provider, *record* the answer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app import db, supply
from app.orders.booking import BATCH, audit_order, lock_order
from app.orders.callbacks import apply_callback
from app.orders.models import LIVE, OrderState, ProviderOrder
from providers import base

log = logging.getLogger(__name__)
O = OrderState

# An order is asked about once nothing has touched it (callback, booking, poll) this long.
STALE_AFTER = timedelta(minutes=5)
# How long a cancelled order's fee may still be decided by its provider.
FEE_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Due:
    order_pk: int
    provider: str
    order_id: str | None
    out_order_id: str


def claim_stale(session, now: datetime) -> list[Due]:
    """Live orders untouched for ``STALE_AFTER``, and sent-then-failed orders we never heard
    of, of enabled providers; touched so that they are not asked again before it passes."""
    every = {**supply.providers(), **supply.dynamic()}
    enabled = [name for name, provider in every.items() if provider.takes_orders]
    decided_later = [name for name, provider in every.items()
                     if provider.takes_orders and getattr(provider, "cancel_fee_decided_later",
                                                          False)]
    never_heard = ((ProviderOrder.state == O.FAILED) & (ProviderOrder.attempts > 0)
                   & ProviderOrder.order_id.is_(None) & ProviderOrder.last_event_at.is_(None))
    fee_open = ((ProviderOrder.state == O.CANCELLED) & ProviderOrder.provider.in_(decided_later)
                & ProviderOrder.order_id.is_not(None) & (ProviderOrder.created_at >= now - FEE_WINDOW))
    rows = session.scalars(select(ProviderOrder).where(
        ProviderOrder.provider.in_(enabled), ProviderOrder.updated_at < now - STALE_AFTER,
        ProviderOrder.state.in_(LIVE) | never_heard | fee_open)
        .order_by(ProviderOrder.updated_at, ProviderOrder.id).limit(BATCH)
        .with_for_update(skip_locked=True)).all()
    for row in rows:
        row.updated_at = now
    return [Due(row.id, row.provider, row.order_id, row.out_order_id) for row in rows]


def ask(due: Due) -> base.Order | base.ProviderError | None:
    """The provider's view of the order (None: it has none under our reference), asked with
    no transaction open; failures come back as values."""
    adapter = supply.ordering(due.provider)
    try:
        if due.order_id is not None:
            return adapter.status(due.order_id)
        return adapter.lookup(due.out_order_id)
    except base.ProviderError as exc:
        return exc


def record(session, due: Due, answer: base.Order | base.ProviderError | None,
           now: datetime) -> None:
    """Apply the answer as a callback (in the caller's write transaction)."""
    if isinstance(answer, base.ProviderError):
        log.warning("could not reconcile order %s/%s with %s (asked again in %s): %s",
                    due.order_id, due.out_order_id, due.provider, STALE_AFTER, answer)
    elif answer is None:
        # The provider never made the order: nothing more to look up.
        row = lock_order(session, select(ProviderOrder).where(ProviderOrder.id == due.order_pk))
        row.last_event_at = now
        audit_order(session, row, "not_found_with_provider", {"out_order_id": due.out_order_id})
    else:
        apply_callback(session, due.provider, answer, now, source="reconciled")


def reconcile(session, now: datetime) -> int:
    """Claim, ask, record; the number of orders asked about."""
    db.begin_write(session)
    due = claim_stale(session, now)
    session.commit()
    for item in due:
        answer = ask(item)
        db.begin_write(session)
        record(session, item, answer, now)
        session.commit()
    return len(due)
