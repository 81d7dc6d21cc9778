from __future__ import annotations

from marshmallow import Schema, fields, validate

from app import db, ratelimit
from app.accounts.schemas import MeSchema
from app.api import blueprint
from app.auth import service, wechat
from app.security import current_user, issue_token
from app.web import defer_write_lock

blp = blueprint("auth", "", "WeChat login, phone binding and the current user")


class LoginSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))


class BindSchema(Schema):
    ticket = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    phone_code = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    user = fields.Nested(MeSchema)


def _token_response(user):
    token, ttl = issue_token(user)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "user": user}


@blp.route("/auth/wechat-login", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@defer_write_lock
@ratelimit.per_client_ip("RATELIMIT_LOGIN")
def wechat_login(data):
    """Exchange a wx.login code for our JWT; unknown openid → 403 binding_required + ticket."""
    openid = service.resolve_openid(wechat.client(), data["code"])
    return _token_response(service.login(db.session, openid=openid))


@blp.route("/auth/bind", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(BindSchema)
@blp.response(200, TokenSchema)
@defer_write_lock
@ratelimit.per_client_ip("RATELIMIT_LOGIN")
def bind(data):
    """Bind the ticket's openid to the pre-registered user whose phone WeChat vouches for."""
    phone = service.resolve_phone(wechat.client(), data["phone_code"])
    db.begin_write()
    return _token_response(service.bind(db.session, ticket=data["ticket"], phone=phone))


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
def me():
    return current_user()
