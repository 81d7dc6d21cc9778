"""The approval messages to approvers and their delegates (message centre, and WeChat while
they hold a grant for the approval template)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.approvals.models import ApprovalTask, Delegation
from app.notifications.service import notify
from app.trips.models import Purpose, Trip

PURPOSE_LABELS = {Purpose.MEETING: "会议", Purpose.INSPECTION: "调研", Purpose.ENFORCEMENT: "执法",
                  Purpose.EMERGENCY: "应急", Purpose.RECEPTION: "接待", Purpose.OTHER: "其他公务"}


def trip_no(trip: Trip) -> str:
    """The trip number people quote (ASCII, fits a WeChat character_string)."""
    return trip.number


def message_data(trip: Trip, phrase: str) -> dict[str, object]:
    """The approval template's values (whole; notify fits them to each keyword's kind)."""
    stops = trip.stops or [{}]
    purpose = trip.purpose_text or PURPOSE_LABELS.get(trip.purpose_category, "公务用车")
    route_text = f"{stops[0].get('name', '')}→{stops[-1].get('name', '')}"
    return {"thing1": purpose, "time2": trip.depart_at, "character_string3": trip_no(trip),
            "phrase4": phrase, "thing5": route_text}


def notify_task(session, task: ApprovalTask, trip: Trip, *, kind: str, phrase: str,
                now: datetime) -> None:
    """Tell a task's assignee and their active delegates (``kind``: the task or a reminder)."""
    recipients = [task.assignee] + [d.delegate for d in session.scalars(
        select(Delegation).where(Delegation.delegator_id == task.assignee_id,
                                 *Delegation.active_at(now)))]
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or user.id == trip.applicant_id:
            continue
        seen.add(user.id)
        notify(session, user, "approval_task", message_data(trip, phrase),
               f"pages/approval/detail?task_id={task.id}", ref=f"task:{task.id}", kind=kind,
               now=now)
