"""Enqueue outgoing messages in the caller's transaction; the send job delivers them."""
from __future__ import annotations

import logging
from datetime import datetime

from app import clock
from app.accounts.models import User
from app.notifications.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)


def enqueue_wechat(session, *, recipient: User, template_id: str, page: str, data: dict[str, str],
                   kind: str, ref: str = "", now: datetime | None = None) -> OutboxMessage:
    """Queue one WeChat subscription message to ``recipient`` (values already fitted).

    A recipient without an openid cannot be reached: the row is kept as ``skipped`` so the
    record shows who was not told and why.
    """
    now = now or clock.now()
    msg = OutboxMessage(kind=kind, ref=ref, recipient_id=recipient.id, touser=recipient.openid,
                        template_id=template_id, page=page, data=data, next_attempt_at=now,
                        created_at=now)
    if not recipient.openid:
        msg.state, msg.last_error = OutboxState.SKIPPED, "recipient has no openid"
        log.info("outbox: %s to user %s skipped, no openid", kind, recipient.id)
    session.add(msg)
    return msg
