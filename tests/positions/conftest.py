"""Positions fixtures: the gateway's secret, bodies as Traccar and phones send them, and the
demo vehicles' devices."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from app.accounts.models import Vehicle
from tests.dispatch.conftest import (T0, drive, fleet, in_db, make_trip, now,  # noqa: F401
                                     travel)

TOKEN = "test-gateway-secret-0123456789"
KNOT = 1.852


@pytest.fixture
def gateway(app, monkeypatch):
    """The app trusts one positioning gateway; returns its ``Authorization`` header."""
    monkeypatch.setitem(app.config, "TRACCAR_TOKEN", TOKEN)
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def devices(in_db, demo):
    """The demo vehicles' device ids by vehicle id, in id order."""
    with in_db() as s:
        return {v.id: v.device_id for v in s.scalars(select(Vehicle).order_by(Vehicle.id))}


def iso(moment: datetime) -> str:
    """Times as Traccar's JSON writes them: UTC with milliseconds and "+00:00"."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def traccar(device_id: str, at: datetime, lat: float, lng: float, *, knots: float = 0.0,
            course: float = 90.0, valid: bool = True, **attributes) -> dict:
    """A position-forwarding body exactly as Traccar posts it (``forward.type=json``)."""
    return {
        "position": {"id": 1, "attributes": {"ignition": True, "motion": knots > 0, **attributes},
                     "deviceId": 7, "protocol": "jt808", "serverTime": iso(at),
                     "deviceTime": iso(at), "fixTime": iso(at), "outdated": False,
                     "valid": valid, "latitude": lat, "longitude": lng, "altitude": 12.0,
                     "speed": knots, "course": course, "address": None, "accuracy": 0.0,
                     "network": None, "geofenceIds": None},
        "device": {"id": 7, "attributes": {}, "groupId": 0, "calendarId": 0, "name": "苏D车载终端",
                   "uniqueId": device_id, "status": "online", "lastUpdate": iso(at),
                   "positionId": 1, "phone": None, "model": "JT808", "contact": None,
                   "category": "car", "disabled": False, "expirationTime": None}}
