from __future__ import annotations

from marshmallow import Schema, fields, validate

from app import db, ratelimit
from app.accounts.schemas import MeSchema
from app.api import blueprint
from app.accounts.models import Role, User
from app.auth import passwords, service, wechat
from app.errors import NotFound
from app.security import current_user, issue_token, roles_required, scoped_get
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


# --- Console password accounts (SPEC §9) -------------------------------------------------

class PasswordLoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class PasswordChangeSchema(Schema):
    old = fields.String(required=True, validate=validate.Length(min=1, max=256))
    new = fields.String(required=True, validate=validate.Length(min=1, max=256))


class PasswordTokenSchema(TokenSchema):
    must_change_password = fields.Boolean()


class ConsolePasswordResetSchema(Schema):
    username = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$",
                                                      error="用户名为3-64位字母、数字或 _ . @ -"))


class ConsoleAccountSchema(Schema):
    user_id = fields.Integer()
    username = fields.String()
    must_change_password = fields.Boolean(attribute="must_change")
    locked_until = fields.AwareDateTime(allow_none=True)
    password_changed_at = fields.AwareDateTime()


class OneTimePasswordSchema(ConsoleAccountSchema):
    one_time_password = fields.String()


def _password_token(account):
    token, ttl = issue_token(account.user, password_change_required=account.must_change)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
            "user": account.user, "must_change_password": account.must_change}


@blp.route("/auth/password-login", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(PasswordLoginSchema)
@blp.response(200, PasswordTokenSchema)
@ratelimit.per_client_ip("RATELIMIT_LOGIN")
def password_login(data):
    """Console sign-in. While the password is a one-time one (``must_change_password``) the
    token is accepted only by POST /auth/password. Five wrong passwords lock the account for
    15 minutes (423 ``account_locked``)."""
    try:
        account = passwords.authenticate(db.session, username=data["username"],
                                         password=data["password"])
    except (passwords.BadCredentials, passwords.AccountLocked):
        db.session.commit()  # keep the failure count, the lock and their audit rows
        raise
    return _password_token(account)


@blp.route("/auth/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(200, PasswordTokenSchema)
@ratelimit.per_client_ip("RATELIMIT_LOGIN")
def change_password(data):
    """Change one's own console password; answers a fresh unrestricted token."""
    account = passwords.change_password(db.session, user=current_user(), old=data["old"],
                                        new=data["new"])
    return _password_token(account)


@blp.route("/admin/users/<int:user_id>/console-account", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.response(200, ConsoleAccountSchema)
def console_account(user_id):
    """A user's console account (404 when there is none)."""
    user = scoped_get(User, user_id)
    account = passwords.account_of(db.session, user.id)
    if account is None:
        raise NotFound("该用户尚未开通控制台账号")
    return account


@blp.route("/admin/users/<int:user_id>/console-password", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(ConsolePasswordResetSchema)
@blp.response(200, OneTimePasswordSchema)
def reset_console_password(data, user_id):
    """Create or reset a user's console account with a one-time password (shown once; the user
    must change it at first sign-in). ``username`` defaults to the current one, else the phone."""
    user = scoped_get(User, user_id)
    account, password = passwords.set_one_time_password(
        db.session, actor=current_user(), user=user, username=data.get("username"))
    return {"user_id": account.user_id, "username": account.username,
            "must_change": account.must_change, "locked_until": account.locked_until,
            "password_changed_at": account.password_changed_at, "one_time_password": password}
