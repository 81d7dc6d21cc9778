"""The only place the application reads the time.

Everything stores aware UTC; rules about local days convert to Asia/Shanghai with
``local()``. Tests and the worker can freeze or move the clock with ``set_now``.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    """Return the current aware UTC time (or the frozen one)."""
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at ``value`` (aware), or release it with ``None``."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("clock needs an aware datetime")
    _frozen = value.astimezone(timezone.utc) if value is not None else None


@contextmanager
def restored() -> Iterator[None]:
    """Run a block that moves the clock with ``set_now``; afterwards it is as it was
    (frozen at the same time, or real)."""
    previous = _frozen
    try:
        yield
    finally:
        set_now(previous)


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime")
    return value.astimezone(timezone.utc)


def local(value: datetime) -> datetime:
    return ensure_aware(value).astimezone(SHANGHAI)


def local_date(value: datetime) -> date:
    return local(value).date()
