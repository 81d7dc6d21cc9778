"""Idempotency-Key for every mutating request, stored in the database (SPEC §8).

A first request inserts a *pending* row in its own committed transaction, so a concurrent
duplicate — in any process — hits the unique key and gets 409. The response is stored in
the same transaction as the change it reports, so a replay returns exactly what the first
request answered; the same key with another body is 422. Failed (5xx) attempts leave no
row behind, so the client may retry them; a pending row whose process died (kill -9) is
taken over after ``PENDING_LEASE``. Only authenticated requests are remembered: login and
bind exchange single-use WeChat codes and must never replay a token, and anonymous keys
would collide across clients.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import Response, g, request
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import clock, db, jobs
from app.db import Base
from app.errors import Conflict, Unauthorized, ValidationFailed
from app.security import bearer_user_id

HEADER = "Idempotency-Key"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# No request runs this long (provider calls time out within seconds): a pending key older
# than this belonged to a process that died, and the next attempt takes it over.
PENDING_LEASE = timedelta(minutes=2)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


def _side_session() -> Session:
    return Session(bind=db.session.get_bind(), expire_on_commit=False)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def begin() -> Response | None:
    """Claim the request's key; returns a response to send instead (replay/409/422) or None."""
    key = request.headers.get(HEADER)
    if request.method not in MUTATING or not key:
        return None
    if len(key) > 128:
        raise ValidationFailed("Idempotency-Key 过长", code="invalid_idempotency_key")
    try:
        user_id = bearer_user_id()
    except Unauthorized:
        return None  # the view answers 401 itself; nothing to remember
    if user_id is None:
        return None  # login, bind, signed webhooks: see the module docstring
    scope = f"user:{user_id}"
    fingerprint = _fingerprint()
    with _side_session() as side:
        side.add(IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, user_id=user_id))
        try:
            side.commit()
        except IntegrityError:
            side.rollback()
            row = side.scalars(select(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key)).one_or_none()
            if row is None:  # the other attempt failed and released the key just now
                raise Conflict("相同请求正在处理中，请稍后重试", code="idempotency_in_progress")
            if row.fingerprint != fingerprint:
                raise ValidationFailed("Idempotency-Key 已用于另一个不同的请求",
                                       code="idempotency_key_reused")
            if row.state != "done":
                if not _take_over(side, row):
                    raise Conflict("相同请求正在处理中，请稍后重试", code="idempotency_in_progress")
                g.idempotency = (scope, key)
                return None
            resp = Response(row.response_body, status=row.status_code,
                            content_type=row.content_type)
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        g.idempotency = (scope, key)
    return None


def _take_over(side: Session, row: IdempotencyKey) -> bool:
    """Claim a pending key left by a dead process (one taker wins the compare-and-set)."""
    now = clock.now()
    if clock.ensure_aware(row.created_at) > now - PENDING_LEASE:
        return False
    taken = side.execute(update(IdempotencyKey).where(
        IdempotencyKey.id == row.id, IdempotencyKey.state == "pending",
        IdempotencyKey.created_at == row.created_at).values(created_at=now))
    side.commit()
    return taken.rowcount == 1


def remember(response: Response) -> None:
    """Store the response in the request's own transaction (committed with the change)."""
    scope, key = g.idempotency
    row = db.session.scalars(select(IdempotencyKey).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key)).one()
    row.state = "done"
    row.status_code = response.status_code
    row.content_type = response.content_type
    row.response_body = response.get_data(as_text=True)


def release() -> None:
    """Forget a claimed key whose request failed, so the client can retry it."""
    scope, key = g.pop("idempotency")
    with _side_session() as side:
        side.execute(delete(IdempotencyKey).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == key,
            IdempotencyKey.state == "pending"))
        side.commit()


RETENTION = timedelta(days=7)


def init_app(app) -> None:
    jobs.register(app, "idempotency.purge", purge_old_keys, every=3600)


def purge_old_keys(session, now: datetime) -> int:
    """Forget keys after a week: mobile retries come within minutes, not days."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - RETENTION))
    return result.rowcount or 0
