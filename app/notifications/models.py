"""The durable outbox (发件箱): messages written with the change that causes them, sent later."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class SubscriptionGrant(Base):
    """One-time subscription grants (一次性订阅) a user gave for a template and we have not
    spent yet: each ``wx.requestSubscribeMessage`` "allow" adds one, each WeChat send
    spends one; at zero the message reaches the user only in the message centre."""

    __tablename__ = "subscription_grants"
    __table_args__ = (UniqueConstraint("user_id", "template_id",
                                       name="uq_subscription_grants_user_template"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(64))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class UserMessage(Base):
    """A message in the user's in-app message centre (消息中心): every notification lands
    here, whether or not it also went out over WeChat."""

    __tablename__ = "user_messages"
    __table_args__ = (Index("ix_user_messages_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # the template key, e.g. trip_result
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # label -> full value
    link: Mapped[str] = mapped_column(String(200), default="")
    ref: Mapped[str] = mapped_column(String(60), default="")
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]

    outbox: Mapped[OutboxMessage | None] = relationship()
