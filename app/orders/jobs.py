"""Provider orders' worker jobs: place due bookings, cancel unwanted orders, reconcile
orders whose callbacks were missed, forget old webhook nonces."""
from __future__ import annotations

from app import db
from app.orders import booking, callbacks, cancellation, reconciliation, requote


def book(session, now) -> int:
    """Place the orders of approved (or emergency) rental and ride-hailing trips: open, claim,
    call (no transaction), record; an order whose trip was cancelled while its booking was in
    flight is cancelled with the provider."""
    db.begin_write(session)
    booking.open_orders(session, now)
    claims = booking.claim_due(session, now)
    session.commit()
    for claim in claims:
        outcome = booking.place(claim)
        db.begin_write(session)
        booking.record(session, claim, outcome, now)
        session.commit()
        cancellation.cancel_orphan(session, claim.order_pk)
    return len(claims)


def cancel_unwanted(session, now) -> int:
    """Cancel provider orders made after all for trips the dispatcher moved to the fleet."""
    return cancellation.cancel_unwanted(session, now)


def reconcile(session, now) -> int:
    """Ask providers about orders not heard of for a while (a callback may have been lost)
    and apply what they say as their callback would have been."""
    return reconciliation.reconcile(session, now)


def purge_nonces(session, now) -> int:
    """Webhook nonces past their signature window are of no more use."""
    db.begin_write(session)
    return callbacks.purge_nonces(session, now)


def expire_price_changes(session, now) -> int:
    """Trips whose new price the traveler left unanswered until departure expire."""
    db.begin_write(session)
    return requote.expire_unanswered(session, now)
