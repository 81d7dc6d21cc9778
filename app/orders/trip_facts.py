"""Plate and driver of provider trips, for app.trips.facts."""
from __future__ import annotations

from sqlalchemy import select

from app.orders.models import ProviderOrder


def order_facts(session, trip_ids: list[int]) -> dict[int, dict]:
    rows = session.execute(select(ProviderOrder.trip_id, ProviderOrder.plate,
                                  ProviderOrder.driver_name)
                           .where(ProviderOrder.trip_id.in_(trip_ids)))
    return {t: {"plate": plate, "driver_name": driver} for t, plate, driver in rows}
