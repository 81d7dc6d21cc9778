"""What the caller may do with a trip now: ``allowed_actions`` from the Trip's predicates.

The predicates (``Trip.can_<action>``) need two facts kept by domains above trips: who
drives the trip now (dispatch) and whether a dispute is open. Those domains register a
context provider in their ``init_app``: ``provide(app, fn)`` with
``fn(session, trip_ids) -> {trip_id: {field: value}}``, asked once per page of trips.
"""
from __future__ import annotations

from typing import Callable, Iterable

from flask import Flask, current_app

from app.accounts.models import User
from app.trips.models import ActionContext, Trip

EXTENSION = "otb.trip_context"

ContextProvider = Callable[[object, list[int]], dict[int, dict]]


def provide(app: Flask, provider: ContextProvider) -> None:
    providers = app.extensions.setdefault(EXTENSION, [])
    if provider not in providers:
        providers.append(provider)


def contexts(session, trip_ids: list[int]) -> dict[int, ActionContext]:
    """The action context of each trip, from every registered provider."""
    fields: dict[int, dict] = {trip_id: {} for trip_id in trip_ids}
    if trip_ids:
        for provider in current_app.extensions.get(EXTENSION, []):
            for trip_id, values in provider(session, trip_ids).items():
                fields[trip_id].update(values)
    return {trip_id: ActionContext(**values) for trip_id, values in fields.items()}


def context(session, trip: Trip) -> ActionContext:
    return contexts(session, [trip.id])[trip.id]


def annotate(session, trips: Iterable[Trip], user: User) -> None:
    """Attach ``allowed_actions`` for ``user`` to each trip (read by TripSchema)."""
    trips = list(trips)
    found = contexts(session, [t.id for t in trips])
    for trip in trips:
        trip.allowed_for = (user.id, trip.state, trip.allowed_actions(user, found[trip.id]))


def allowed_actions(session, trip: Trip, user: User) -> list[str]:
    """The trip's allowed actions for ``user``, computed once per trip and caller."""
    cached = getattr(trip, "allowed_for", None)
    if cached is None or cached[:2] != (user.id, trip.state):
        annotate(session, [trip], user)
    return trip.allowed_for[2]
