"""The official PRC working calendar (法定节假日与调休).

Sources, first match wins:
1. the admin-maintained ``calendar_days`` table (holidays and adjusted working days by date),
   so a year the State Council has just announced can be entered before the package knows it;
2. the ``chinese-calendar`` package (data up to the last year it ships);
3. fallback: Monday–Friday are workdays, and the answer is marked unknown so the decision
   that used it can say so ("calendar_unknown"). Never an exception for a future year.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

import chinese_calendar


@dataclass(frozen=True)
class DayVerdict:
    workday: bool
    known: bool  # False when only the Monday–Friday fallback answered
    source: str  # "admin" | "package" | "fallback"


@dataclass(frozen=True)
class PrcCalendar:
    """Pure lookup over the admin overrides (date → "holiday" | "workday") and the package."""

    overrides: Mapping[date, str] = field(default_factory=dict)

    def verdict(self, day: date) -> DayVerdict:
        kind = self.overrides.get(day)
        if kind is not None:
            return DayVerdict(workday=kind == "workday", known=True, source="admin")
        try:
            return DayVerdict(workday=chinese_calendar.is_workday(day), known=True, source="package")
        except NotImplementedError:
            return DayVerdict(workday=day.weekday() < 5, known=False, source="fallback")


def load_calendar(session, days: list[date] | None = None) -> PrcCalendar:
    """The calendar with the admin table's entries (only ``days`` when given)."""
    from sqlalchemy import select

    from app.approvals.models import CalendarDay

    stmt = select(CalendarDay.day, CalendarDay.kind)
    if days is not None:
        stmt = stmt.where(CalendarDay.day.in_(days))
    return PrcCalendar({day: str(kind) for day, kind in session.execute(stmt)})
