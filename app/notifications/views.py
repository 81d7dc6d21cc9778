"""The caller's message centre and WeChat subscription grants (always the caller's own)."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import db
from app.api import MAX_LIMIT, AwareDateTime, List, blueprint, paginate
from app.notifications import service
from app.notifications.models import UserMessage
from app.notifications.templates import MOMENTS, TEMPLATES
from app.security import current_user

blp = blueprint("me-messages", "/me", "The caller's message centre and subscription grants")


class MessageSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"example": "vehicle_assigned"})
    title = fields.String(metadata={"example": "派车通知"})
    body = fields.String(metadata={"example": "车牌号：苏D·T0001\n驾驶员：王师傅"})
    data = fields.Dict(keys=fields.String(), values=fields.String(),
                       metadata={"description": "label → full value"})
    link = fields.String(metadata={"example": "pages/trip/detail?id=3"})
    created_at = AwareDateTime()
    read_at = AwareDateTime(allow_none=True)
    read = fields.Function(lambda m: m.read_at is not None)
    wechat = fields.Function(lambda m: m.outbox is not None and m.outbox.touser is not None,
                             metadata={"description": "also sent as a WeChat message"})


class MessagesArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    unread = fields.Boolean(load_default=False, metadata={"description": "only unread ones"})


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    next_cursor = fields.String(allow_none=True)
    unread_count = fields.Integer()


class UnreadSchema(Schema):
    unread_count = fields.Integer()


class ReadBodySchema(Schema):
    ids = List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
               validate=validate.Length(min=1, max=MAX_LIMIT),
               metadata={"description": "the messages to mark read; omitted: all"})


class ReadSchema(UnreadSchema):
    marked = fields.Integer()


class SubscribeBodySchema(Schema):
    template_ids = List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                        validate=validate.Length(min=1, max=3),
                        metadata={"description": "templates accepted in one "
                                                 "wx.requestSubscribeMessage (at most 3)"})


class TemplateSchema(Schema):
    key = fields.String()
    template_id = fields.String()
    title = fields.String()
    remaining = fields.Integer(metadata={"description": "grants not yet spent"})


class SubscriptionsSchema(Schema):
    templates = fields.List(fields.Nested(TemplateSchema))
    moments = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                          metadata={"description": "when to ask → template ids to ask for"})


def _subscriptions(grants: dict[str, int]) -> dict:
    templates = [{"key": key, "template_id": t.template_id, "title": t.title,
                  "remaining": grants.get(t.template_id, 0)} for key, t in TEMPLATES.items()]
    moments = {moment: [current_app.config[TEMPLATES[k].config] for k in keys]
               for moment, keys in MOMENTS.items()}
    return {"templates": templates, "moments": moments}


@blp.route("/messages")
@blp.arguments(MessagesArgs, location="query")
@blp.response(200, MessagePageSchema)
def messages(args):
    """The caller's messages, newest first, with the unread count (for the badge)."""
    user = current_user()
    stmt = (select(UserMessage).where(UserMessage.user_id == user.id)
            .options(selectinload(UserMessage.outbox)))
    if args["unread"]:
        stmt = stmt.where(UserMessage.read_at.is_(None))
    page = paginate(stmt, UserMessage.id, limit=args["limit"], cursor=args["cursor"])
    return {**page, "unread_count": service.unread_count(db.session, user)}


@blp.route("/messages/unread")
@blp.response(200, UnreadSchema)
def unread():
    """Just the unread count (the tab bar's badge)."""
    return {"unread_count": service.unread_count(db.session, current_user())}


@blp.route("/messages/read", methods=["POST"])
@blp.arguments(ReadBodySchema)
@blp.response(200, ReadSchema)
def mark_read(data):
    """Mark the caller's messages read (the listed ones, or all); others' ids change nothing."""
    user = current_user()
    marked = service.mark_read(db.session, user, data.get("ids"))
    return {"marked": marked, "unread_count": service.unread_count(db.session, user)}


@blp.route("/subscriptions")
@blp.response(200, SubscriptionsSchema)
def subscriptions():
    """The templates, the caller's unspent grants, and which templates to ask for when."""
    return _subscriptions(service.grants_of(db.session, current_user()))


@blp.route("/subscriptions", methods=["POST"])
@blp.arguments(SubscribeBodySchema)
@blp.response(200, SubscriptionsSchema)
def subscribe(data):
    """Report the templates the user accepted in ``wx.requestSubscribeMessage``: one more
    one-time grant each; WeChat messages of a template are sent while a grant remains."""
    return _subscriptions(service.record_grants(db.session, current_user(), data["template_ids"]))
