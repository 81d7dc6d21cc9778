"""The positions' worker jobs."""
from __future__ import annotations

from flask import current_app

from app.positions import partitions as parts


def partitions(session, now) -> int:
    """Monthly partitions made ahead and expired fixes dropped (``POSITION_*`` settings)."""
    cfg = current_app.config
    done = parts.maintain(session, now, retention_months=int(cfg["POSITION_RETENTION_MONTHS"]),
                          ahead=int(cfg["POSITION_PARTITIONS_AHEAD"]))
    return sum(done.values())
