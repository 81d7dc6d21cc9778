"""The trip's full route estimate, for every domain that needs "how far will the car go".

``full_estimate(trip)`` is the one public way to ask: the trip's route points
(``Trip.route_points``: the stops, and back to the origin unless ``one_way``) through the
configured estimator (Gaode's driving route, the straight lines when it is down). Quotes,
the fleet and rental prices, the approval amount rule and supervision's mileage checks
all use it, so they agree on the distance.
"""
from __future__ import annotations

from app import supply
from app.trips.models import Trip
from providers.route import RouteEstimate, RouteEstimator


def full_estimate(trip: Trip, estimator: RouteEstimator | None = None) -> RouteEstimate:
    """Distance (km, one decimal) and driving minutes of the whole trip."""
    return (estimator or supply.route_estimator()).estimate(trip.route_points)
