"""Provider orders' worker jobs: place due bookings, cancel unwanted orders, forget old
webhook nonces."""
from __future__ import annotations

from app import db
from app.orders import service
from app.jobs import job


@job("orders.book", every=5)
def book(session, now) -> int:
    """Place the orders of approved (or emergency) rental and ride-hailing trips."""
    return service.book_due(session, now)


@job("orders.cancel_unwanted", every=30)
def cancel_unwanted(session, now) -> int:
    """Cancel provider orders made after all for trips the dispatcher moved to the fleet."""
    return service.cancel_unwanted(session, now)


@job("orders.purge_nonces", every=3600)
def purge_nonces(session, now) -> int:
    """Webhook nonces past their signature window are of no more use."""
    db.begin_write(session)
    return service.purge_nonces(session, now)
