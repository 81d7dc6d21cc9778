"""JWTs, the current user, role checks and unit-subtree scope."""
from __future__ import annotations

import functools
import uuid
from datetime import timedelta

import jwt
from flask import current_app, g, request

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from app import clock, db
from app.accounts.models import Role, Unit, User
from app.errors import Forbidden, NotFound, Unauthorized

ALGORITHM = "HS256"
BIND_AUDIENCE_SUFFIX = ":bind"


def _cfg(key: str):
    return current_app.config[key]


# A token issued for a console password that must still be changed carries this claim and
# is refused everywhere except the endpoint that changes the password.
PASSWORD_CHANGE_CLAIM = "pwc"
PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password"})
# The user's token generation when the token was issued (``User.token_generation``): a
# token of an earlier generation is refused (a console password was changed or reset since).
GENERATION_CLAIM = "gen"


def issue_token(user: User, *, password_change_required: bool = False) -> tuple[str, int]:
    """Sign the backend's own access token for ``user``; returns (token, expires_in)."""
    ttl = int(_cfg("JWT_TTL_SECONDS"))
    now = clock.now()
    claims = {"sub": str(user.id), "iss": _cfg("JWT_ISSUER"), "aud": _cfg("JWT_AUDIENCE"),
              "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl)).timestamp()),
              "jti": uuid.uuid4().hex, GENERATION_CLAIM: user.token_generation or 0}
    if password_change_required:
        claims[PASSWORD_CHANGE_CLAIM] = True
    return jwt.encode(claims, _cfg("JWT_SECRET"), algorithm=ALGORITHM), ttl


def issue_bind_ticket(openid: str) -> str:
    """A short-lived ticket proving we saw this openid from WeChat; only /auth/bind accepts it."""
    ttl = int(_cfg("BIND_TICKET_TTL_SECONDS"))
    now = clock.now()
    claims = {"sub": openid, "iss": _cfg("JWT_ISSUER"),
              "aud": _cfg("JWT_AUDIENCE") + BIND_AUDIENCE_SUFFIX,
              "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl)).timestamp())}
    return jwt.encode(claims, _cfg("JWT_SECRET"), algorithm=ALGORITHM)


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str, audience: str, issuer: str) -> dict:
    """The claims of a token whose signature, audience and issuer hold. A pure function of
    its arguments, so a client's token is verified once per process, not on every request
    (a refused token raises, and nothing is kept of it)."""
    # The algorithm is pinned (no "none", no RS/HS confusion).
    return jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "aud", "sub"],
                               "verify_exp": False, "verify_iat": False})


def _decode(token: str, audience: str) -> dict:
    # Expiry is checked on every use, against app.clock rather than PyJWT's wall clock so
    # that time-travelling tests stay honest.
    claims = _verified(token, _cfg("JWT_SECRET"), audience, _cfg("JWT_ISSUER"))
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] <= clock.now().timestamp():
        raise jwt.ExpiredSignatureError("expired")
    return dict(claims)


def read_bind_ticket(ticket: str) -> str:
    try:
        return _decode(ticket, _cfg("JWT_AUDIENCE") + BIND_AUDIENCE_SUFFIX)["sub"]
    except jwt.PyJWTError as exc:
        raise Unauthorized("绑定凭证无效或已过期，请重新登录", code="invalid_ticket") from exc


def bearer_user_id() -> int | None:
    """The user id of a valid bearer token, or None when there is none (raises when it is bad)."""
    claims = bearer_claims()
    return None if claims is None else int(claims["sub"])


def bearer_claims() -> dict | None:
    """The claims of a valid bearer token, or None when there is none (raises when it is bad)."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    known = g.get("token_claims")
    if known is not None and known[0] == header:
        return known[1]
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("登录凭证格式错误", code="invalid_token")
    try:
        claims = _decode(token.strip(), _cfg("JWT_AUDIENCE"))
        user_id = int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("登录已过期，请重新登录", code="token_expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized("登录凭证无效", code="invalid_token") from exc
    claims["sub"] = user_id
    g.token_claims = (header, claims)
    return claims


# One statement, built once: the user with its unit and roles (joined), not one per relation.
_USER_BY_ID = (select(User).options(joinedload(User.role_rows))
               .where(User.id == bindparam("user_id")))


def current_user() -> User:
    """The authenticated, active user of this request (401 otherwise)."""
    if "user" not in g:
        claims = bearer_claims()
        if claims is None:
            raise Unauthorized()
        user = db.session.scalars(_USER_BY_ID, {"user_id": claims["sub"]}).unique().one_or_none()
        if user is None or not user.active:
            raise Unauthorized("账号不可用，请联系管理员", code="account_disabled")
        if claims.get(GENERATION_CLAIM, 0) != user.token_generation:
            raise Unauthorized("登录凭证已失效（密码已修改或重置），请重新登录",
                               code="token_revoked")
        if claims.get(PASSWORD_CHANGE_CLAIM) and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            raise Forbidden("请先修改初始密码", code="password_change_required")
        g.user = user
    return g.user


def roles_required(*roles: Role | str):
    """View decorator: the caller must hold at least one of ``roles``."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = current_user()
            if roles and not user.has_role(*roles):
                raise Forbidden()
            return view(*args, **kwargs)

        return inner

    return wrap


def is_platform(user: User) -> bool:
    """Platform staff sit at the root of the unit tree."""
    return user.unit.parent_id is None


def platform_admin(view):
    """View decorator for platform-wide settings: an admin at the root of the unit tree."""

    @functools.wraps(view)
    @roles_required(Role.ADMIN)
    def inner(*args, **kwargs):
        if not is_platform(current_user()):
            raise Forbidden("仅平台管理员可修改该设置")
        return view(*args, **kwargs)

    return inner


def in_scope(user: User, unit: Unit) -> bool:
    """A user sees their own unit's subtree; platform staff sit at the city root."""
    return unit.path.startswith(user.unit.path)


def scoped_get(model, obj_id: int, user: User | None = None, unit_of=lambda o: o.unit):
    """Load ``model`` by id or 404 — also 404 when it lies outside the caller's scope,
    so another unit's ids reveal nothing."""
    user = user or current_user()
    obj = db.session.get(model, obj_id)
    if obj is None or not in_scope(user, unit_of(obj)):
        raise NotFound()
    return obj


def scope_filter(user: User, unit_column):
    """A SQL condition limiting ``unit_column`` to the caller's unit subtree."""
    subtree = select(Unit.id).where(Unit.path.startswith(user.unit.path))
    return unit_column.in_(subtree)
