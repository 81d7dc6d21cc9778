"""Notifications: every message lands in the user's message centre; it also goes out as a
WeChat subscription message (through the durable outbox) while the user holds a grant.

``notify(session, user, key, values, link)`` is the one entry point other domains call
(approvals, the trip event handlers here, supervision's "violation opened"), inside their
own transaction: the message, the grant it spends and the outbox row commit with the
change that caused them, or not at all.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app import audit, clock
from app.accounts.models import User
from app.errors import ValidationFailed
from app.notifications.models import OutboxMessage, OutboxState, SubscriptionGrant, UserMessage
from app.notifications.templates import TEMPLATES, template_ids
from providers.wechat import fit_value, keyword_kind, strip_controls

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


def _text(value) -> str:
    if isinstance(value, datetime):
        return clock.local(value).strftime("%Y-%m-%d %H:%M")
    return strip_controls(str(value)).strip() if value is not None else ""


def notify(session, user: User, key: str, values: dict[str, object], link: str, *,
           ref: str = "", kind: str | None = None, now: datetime | None = None) -> UserMessage:
    """Tell ``user`` about something: a message-centre entry always; a WeChat message too
    when ``user`` holds a grant for the template (one grant is spent).

    ``key`` names a template (app/notifications/templates.py); ``values`` maps each of its
    keywords (``thing1``, ``car_number2``, …) to the full value — datetimes, Decimals and
    strings of any length: the message centre keeps them whole, WeChat gets them fitted
    to each keyword's kind. ``link`` is the mini-program page (``pages/trip/detail?id=3``).
    ``kind`` tells apart uses of one template (``approval_reminder``); default ``key``.
    """
    kind = kind or key
    now = now or clock.now()
    template = TEMPLATES[key]
    missing = [kw for kw, _ in template.keywords if kw not in values]
    if missing:
        raise ValueError(f"template {key}: no value for {missing}")
    shown = {label: _text(values[kw]) for kw, label in template.keywords}
    message = UserMessage(user_id=user.id, kind=kind, title=template.title, link=link, ref=ref,
                          body="\n".join(f"{label}：{text}" for label, text in shown.items() if text),
                          data=shown, created_at=now)
    session.add(message)
    template_id = template.template_id
    if not user.openid:
        message.outbox = enqueue_wechat(session, recipient=user, template_id=template_id,
                                        page=link, data={}, kind=kind, ref=ref, now=now)
    elif spend_grant(session, user.id, template_id, now):
        data = {kw: fit_value(keyword_kind(kw), values[kw]) for kw, _ in template.keywords}
        message.outbox = enqueue_wechat(session, recipient=user, template_id=template_id,
                                        page=link, data=data, kind=kind, ref=ref, now=now)
    return message


def spend_grant(session, user_id: int, template_id: str, now: datetime) -> bool:
    """Take one grant if one remains (a conditional decrement: two senders racing for the
    last grant cannot both have it)."""
    result = session.execute(
        update(SubscriptionGrant)
        .where(SubscriptionGrant.user_id == user_id, SubscriptionGrant.template_id == template_id,
               SubscriptionGrant.remaining > 0)
        .values(remaining=SubscriptionGrant.remaining - 1, updated_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def forget_grants(session, user_id: int, template_id: str, now: datetime) -> None:
    """WeChat said 43101: whatever we counted, the user holds no grant for the template."""
    audit.record(session, entity="users", entity_id=user_id, action="subscriptions:revoked",
                 actor_id=None, at=now, data={"template_id": template_id, "errcode": 43101})
    session.execute(update(SubscriptionGrant)
                    .where(SubscriptionGrant.user_id == user_id,
                           SubscriptionGrant.template_id == template_id)
                    .values(remaining=0, updated_at=now)
                    .execution_options(synchronize_session=False))


def record_grants(session, user: User, accepted: list[str], now: datetime | None = None
                  ) -> dict[str, int]:
    """The user accepted these templates in ``wx.requestSubscribeMessage``: one more grant
    each (one-time grants add up). Unknown template ids are a field error."""
    now = now or clock.now()
    known = template_ids()
    unknown = [t for t in accepted if t not in known]
    if unknown:
        raise ValidationFailed("包含未知的订阅消息模板", code="unknown_template",
                               errors={"template_ids": [f"未知的模板：{t}" for t in unknown]})
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    for template_id in dict.fromkeys(accepted):  # one grant per template per "allow"
        stmt = insert(SubscriptionGrant).values(user_id=user.id, template_id=template_id,
                                                remaining=1, updated_at=now)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id", "template_id"],
            set_={"remaining": SubscriptionGrant.remaining + 1, "updated_at": now}))
    audit.record(session, entity="users", entity_id=user.id, action="subscriptions:granted",
                 actor_id=user.id, at=now, data={"template_ids": list(dict.fromkeys(accepted))})
    return grants_of(session, user)


def grants_of(session, user: User) -> dict[str, int]:
    """Remaining grants per template id of this deployment (0 where none)."""
    counts = dict(session.execute(
        select(SubscriptionGrant.template_id, SubscriptionGrant.remaining)
        .where(SubscriptionGrant.user_id == user.id)).all())
    return {template_id: counts.get(template_id, 0) for template_id in template_ids()}


def unread_count(session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(UserMessage)
                          .where(UserMessage.user_id == user.id,
                                 UserMessage.read_at.is_(None)))


def mark_read(session, user: User, ids: list[int] | None, now: datetime | None = None) -> int:
    """Mark the caller's messages read (``ids``, or all when None); others' ids match
    nothing. Returns how many changed."""
    stmt = (update(UserMessage)
            .where(UserMessage.user_id == user.id, UserMessage.read_at.is_(None))
            .values(read_at=now or clock.now()).execution_options(synchronize_session=False))
    if ids is not None:
        stmt = stmt.where(UserMessage.id.in_(ids))
    return session.execute(stmt).rowcount
