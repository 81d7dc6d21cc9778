"""Provider orders' worker jobs: place due bookings, cancel unwanted orders, forget old
webhook nonces."""
from __future__ import annotations

from app import db
from app.orders import service


def book(session, now) -> int:
    """Place the orders of approved (or emergency) rental and ride-hailing trips."""
    return service.book_due(session, now)


def cancel_unwanted(session, now) -> int:
    """Cancel provider orders made after all for trips the dispatcher moved to the fleet."""
    return service.cancel_unwanted(session, now)


def purge_nonces(session, now) -> int:
    """Webhook nonces past their signature window are of no more use."""
    db.begin_write(session)
    return service.purge_nonces(session, now)
