"""The embedded default's moving map: tells the sandbox gateway what each demo vehicle does.

Every few seconds the feeder reads which vehicles are on a run (drive the trip's stops and
back from the moment the driver set off) and which are not (parked at their depot, so the
map is never empty), and tells the simulated gateway what changed; the gateway then
forwards their fixes to ``POST /telemetry/traccar`` as Traccar would. Demo only: started by
``app.devserver``, never in production.
"""
from __future__ import annotations

import logging
import threading

import requests
from flask import Flask
from sqlalchemy import select

from app import db
from app.accounts.models import Vehicle, VehicleStatus
from app.dispatch.models import TripRun
from app.positions.rules import corridor_path
from app.trips.models import Trip

log = logging.getLogger(__name__)
# The demo's city centre, for a vehicle without a depot.
CITY_CENTRE = (31.8106, 119.9741)


def plan(session, *, speed_kmh: float = 40.0, every_s: float = 10.0) -> dict[str, dict]:
    """Device id → what its vehicle does now: ``{"route", "start", …}`` or ``{"park"}``."""
    driving = {run.vehicle_id: (run, stops) for run, stops in session.execute(
        select(TripRun, Trip.stops).join(Trip, Trip.id == TripRun.trip_id)
        .where(TripRun.finished_at.is_(None)))}
    wanted = {}
    for vehicle in session.scalars(select(Vehicle).where(
            Vehicle.device_id.is_not(None), Vehicle.status != VehicleStatus.RETIRED)):
        if vehicle.id in driving:
            run, stops = driving[vehicle.id]
            wanted[vehicle.device_id] = {
                "route": [list(p) for p in corridor_path(stops)],
                "start": run.started_at.isoformat(), "speed_kmh": speed_kmh,
                "every_s": every_s}
        else:
            depot = ((vehicle.depot_lat, vehicle.depot_lng) if vehicle.depot_lat is not None
                     else CITY_CENTRE)
            wanted[vehicle.device_id] = {"park": list(depot)}
    return wanted


class Feeder:
    """Keeps the sandbox gateway's devices in line with ``plan`` (a background thread)."""

    def __init__(self, app: Flask, gateway_url: str, *, every: float = 5.0):
        self.app, self.gateway_url, self.every = app, gateway_url, every
        self.sent: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="position-feeder", daemon=True)

    def start(self, api_url: str, token: str) -> "Feeder":
        requests.post(f"{self.gateway_url}/__sandbox/target", timeout=5, json={
            "url": f"{api_url}/api/v1/telemetry/traccar", "token": token}).raise_for_status()
        self.sync()
        self._thread.start()
        return self

    def sync(self) -> int:
        """Send what changed; returns how many devices were told."""
        with self.app.app_context():
            try:
                wanted = plan(db.session)
            finally:
                db.session.remove()
        told = 0
        for device_id, what in wanted.items():
            if self.sent.get(device_id) != what:
                requests.put(f"{self.gateway_url}/__sandbox/devices/{device_id}", json=what,
                             timeout=5).raise_for_status()
                self.sent[device_id] = what
                told += 1
        return told

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the demo's map must not stop the server
                log.exception("position feeder failed")

    def stop(self) -> None:
        self._stop.set()
