"""Factories for approval tests: quoted trips with offers, a frozen clock, the WeChat sandbox."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from app import db
from app.accounts.models import Unit, User
from app.notifications.models import OutboxMessage
from app.trips.models import Trip, TripState
from app.worker import run_due
from tests import factories

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=SH)  # a Tuesday, a workday
GRANTS = 5  # approval messages each approver accepted (WeChat sends one per grant)
TO_NANJING = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
              {"name": "南京市政府", "lat": 32.06, "lng": 118.79}]


class Flow:
    """Drives the approval API at controlled times, as the mini-program and worker would."""

    def __init__(self, api, app, move, wechat_url):
        self.api, self.app, self._move, self.wechat_url = api, app, move, wechat_url
        self.now = move(T0)
        self._first_message = len(self.messages())
        with app.app_context():
            approvers = [u.openid for u in db.session.scalars(select(User)) if u.openid and (
                u.has_role("approver") or u.has_role("platform_approver"))]
            db.session.remove()
        for openid in approvers:  # they accepted the approval messages when opening tasks
            self.grant(openid)

    def grant(self, openid: str, times: int = GRANTS) -> None:
        factories.grant(self.api, self.wechat_url, openid, ["tmpl-approval-task"], times)

    # time
    def at(self, when: datetime) -> datetime:
        self.now = self._move(when)
        self.api.tokens.clear()  # tokens issued before a jump would look expired
        return when

    def later(self, **delta) -> datetime:
        return self.at(self.now + timedelta(**delta))

    def run(self, *names: str) -> dict:
        with self.app.app_context():
            return run_due(now=self.now, names=list(names) or None)

    # data
    def user_id(self, openid: str) -> int:
        with self.app.app_context():
            uid = db.session.scalar(select(User.id).where(User.openid == openid))
            db.session.remove()
            return uid

    def add_user(self, openid: str, unit_name: str, roles: list[str], phone: str) -> int:
        with self.app.app_context():
            unit = db.session.scalar(select(Unit).where(Unit.name == unit_name))
            user = User(name=openid, phone=phone, unit=unit, openid=openid)
            user.set_roles(roles)
            db.session.add(user)
            db.session.commit()
            uid = user.id
            db.session.remove()
        self.grant(openid)  # approvers and delegates accepted the approval messages
        return uid

    def quoted_trip(self, as_: str = "demo-traveler", *, price: str = "120.00",
                    vehicle_class: str = "sedan", channel: str = "fleet", compliant: bool = True,
                    reasons: tuple = (), offer_ttl=timedelta(minutes=10),
                    depart_at: datetime | None = None, stops=None, purpose="meeting",
                    text="市政府常务会议") -> tuple[int, int]:
        """A trip in state ``quoted`` with one offer; returns (trip id, offer id)."""
        depart_at = depart_at or self.now + timedelta(days=1)
        trip_id = factories.new_trip(self.api, as_, depart_at=depart_at, stops=stops,
                                     purpose=purpose, text=text)
        with self.app.app_context():
            trip = db.session.get(Trip, trip_id)
            trip.transition(db.session, TripState.QUOTED, actor_id=trip.applicant_id)
            offer_id = factories.offer(db.session, trip=trip, price=price,
                                       vehicle_class=vehicle_class, channel=channel,
                                       compliant=compliant, reasons=reasons,
                                       expires_at=self.now + offer_ttl).id
            db.session.commit()
            db.session.remove()
        return trip_id, offer_id

    def submitted(self, as_: str = "demo-traveler", **kw) -> int:
        trip_id, offer_id = self.quoted_trip(as_, **kw)
        resp = self.api.post(f"/trips/{trip_id}/submit", as_=as_, json={"offer_id": offer_id})
        assert resp.status_code == 200, resp.get_json()
        return trip_id

    # reading
    def inbox(self, as_: str, state: str = "pending") -> list[dict]:
        resp = self.api.get(f"/approvals?state={state}", as_=as_)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["items"]

    def task_of(self, as_: str, trip_id: int) -> dict:
        (task,) = [t for t in self.inbox(as_) if t["trip_id"] == trip_id]
        return task

    def trip(self, trip_id: int, as_: str = "demo-traveler") -> dict:
        return self.api.get(f"/trips/{trip_id}", as_=as_).get_json()

    def approve(self, as_: str, task_id: int, comment: str = "同意"):
        return self.api.post(f"/approvals/{task_id}/approve", as_=as_, json={"comment": comment})

    def reject(self, as_: str, task_id: int, reason: str = "不符合规定"):
        return self.api.post(f"/approvals/{task_id}/reject", as_=as_, json={"reason": reason})

    def outbox(self) -> list[OutboxMessage]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            db.session.remove()
            return rows

    def messages(self, touser: str | None = None) -> list[dict]:
        """Messages the WeChat sandbox received (during this test)."""
        items = requests.get(f"{self.wechat_url}/__sandbox/messages", timeout=5).json()["items"]
        items = items[getattr(self, "_first_message", 0):]
        return [m for m in items if touser in (None, m["touser"])]


@pytest.fixture
def flow(api, app, frozen_clock, sandboxes):
    url = sandboxes["wechat"].url
    yield Flow(api, app, frozen_clock, url)
    requests.delete(f"{url}/__sandbox/faults", timeout=5)
