"""The approval subscription messages (WeChat) sent to approvers and their delegates."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app import clock
from app.approvals.models import ApprovalTask, Delegation
from app.notifications.service import enqueue_wechat
from app.trips.models import Purpose, Trip
from providers.wechat import fit_value

PURPOSE_LABELS = {Purpose.MEETING: "会议", Purpose.INSPECTION: "调研", Purpose.ENFORCEMENT: "执法",
                  Purpose.EMERGENCY: "应急", Purpose.RECEPTION: "接待", Purpose.OTHER: "其他公务"}


def trip_no(trip: Trip) -> str:
    """The trip number people quote (ASCII, fits a WeChat character_string)."""
    return f"YC{clock.local_date(trip.created_at):%Y%m%d}{trip.id:06d}"


def message_data(trip: Trip, phrase: str) -> dict[str, str]:
    """The approval template's fields, each fitted to WeChat's rule for its kind."""
    stops = trip.stops or [{}]
    purpose = trip.purpose_text or PURPOSE_LABELS.get(trip.purpose_category, "公务用车")
    route_text = f"{stops[0].get('name', '')}→{stops[-1].get('name', '')}"
    return {"thing1": fit_value("thing", purpose),
            "time2": clock.local(trip.depart_at).strftime("%Y-%m-%d %H:%M"),
            "character_string3": fit_value("character_string", trip_no(trip)),
            "phrase4": fit_value("phrase", phrase),
            "thing5": fit_value("thing", route_text)}


def notify_task(session, task: ApprovalTask, trip: Trip, *, kind: str, phrase: str,
                now: datetime) -> None:
    """Queue the subscription message for a task to its assignee and their active delegates."""
    recipients = [task.assignee] + [d.delegate for d in session.scalars(
        select(Delegation).where(Delegation.delegator_id == task.assignee_id,
                                 *Delegation.active_at(now)))]
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or user.id == trip.applicant_id:
            continue
        seen.add(user.id)
        enqueue_wechat(session, recipient=user, kind=kind, ref=f"task:{task.id}", now=now,
                       template_id=current_app.config["WECHAT_APPROVAL_TEMPLATE_ID"],
                       page=f"pages/approval/detail?task_id={task.id}",
                       data=message_data(trip, phrase))
