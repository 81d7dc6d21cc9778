"""Builders for what tests need directly — rows, request bodies, provider requests — in one
place; the fixtures in the conftest files stay thin and call these."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import event, insert, inspect, update

from app import clock, db
from app.billing.models import Charge, ChargeLine
from app.trips.models import Offer, Trip, TripState
from providers.base import QuoteRequest, Stop

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "武进区政府", "lat": 31.70, "lng": 119.94}]


def ok(resp, status: int = 200):
    """The JSON body of an API response that must have ``status``."""
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def passenger_list(count: int) -> list[dict]:
    return [{"name": f"乘客{i + 1}"} for i in range(count)]


def trip_request(*, depart_at: datetime | None = None, hours: float = 3, passengers: int = 1,
                 purpose: str = "meeting", text: str = "市政府专题会议", stops=None,
                 **over) -> dict:
    """The body of ``POST /trips``: a trip in the city, tomorrow by default."""
    depart_at = depart_at or clock.now() + timedelta(days=1)
    body = {"purpose": {"category": purpose, "text": text},
            "passengers": passenger_list(passengers),
            "stops": stops or STOPS, "depart_at": depart_at.isoformat(),
            "return_at": (depart_at + timedelta(hours=hours)).isoformat(), "vehicle_class": None}
    body.update(over)
    return body


def new_trip(api, as_: str = "demo-traveler", **body) -> int:
    """A draft trip requested over the API (``body`` as for ``trip_request``); its id."""
    return ok(api.post("/trips", as_, json=trip_request(**body)), 201)["id"]


def trip(session, *, applicant_id: int, unit_id: int, state: TripState = TripState.DRAFT,
         depart_at: datetime | None = None, hours: float = 3, **fields) -> Trip:
    depart_at = depart_at or clock.now() + timedelta(days=1)
    row = Trip(applicant_id=applicant_id, unit_id=unit_id, state=state,
               purpose_category=fields.pop("purpose_category", "meeting"),
               purpose_text=fields.pop("purpose_text", "工作会议"),
               passengers=fields.pop("passengers", [{"name": "张明"}]),
               stops=fields.pop("stops", STOPS), depart_at=depart_at,
               return_at=depart_at + timedelta(hours=hours), **fields)
    session.add(row)
    session.flush()
    return row


def offer(session, *, trip: Trip, price: str | Decimal = "120.00", vehicle_class: str = "sedan",
          channel: str = "fleet", compliant: bool = True, reasons=(),
          expires_at: datetime | None = None) -> Offer:
    row = Offer(trip_id=trip.id, channel=channel, provider=channel, product="标准",
                vehicle_class=vehicle_class, seats=4, price=Decimal(price),
                expires_at=expires_at or clock.now() + timedelta(minutes=10),
                compliant=compliant, reasons=list(reasons))
    session.add(row)
    session.flush()
    return row


def charge(session, *, trip: Trip, total: str | Decimal, supplier: str = "fleet",
           channel: str = "fleet", finished_at: datetime | None = None, final: bool = True,
           held: bool = False) -> Charge:
    total = Decimal(total)
    row = Charge(trip_id=trip.id, unit_id=trip.unit_id, channel=channel, supplier=supplier,
                 order_id=f"{supplier}-{trip.id}", total=total,
                 finished_at=finished_at or trip.return_at, final=final, held=held,
                 lines=[ChargeLine(kind="base", description="用车费", amount=total)])
    session.add(row)
    session.flush()
    return row


def quote_request(**over) -> QuoteRequest:
    """What the quote fan-out asks every provider: two passengers, tomorrow, in the city."""
    depart = datetime.now(timezone.utc) + timedelta(days=1)
    facts = dict(trip_ref="T1", stops=tuple(Stop(s["name"], s["lat"], s["lng"]) for s in STOPS),
                 depart_at=depart, return_at=depart + timedelta(hours=3), passengers=2,
                 vehicle_class=None, est_km=Decimal("16.4"), est_minutes=25,
                 vehicle_classes=("sedan",))
    facts.update(over)
    return QuoteRequest(**facts)


# --- another request getting in first, deterministically (races without the timing) ------

@contextmanager
def inserted_meanwhile(model: type) -> Iterator[None]:
    """The app's first flush that inserts a ``model`` row finds its twin there already, as
    if a concurrent request had committed the same row a moment before (a unique key lost)."""
    table, done = model.__table__, []

    def twin(session, _context, _instances):
        rows = [row for row in session.new if isinstance(row, model)]
        if rows and not done:
            done.append(rows[0])
            values = {prop.columns[0].name: getattr(rows[0], prop.key)
                      for prop in inspect(model).column_attrs
                      if not prop.columns[0].primary_key and getattr(rows[0], prop.key) is not None}
            session.connection().execute(insert(table).values(values))

    event.listen(db.session, "before_flush", twin)
    try:
        yield
    finally:
        event.remove(db.session, "before_flush", twin)
    assert done, f"no {table.name} row was inserted"


@contextmanager
def updated_meanwhile(model: type) -> Iterator[None]:
    """At the app's commit, every ``model`` row with changes still to flush was changed by a
    concurrent request a moment before (its version moved on: a stale write)."""
    table, done = model.__table__, []

    def bump(session):
        for row in [row for row in session.dirty if isinstance(row, model)]:
            done.append(row)
            session.connection().execute(update(table).where(table.c.id == row.id)
                                         .values(version=table.c.version + 1))

    event.listen(db.session, "before_commit", bump)
    try:
        yield
    finally:
        event.remove(db.session, "before_commit", bump)
    assert done, f"no {table.name} row was left to flush at commit"


def grant(api, wechat_url: str, openid: str, template_ids: list[str], times: int = 1) -> dict:
    """The user taps "allow" in wx.requestSubscribeMessage ``times`` times: WeChat (the
    sandbox) records the grants and the mini-program reports them to POST /me/subscriptions.
    Returns the backend's last answer."""
    import requests

    answer = {}
    for _ in range(times):
        requests.post(f"{wechat_url}/__sandbox/subscriptions", timeout=5, json={
            "touser": openid, "template_ids": template_ids}).raise_for_status()
        answer = ok(api.post("/me/subscriptions", as_=openid, json={"template_ids": template_ids}))
    return answer
