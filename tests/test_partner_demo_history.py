"""The demo history with a partner city (what ``make run`` seeds): the partner's visitors
ride our fleet in last month as inbound partner trips, priced with their market reference,
confirmed, and the visitors' savings report has rows; the partner callbacks of last month
are not sent now, and the month's own trips are all still there."""
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock, db, demo_history
from app.accounts.models import User
from app.billing.models import Charge
from app.partners import demo as partner_demo
from app.partners.models import CallbackState, P, Partner, PartnerCallback, PartnerOrder
from app.supervision.models import Violation
from app.supervision.reports import Window
from app.supervision.visitor_savings import visitor_savings
from app.trips.models import Trip, TripState
from tests.factories import ok

NOW = datetime(2026, 11, 25, 17, 48, tzinfo=clock.SHANGHAI)  # October's history
PERIOD = "2026-10"


def _seed(session):
    assert demo_history.seed_demo_with_history(
        session, now=NOW, partner=lambda s: partner_demo.register_partner(
            s, partner_demo.FUZHOU, base_url="http://127.0.0.1:9/api/v1", our_id="changzhou"))


@pytest.fixture(scope="module")
def isolated_engine(seeded_database):
    engine = seeded_database("partner_history", NOW, _seed)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(isolated_engine, frozen_clock):
    return frozen_clock(NOW)


def test_the_partners_visitors_rode_our_fleet_last_month(session, seeded):
    partner = session.scalar(select(Partner))
    assert partner.code == "fuzhou"
    orders = session.scalars(select(PartnerOrder).order_by(PartnerOrder.id)).all()
    assert len(orders) == len(demo_history.VISITS)
    start, end = Window.month(PERIOD).start, Window.month(PERIOD).end
    for order in orders:
        assert order.state == P.COMPLETED and order.partner_id == partner.id
        trip = session.get(Trip, order.trip_id)
        assert trip.state == TripState.CONFIRMED and trip.unit_id == partner.unit_id
        assert trip.partner["approval_ref"] == order.approval_ref
        charge = session.scalar(select(Charge).where(Charge.trip_id == trip.id))
        assert charge.final and charge.channel == "fleet" and start <= charge.finished_at < end
        assert charge.market_reference > charge.total > 0
    # the month's own trips are all there besides
    assert session.scalar(select(func.count(Charge.id))) == \
        len(demo_history.PLANS) + len(demo_history.VISITS)
    # last month's callbacks are not sent to the partner now
    callbacks = session.scalars(select(PartnerCallback)).all()
    assert callbacks and {c.state for c in callbacks} == {CallbackState.FAILED}
    # daytime workday runs: no case is opened about a visit
    trips = [o.trip_id for o in orders]
    assert session.scalars(select(Violation).where(Violation.trip_id.in_(trips))).all() == []


def test_the_visitors_savings_report_shows_them(session, seeded):
    supervisor = session.scalar(select(User).where(User.openid == "demo-supervisor"))
    report = visitor_savings(session, user=supervisor, window=Window.month(PERIOD))
    (row,) = report["items"]
    charges = session.scalars(select(Charge).join(
        PartnerOrder, PartnerOrder.trip_id == Charge.trip_id)).all()
    assert (row["partner_code"], row["month"], row["trips"]) == ("fuzhou", PERIOD, len(charges))
    reference = sum(c.market_reference for c in charges)
    charged = sum(c.total for c in charges)
    assert (row["market_reference"], row["charged"]) == (reference, charged)
    assert report["totals"]["savings"] == reference - charged > 0
    assert Decimal("0.2") < report["totals"]["savings_rate"] < Decimal("0.9")


def test_the_report_over_the_api(app, client, seeded):
    from tests.conftest import Api
    report = ok(Api(client).get(f"/reports/visitor-savings?period={PERIOD}", "demo-supervisor"))
    assert report["totals"]["trips"] == len(demo_history.VISITS)
