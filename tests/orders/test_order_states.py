"""The provider order's state machine: callbacks jump forward only, our own moves are few,
every move is audited, and an illegal one is refused."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app import clock, db
from app.audit import AuditEntry
from app.errors import IllegalTransition
from app.orders import booking, callbacks
from app.orders.models import ORDER_RANK, TRANSITIONS, OrderState, ProviderOrder
from providers import base
from tests.orders.conftest import signed

O = OrderState
# Our own moves that do not go up in rank: a vanished worker's booking claimed again, a
# retry after a transient failure, and a booking given up.
OUR_MOVES = {(O.BOOKING, O.BOOKING), (O.BOOKING, O.PENDING), (O.BOOKING, O.FAILED)}
# The one way back, only by a newer callback version (tests/partners/test_versioned_callbacks.py:
# an unversioned callback still never moves an order back).
VERSIONED_BACK = {(O.ASSIGNED, O.CREATED), (O.ARRIVED, O.CREATED)}


def test_every_state_is_ranked_and_the_provider_states_are_ours():
    assert set(ORDER_RANK) == set(O)
    assert set(base.ORDER_STATES) <= {s.value for s in O}


def test_a_callback_may_jump_to_any_higher_rank_and_nothing_moves_back():
    for state, targets in TRANSITIONS.items():
        higher = {s for s in base.ORDER_STATES if ORDER_RANK[s] > ORDER_RANK[state]}
        assert higher <= targets, state
        assert all(ORDER_RANK[t] > ORDER_RANK[state] or (state, t) in OUR_MOVES | VERSIONED_BACK
                   for t in targets), state
    assert O.CANCELLED not in TRANSITIONS  # final


@pytest.mark.parametrize("state, to", [(O.CANCELLED, O.CREATED), (O.COMPLETED, O.IN_TRIP),
                                       (O.CREATED, O.PENDING), (O.FAILED, O.BOOKING)])
def test_illegal_moves_are_refused(state, to):
    row = ProviderOrder(state=state)
    with pytest.raises(IllegalTransition) as err:
        row.transition(None, to, actor_id=None)
    assert err.value.errors == {"state": state.value, "to": to.value} and row.state == state


def _moves(app, order_pk: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "provider_orders", AuditEntry.entity_id == order_pk,
            AuditEntry.action.like("state:%")).order_by(AuditEntry.id)).all()
        db.session.remove()
    return [(r.action, r.data["from"], r.data["event"]) for r in rows]


def test_booking_and_a_callback_skipping_states_are_audited_moves(orders, app, live_server):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    row = orders.order(trip_id)
    assert row.state == O.CREATED
    payload = {"event": "order.state", "order_id": row.order_id, "out_order_id": row.out_order_id,
               "state": "in_trip", "occurred_at": clock.now().isoformat()}
    resp = requests.post(f"{live_server}/api/v1/webhooks/ridehail",
                         json=signed("ridehail", payload), timeout=5)
    assert resp.status_code == 200 and resp.json() == {"ok": True, "state": "in_trip"}
    assert _moves(app, row.id) == [("state:booking", "pending", "claimed"),
                                   ("state:created", "booking", "booked"),
                                   ("state:in_trip", "created", "callback")]


def test_a_lost_answer_after_the_callback_keeps_the_order(orders, app):
    """The provider made the order and said so by callback, but its answer to our call was
    lost: the order stays made (no retry, no failure)."""
    trip_id = orders.approved_trip("ridehail")
    now = clock.now()
    with app.app_context():
        session = db.session()
        db.begin_write(session)
        booking.open_orders(session, now)
        (claim,) = booking.claim_due(session, now)
        session.commit()
        order = booking.place(claim)  # the provider makes it...
        db.begin_write(session)
        callbacks.apply_callback(session, claim.provider, order, now)  # ...and calls back
        session.commit()
        db.begin_write(session)
        booking.record(session, claim, base.ProviderTimeout("read timeout"), now)  # answer lost
        session.commit()
        row = session.get(ProviderOrder, claim.order_pk)
        assert (row.state, row.order_id, row.error) == (O.CREATED, order.order_id, None)
        lost = session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "provider_orders", AuditEntry.entity_id == row.id)).all()
        db.session.remove()
    assert lost[-1] == "answer_lost"
    assert orders.trip(trip_id)["state"] == "dispatched"
