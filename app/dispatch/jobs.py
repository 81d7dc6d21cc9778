"""Dispatch's worker jobs."""
from __future__ import annotations

from app import db
from app.dispatch import service


def auto_confirm(session, now) -> int:
    """Trips completed over 72 h ago without confirmation or dispute become confirmed."""
    db.begin_write(session)
    return service.auto_confirm_due(session, now)
