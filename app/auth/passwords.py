"""Password accounts for the web console (SPEC §9): argon2 hashes, a one-time password set by
an admin that must be changed on first sign-in, lockout after repeated failures, audited."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import audit, clock
from app.accounts.models import User
from app.db import Base
from app.errors import AppError, Conflict, Unauthorized, ValidationFailed

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_LENGTH = 8
_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both cases cost the same.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


class ConsoleAccount(Base):
    """One console sign-in per user: username and argon2 password hash."""

    __tablename__ = "console_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    user: Mapped[User] = relationship()  # not joined: FOR UPDATE locks this row only


class AccountLocked(AppError):
    status, code, message = 423, "account_locked", "密码错误次数过多，账号已锁定，请15分钟后再试"


class BadCredentials(Unauthorized):
    code, message = "invalid_credentials", "用户名或密码错误"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random initial password (12 characters: letters and digits)."""
    while True:
        candidate = secrets.token_urlsafe(9)
        if _strong_enough(candidate):
            return candidate


def _strong_enough(password: str) -> bool:
    return (len(password) >= MIN_LENGTH and re.search(r"[A-Za-z]", password) is not None
            and re.search(r"\d", password) is not None)


def _audit(session, account: ConsoleAccount, action: str, actor_id: int | None, **data) -> None:
    audit.record(session, entity="console_accounts", entity_id=account.user_id, action=action,
                 actor_id=actor_id, data=data)


def authenticate(session, *, username: str, password: str) -> ConsoleAccount:
    """The account for a correct username and password. A wrong password counts towards the
    lockout; the caller must commit even when this raises, so the count is kept."""
    account = session.scalar(select(ConsoleAccount).where(ConsoleAccount.username == username)
                             .with_for_update())
    if account is None or not account.user.active:
        _verify(_DUMMY_HASH, password)
        raise BadCredentials()
    now = clock.now()
    if account.locked_until is not None and account.locked_until > now:
        _audit(session, account, "password_login_refused_locked", None)
        raise AccountLocked()
    if not _verify(account.password_hash, password):
        account.failed_attempts += 1
        if account.failed_attempts >= MAX_FAILURES:
            account.locked_until = now + LOCKOUT
            account.failed_attempts = 0
            _audit(session, account, "locked", None, until=account.locked_until.isoformat())
            raise AccountLocked()
        _audit(session, account, "password_login_failed", None,
               failed_attempts=account.failed_attempts)
        raise BadCredentials()
    account.failed_attempts = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    _audit(session, account, "password_login", account.user_id)
    return account


def revoke_tokens(user: User) -> None:
    """Every access token ``user`` holds stops working (console and mini-program alike): a
    password changed or reset may mean someone else knew it. The answer to the change
    carries a fresh token; the mini-program signs in again through WeChat."""
    user.token_generation = (user.token_generation or 0) + 1


def change_password(session, *, user: User, old: str, new: str) -> ConsoleAccount:
    account = session.get(ConsoleAccount, user.id, with_for_update=True)
    if account is None:
        raise Conflict("该账号没有控制台密码，请联系管理员开通", code="no_console_account")
    if not _verify(account.password_hash, old):
        raise ValidationFailed("原密码不正确", errors={"old": ["原密码不正确"]})
    if not _strong_enough(new):
        raise ValidationFailed("新密码至少8位，且须同时包含字母和数字",
                               errors={"new": ["至少8位，且须同时包含字母和数字"]})
    if new == old:
        raise ValidationFailed("新密码不能与原密码相同", errors={"new": ["不能与原密码相同"]})
    account.password_hash = hash_password(new)
    account.must_change = False
    account.password_changed_at = clock.now()
    revoke_tokens(user)
    _audit(session, account, "password_changed", user.id, tokens_revoked=True)
    return account


def set_one_time_password(session, *, actor: User, user: User,
                          username: str | None) -> tuple[ConsoleAccount, str]:
    """Create or reset ``user``'s console account with a fresh one-time password (the admin
    hands it over; it must be changed at first sign-in). Unlocks the account."""
    account = session.get(ConsoleAccount, user.id, with_for_update=True)
    wanted = username or (account.username if account else user.phone)
    clash = session.scalar(select(ConsoleAccount).where(ConsoleAccount.username == wanted,
                                                        ConsoleAccount.user_id != user.id))
    if clash is not None:
        raise ValidationFailed("该用户名已被使用", errors={"username": ["该用户名已被使用"]})
    password = one_time_password()
    if account is None:
        account = ConsoleAccount(user_id=user.id, username=wanted, password_hash="")
        session.add(account)
        action = "created"
    else:
        action = "password_reset"
    account.username = wanted
    account.password_hash = hash_password(password)
    account.must_change = True
    account.failed_attempts = 0
    account.locked_until = None
    account.password_changed_at = clock.now()
    revoked = action == "password_reset"  # a new console account leaves WeChat sign-ins be
    if revoked:
        revoke_tokens(user)
    session.flush()
    _audit(session, account, action, actor.id, username=wanted, tokens_revoked=revoked)
    return account, password


def account_of(session, user_id: int) -> ConsoleAccount | None:
    return session.get(ConsoleAccount, user_id)


def ensure_demo_accounts(session, password: str) -> list[str]:
    """Demo data only: a console account for every demo user (username = the demo openid)
    with ``password`` and no forced change. Returns the usernames."""
    hashed = hash_password(password)
    names = []
    for user in session.scalars(select(User).where(User.openid.like("demo-%"), User.active)
                                .order_by(User.id)):
        account = session.get(ConsoleAccount, user.id)
        if account is None:
            account = ConsoleAccount(user_id=user.id, username=user.openid, password_hash=hashed)
            session.add(account)
        account.username = user.openid
        account.password_hash = hashed
        account.must_change = False
        account.failed_attempts = 0
        account.locked_until = None
        names.append(user.openid)
    session.flush()
    return names
