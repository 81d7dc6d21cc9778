"""``notifications.send``: claim due outbox rows, send them outside the claim, record outcomes.

Claiming is one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single
writer on SQLite) that marks rows ``sending`` with a lease, so several workers never send
one row twice and a crashed worker's rows come due again when the lease ends. The network
calls happen with no transaction open; each outcome is committed as soon as its call
returns, so a worker killed mid-batch re-sends at most the one message it was sending
(a duplicate would burn the user's one-time subscription grant).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app import db
from app.auth.wechat import client
from app.notifications.models import OutboxMessage, OutboxState
from app.notifications.service import forget_grants
from providers.wechat import WeChatError

log = logging.getLogger(__name__)

BATCH = 50
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)  # 30 s, 1 min, 2 min, 4 min, 8 min


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones (exponential)."""
    return BACKOFF_BASE * (2 ** (attempts - 1))


@dataclass(frozen=True)
class Claimed:
    """What sending a claimed row needs, read inside the claim (no lazy loads later)."""

    id: int
    touser: str
    template_id: str
    page: str
    data: dict


def _claim(session, now: datetime) -> list[Claimed]:
    db.begin_write(session)
    due = or_(and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now),
              and_(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_until <= now))
    rows = list(session.scalars(
        select(OutboxMessage).where(due).order_by(OutboxMessage.id).limit(BATCH)
        .with_for_update(skip_locked=True)))
    claimed = []
    for row in rows:
        row.state, row.claimed_until = OutboxState.SENDING, now + LEASE
        row.attempts += 1
        claimed.append(Claimed(row.id, row.touser, row.template_id, row.page, row.data))
    session.commit()
    return claimed


def _outcome(row: OutboxMessage, error: WeChatError | None, now: datetime) -> None:
    row.claimed_until = None
    if error is None:
        row.state, row.sent_at, row.last_error = OutboxState.SENT, now, None
        return
    row.last_error = str(error)
    if error.transient and row.attempts < MAX_ATTEMPTS:
        row.state, row.next_attempt_at = OutboxState.PENDING, now + backoff(row.attempts)
        log.warning("outbox %s: transient %s, retry at %s", row.id, error, row.next_attempt_at)
    else:
        # Not retried: 43101 (no grant), 45009 (the day's quota is spent: another try
        # today fails the same way), 40226 (blocked user), 47003 and the like.
        row.state = OutboxState.FAILED
        log.warning("outbox %s failed for good after %s attempt(s): %s", row.id, row.attempts, error)


def send_due(session, now: datetime) -> int:
    claimed = _claim(session, now)
    if not claimed:
        return 0
    wx, state = client(), current_app.config["WECHAT_MINIPROGRAM_STATE"]
    for message in claimed:
        try:
            wx.send_subscribe_message(touser=message.touser, template_id=message.template_id,
                                      page=message.page, data=message.data, state=state)
            error = None
        except WeChatError as exc:
            error = exc
        _record(session, message.id, error, now)
    return len(claimed)


def _record(session, message_id: int, error: WeChatError | None, now: datetime) -> None:
    """Commit one send's outcome at once (its own short write transaction)."""
    db.begin_write(session)
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id)
                         .with_for_update())
    _outcome(row, error, now)
    if error is not None and error.no_grant and row.recipient_id is not None:
        forget_grants(session, row.recipient_id, row.template_id, now)
    session.commit()
