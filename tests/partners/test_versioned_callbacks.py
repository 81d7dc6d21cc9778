"""A dispatcher's change to an inbound partner trip after assignment reaches the partner:
reassigning sends ``assigned`` with the new crew, unassigning ``created`` without a
vehicle; every callback carries the order's next ``version`` (a read answers the last).
The booking side orders a partner's callbacks by that version: an older one is stale
whatever its state, a newer ``created`` after ``assigned`` takes the assignment back —
while an unversioned callback still never moves an order back."""
from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.accounts.models import Driver, Vehicle
from app.orders import callbacks
from app.orders.models import OrderState, ProviderOrder
from app.partners.models import PartnerCallback, PartnerOrder
from app.trips.models import Channel, TripState
from providers.partner import Area, PartnerClient, PartnerProvider
from tests import factories
from tests.factories import ok
from tests.partners.test_partner_api import KEY, order_body, read, register, signed  # noqa: F401

O = OrderState


def test_reassign_and_unassign_are_reported_with_increasing_versions(api, read):  # noqa: F811
    register(api)
    order = signed(api, "POST", "/orders", order_body()).get_json()
    assert order["version"] == 0 and order["vehicle"] is None
    with read() as session:
        trip_id = session.scalar(select(PartnerOrder.trip_id))
        sedans = session.scalars(select(Vehicle).where(Vehicle.vehicle_class == "sedan")
                                 .order_by(Vehicle.id)).all()
        plates = [v.plate for v in sedans[:3]]
        ids = [v.id for v in sedans[:3]]
        driver = session.scalar(select(Driver.id).where(Driver.name == "钱进"))
    ok(api.post(f"/trips/{trip_id}/assign", "demo-dispatcher",
                json={"vehicle_id": ids[0], "driver_id": driver}))
    ok(api.post(f"/trips/{trip_id}/reassign", "demo-dispatcher",
                json={"vehicle_id": ids[1], "reason": "车辆临时保养"}))
    ok(api.post(f"/trips/{trip_id}/unassign", "demo-dispatcher", json={"reason": "另行安排"}))
    assert api.get(f"/trips/{trip_id}", "demo-dispatcher").get_json()["state"] == "approved"
    ok(api.post(f"/trips/{trip_id}/assign", "demo-dispatcher",
                json={"vehicle_id": ids[2], "driver_id": driver}))

    with read() as session:
        sent = [(c.payload["state"], c.payload["version"],
                 (c.payload["vehicle"] or {}).get("plate"))
                for c in session.scalars(select(PartnerCallback).order_by(PartnerCallback.id))]
    assert sent == [("assigned", 1, plates[0]), ("assigned", 2, plates[1]),
                    ("created", 3, None), ("assigned", 4, plates[2])]
    now = signed(api, "GET", f"/orders/{order['id']}").get_json()
    assert (now["state"], now["version"], now["vehicle"]["plate"]) == ("assigned", 4, plates[2])


def _partner_provider() -> PartnerProvider:
    return PartnerProvider("partner-fuzhou", PartnerClient("http://127.0.0.1:9/api/v1",
                                                           "changzhou", KEY),
                           Area(25.15, 118.08, 26.65, 120.50), label="福州市公车平台",
                           callback_key="partner:fuzhou")


def _payload(state: str, version: int | None, plate: str | None = None) -> dict:
    body = {"id": "PO000042", "order_ref": "T-OUT-1", "state": state, "bill": None,
            "vehicle": {"plate": plate, "driver_name": "黄磊", "driver_phone": "13950000003"}
            if plate else None}
    if version is not None:
        body["version"] = version
    return body


def test_the_booking_side_orders_a_partners_callbacks_by_version(session, demo):
    user = demo["users"]["demo-traveler"]
    trip = factories.trip(session, applicant_id=user, unit_id=demo["units"]["常州市发展和改革委员会"],
                          state=TripState.DISPATCHED, channel=Channel.PARTNER)
    row = ProviderOrder(trip_id=trip.id, provider="partner-fuzhou", out_order_id="T-OUT-1",
                        order_id="PO000042", state=O.CREATED)
    session.add(row)
    session.flush()
    provider = _partner_provider()

    def hear(state, version, plate=None):
        order = provider.parse_callback(_payload(state, version, plate))
        return callbacks.apply_callback(session, "partner-fuzhou", order, clock.now())

    assert hear("assigned", 1, "闽AD7001") == {"ok": True, "state": O.ASSIGNED}
    # An unversioned step back is still ignored...
    assert hear("created", None)["ignored"] == "stale_event"
    assert (row.state, row.plate) == (O.ASSIGNED, "闽AD7001")
    # ...a newer version takes the assignment back: no crew, the trip still with the partner.
    assert hear("created", 2) == {"ok": True, "state": O.CREATED}
    assert (row.state, row.plate, row.driver_name, row.last_version) == (O.CREATED, None, None, 2)
    assert trip.state == TripState.DISPATCHED
    assert trip.events[-1].data["action"] == "provider:unassigned"
    # A late delivery of version 1 (or a read answering version 2 again) changes nothing.
    assert hear("assigned", 1, "闽AD7001")["ignored"] == "stale_event"
    assert hear("created", 2)["ignored"] == "stale_event"
    assert row.plate is None
    # The next assignment comes on as usual, and so does the trip.
    assert hear("assigned", 3, "闽AG7003") == {"ok": True, "state": O.ASSIGNED}
    assert row.plate == "闽AG7003"
    assert hear("in_trip", 4, "闽AG7003") == {"ok": True, "state": O.IN_TRIP}
    assert trip.state == TripState.IN_PROGRESS
