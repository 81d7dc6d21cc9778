"""``partners.send_callbacks``: deliver the status callbacks owed to partners.

Rows are written with the change they report (``inbound.enqueue``). The job claims due
rows under a lease (committed), posts each outside any transaction — the JSON body as it
is, signed as Standard Webhooks with the partner's key, the same ``webhook-id`` on every
attempt so the partner refuses a duplicate — to ``<partner base URL>/webhooks/partner-<our
id>``, then records the outcome: 2xx is sent; anything else is retried with exponential
backoff, and given up (``failed``, logged and audited) after ``MAX_ATTEMPTS``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import select

from app import audit, db
from app.partners.models import PROVIDER_PREFIX, CallbackState, Partner, PartnerCallback
from providers.http import sign_webhook

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
RETRY_BASE = timedelta(seconds=5)
RETRY_MAX = timedelta(minutes=30)
LEASE = timedelta(minutes=1)
BATCH = 20
TIMEOUT = (1.0, 5.0)


@dataclass(frozen=True)
class Delivery:
    row_id: int
    url: str
    msg_id: str
    body: bytes
    secret: str


def callback_url(partner: Partner) -> str:
    """Where the partner's platform takes callbacks for the orders we serve it: its
    webhook of the provider that stands for us there."""
    return f"{partner.base_url.rstrip('/')}/webhooks/{PROVIDER_PREFIX}{partner.our_id}"


def claim(session, now: datetime) -> list[Delivery]:
    rows = session.scalars(select(PartnerCallback).where(
        PartnerCallback.state == CallbackState.PENDING, PartnerCallback.next_attempt_at <= now)
        .order_by(PartnerCallback.id).limit(BATCH).with_for_update(skip_locked=True)).all()
    out = []
    for row in rows:
        partner = session.get(Partner, row.partner_id)
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        out.append(Delivery(row.id, callback_url(partner), row.msg_id,
                            json.dumps(row.payload, ensure_ascii=False).encode(), partner.secret))
    return out


def deliver(delivery: Delivery) -> str | None:
    """Post one callback; None when the partner answered 2xx, else what went wrong."""
    headers = {"Content-Type": "application/json",
               **sign_webhook(delivery.msg_id, delivery.body, delivery.secret)}
    try:
        resp = requests.post(delivery.url, data=delivery.body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return exc.__class__.__name__
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}: {resp.text[:200]}"


def record(session, delivery: Delivery, error: str | None, now: datetime) -> None:
    row = session.get(PartnerCallback, delivery.row_id, populate_existing=True)
    if error is None:
        row.state, row.sent_at, row.last_error = CallbackState.SENT, now, None
        return
    row.last_error = error
    if row.attempts >= MAX_ATTEMPTS:
        row.state = CallbackState.FAILED
        log.warning("partner callback %s given up after %s attempts: %s", row.msg_id,
                    row.attempts, error)
        audit.record(session, entity="partner_callbacks", entity_id=row.id, action="given_up",
                     actor_id=None, data={"msg_id": row.msg_id, "error": error})
        return
    row.next_attempt_at = now + min(RETRY_BASE * (2 ** (row.attempts - 1)), RETRY_MAX)


def send_callbacks(session, now) -> int:
    db.begin_write(session)
    deliveries = claim(session, now)
    session.commit()
    for delivery in deliveries:
        error = deliver(delivery)
        db.begin_write(session)
        record(session, delivery, error, now)
        session.commit()
    return len(deliveries)
