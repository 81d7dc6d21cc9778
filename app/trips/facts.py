"""Trip facts for lists that show trips by the way (settlement lines, the console): route,
applicant, and what the domains that ran the trip know (plate, km, driver). Each such
domain registers a provider in its ``init_app``; the trips package stays below them."""
from __future__ import annotations

from typing import Callable

from flask import Flask, current_app
from sqlalchemy import select

from app.accounts.models import User
from app.trips.models import Trip

EXTENSION = "trip_fact_providers"
FactProvider = Callable[[object, list[int]], dict[int, dict]]


def provide(app: Flask, provider: FactProvider) -> None:
    providers = app.extensions.setdefault(EXTENSION, [])
    if provider not in providers:
        providers.append(provider)


def route_of(stops: list[dict]) -> str:
    return " → ".join(s.get("name", "") for s in stops or [])


def facts_of(session, trip_ids: list[int]) -> dict[int, dict]:
    """``{trip_id: {depart_at, route, applicant_name, applicant_phone, plate, km, ...}}``."""
    ids = sorted({t for t in trip_ids if t})
    if not ids:
        return {}
    found: dict[int, dict] = {}
    rows = session.execute(select(Trip.id, Trip.depart_at, Trip.return_at, Trip.stops,
                                  Trip.purpose_text, User.name, User.phone)
                           .join(User, User.id == Trip.applicant_id).where(Trip.id.in_(ids)))
    for trip_id, depart_at, return_at, stops, purpose, name, phone in rows:
        found[trip_id] = {"depart_at": depart_at, "return_at": return_at,
                          "route": route_of(stops), "purpose": purpose,
                          "applicant_name": name, "applicant_phone": phone,
                          "plate": None, "km": None, "driver_name": None}
    for provider in current_app.extensions.get(EXTENSION, []):
        for trip_id, values in provider(session, list(found)).items():
            found[trip_id].update({k: v for k, v in values.items() if v is not None})
    return found
