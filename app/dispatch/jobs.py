"""Dispatch's worker jobs."""
from __future__ import annotations

from app import db
from app.dispatch import passenger


def auto_confirm(session, now) -> int:
    """Trips completed over 72 h ago without confirmation or dispute become confirmed."""
    db.begin_write(session)
    return passenger.auto_confirm_due(session, now)
