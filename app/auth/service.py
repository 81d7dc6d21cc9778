"""WeChat login and phone binding (SPEC §2 step 1). No self sign-up: users are pre-registered."""
from __future__ import annotations

from sqlalchemy import select

from app import audit
from app.accounts.models import User
from app.errors import AppError, Conflict, Forbidden, UpstreamError, ValidationFailed
from app.security import issue_bind_ticket, read_bind_ticket
from providers.wechat import WeChatClient, WeChatError

_LOGIN_CODE_ERRORS = {40029: "登录凭证无效，请重新登录", 40163: "登录凭证已使用，请重新登录",
                      45011: "操作过于频繁，请稍后再试", 40226: "账号存在风险，暂不能登录"}


class BindingRequired(AppError):
    status, code, message = 403, "binding_required", "首次登录请绑定手机号"


def _wechat_failure(exc: WeChatError, messages: dict[int, str]) -> AppError:
    if exc.errcode in messages:
        return ValidationFailed(messages[exc.errcode], code="wechat_code_invalid",
                                errors={"wechat_errcode": exc.errcode})
    return UpstreamError("微信服务暂时不可用，请稍后重试", code="wechat_unavailable")


def resolve_openid(wx: WeChatClient, code: str) -> str:
    """Ask WeChat who this login code belongs to (network; call outside a write transaction)."""
    try:
        return wx.code2session(code).openid
    except WeChatError as exc:
        raise _wechat_failure(exc, _LOGIN_CODE_ERRORS) from exc


def login(session, *, openid: str) -> User:
    """The active user bound to ``openid``, or ``binding_required`` with a ticket."""
    user = session.scalar(select(User).where(User.openid == openid))
    if user is None:
        raise BindingRequired(ticket=issue_bind_ticket(openid))
    if not user.active:
        raise Forbidden("账号已停用，请联系管理员", code="account_disabled")
    return user


def resolve_phone(wx: WeChatClient, phone_code: str) -> str:
    try:
        return wx.phone_number(phone_code)
    except WeChatError as exc:
        raise _wechat_failure(exc, {40029: "手机号授权无效，请重新授权"}) from exc


def bind(session, *, ticket: str, phone: str) -> User:
    """Bind the ticket's openid to the pre-registered, active user with ``phone``."""
    openid = read_bind_ticket(ticket)
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None or not user.active:
        raise Forbidden("该手机号未登记，请联系单位管理员开通", code="phone_not_registered")
    if user.openid not in (None, openid):
        raise Conflict("该账号已绑定其他微信，请联系管理员", code="already_bound")
    other = session.scalar(select(User).where(User.openid == openid, User.id != user.id))
    if other is not None:
        raise Conflict("该微信已绑定其他账号", code="openid_taken")
    if user.openid is None:
        user.openid = openid
        audit.record(session, entity="users", entity_id=user.id, action="wechat_bound",
                     actor_id=user.id, data={})
    return user
