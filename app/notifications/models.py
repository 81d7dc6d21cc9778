"""The durable outbox (发件箱): messages written with the change that causes them, sent later."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base, enum_column


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    FAILED = "failed"  # permanent error or attempts exhausted
    SKIPPED = "skipped"  # nothing to send to (e.g. the user has no openid)


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(30), default="wechat_subscribe")
    kind: Mapped[str] = mapped_column(String(40))  # e.g. approval_task, approval_reminder
    ref: Mapped[str] = mapped_column(String(60), default="")  # what it is about, e.g. "task:12"
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    touser: Mapped[str | None] = mapped_column(String(64))
    template_id: Mapped[str] = mapped_column(String(64))
    page: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[OutboxState] = mapped_column(
        enum_column(OutboxState, "outbox_state"), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
