"""The demo seed's history: last month's confirmed trips, priced by the real engine, settle."""
from collections import Counter, defaultdict
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock, db, demo_history
from app.accounts.models import Unit, User, Vehicle
from app.approvals.models import Workflow, WorkflowState
from app.audit import AuditEntry
from app.billing import tariff as engine
from app.billing.models import Charge, TariffKind
from app.billing.service import tariff_in_force
from app.dispatch.models import Assignment, ReleaseReason, TripDispute, TripRun
from app.money import round_money
from app.notifications.models import OutboxMessage, OutboxState
from app.orders.models import ProviderOrder
from app.quotes.models import QuoteRound
from app.settlements import service as settlements
from app.settlements.models import SettlementLine
from app.trips.models import Trip, TripState

SH = clock.SHANGHAI
SUPPLIERS = {"fleet", "ridehail", "rental-a", "rental-b"}
CHAIN = ["draft", "quoted", "pending_approval", "approved", "dispatched", "in_progress",
         "completed", "confirmed"]


NOWS = {"november": datetime(2026, 11, 25, 17, 48, tzinfo=SH),       # October history
        "first-of-march": datetime(2026, 3, 1, 0, 5, tzinfo=SH),    # after midnight, February
        "january": datetime(2027, 1, 14, 9, 0, tzinfo=SH)}          # across the year end


@pytest.fixture(scope="module", params=list(NOWS), ids=list(NOWS))
def history(request, app, db_engine, empty_database):
    """A database of its own with the demo seeded, history included, at a frozen "now" —
    once per "now" (seeding takes seconds); each test then rolls back on it. Returns the
    engine, that now and the clock as the seed left it."""
    now = NOWS[request.param]
    engine = db.make_engine(empty_database(f"history_{request.param.replace('-', '_')}"))
    db.bind(engine)
    clock.set_now(now)
    try:
        with app.app_context():
            assert demo_history.seed_demo_with_history(db.session, now=now) is True
            db.session.commit()
            db.session.remove()
        left_at = clock.now()
    finally:
        clock.set_now(None)
        db.bind(db_engine)
    yield engine, now, left_at
    engine.dispose()


@pytest.fixture
def isolated_engine(history):
    return history[0]


@pytest.fixture
def seeded(history, isolated_engine, frozen_clock):
    """The "now" the history was seeded at, frozen again for the test."""
    return frozen_clock(history[1])


def _month(session, now):
    period = demo_history.period_label(now)
    start, end = settlements.period_bounds(period)
    charges = list(session.scalars(select(Charge).where(
        Charge.finished_at >= start, Charge.finished_at < end).order_by(Charge.id)))
    return period, charges


def test_previous_month_has_confirmed_charges_of_every_supplier_and_three_units(session, seeded):
    now = seeded
    period, charges = _month(session, now)
    assert period == {11: "2026-10", 3: "2026-02", 1: "2026-12"}[clock.local(now).month]
    assert len(charges) == len(demo_history.PLANS) == session.scalar(
        select(func.count(Charge.id)))  # nothing outside the month
    assert all(c.final for c in charges)
    assert {c.supplier for c in charges} == SUPPLIERS
    units = {session.get(Unit, c.unit_id).name for c in charges}
    assert {"常州市发展和改革委员会", "武进区市场监督管理局", "天宁区人民政府办公室"} <= units
    # every supplier bills every one of the three units (one statement per pair)
    pairs = {(c.unit_id, c.supplier) for c in charges}
    assert len(pairs) == 3 * 4
    trips = list(session.scalars(select(Trip)))
    assert len(trips) == len(charges) and all(t.state == TripState.CONFIRMED for t in trips)
    assert all(t.depart_at < now and c.finalized_at < now for t, c in
               zip(sorted(trips, key=lambda t: t.id), sorted(charges, key=lambda c: c.trip_id)))
    assert demo_history.summary(session, now) == (period, len(charges))


def test_flags_as_planned(session, seeded):
    _, charges = _month(session, seeded)
    flags = Counter(f for c in charges for f in c.flags)
    assert flags["over_ceiling"] == 1 and flags["over_estimate"] == 1
    assert flags["auto_confirmed"] == sum(p.auto_confirmed for p in demo_history.PLANS)
    held = [c for c in charges if c.held]
    assert len(held) == 1 and held[0].supplier == "rental-b" and "over_ceiling" in held[0].flags
    assert next(c for c in charges if "over_estimate" in c.flags).supplier == "ridehail"


def test_every_charge_is_the_engines_result_for_its_facts(session, seeded):
    _, charges = _month(session, seeded)
    for charge in charges:
        trip = session.get(Trip, charge.trip_id)
        assert charge.total == sum(line.amount for line in charge.lines)
        if charge.supplier == "fleet":
            run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
            assert run.km == run.end_odometer_km - run.start_odometer_km > 0
            facts = engine.ChargeableRun(
                str(trip.vehicle_class), trip.cross_region, run.started_at, run.finished_at,
                run.km, run.waiting_minutes, run.tolls, run.parking, run.lodging)
            expected = engine.fleet_charge(
                tariff_in_force(session, TariffKind.FLEET, run.started_at), facts)
            assert [(l.kind, l.amount) for l in charge.lines] == \
                [(l.kind, l.amount) for l in expected.lines]
            assert charge.total == expected.total
            reference = engine.market_reference(
                tariff_in_force(session, TariffKind.RENTAL, run.started_at), facts)
            assert charge.market_reference == reference
            assert charge.savings == reference - charge.total
            assert charge.order_id == f"FLEET-{trip.id}" and charge.finished_at == run.finished_at
            assignment = session.scalar(select(Assignment).where(Assignment.trip_id == trip.id))
            assert not assignment.active
            assert assignment.release_reason == ReleaseReason.FINISHED
            assert (assignment.vehicle_id, assignment.driver_id) == (run.vehicle_id, run.driver_id)
            assert session.get(Vehicle, run.vehicle_id).odometer_km >= run.end_odometer_km
            continue
        order = session.scalar(select(ProviderOrder).where(ProviderOrder.trip_id == trip.id))
        assert order.provider == charge.supplier and order.order_id == charge.order_id
        assert order.state == "completed"
        assert sum(Decimal(line["amount"]) for line in order.bill) == charge.total
        assert charge.estimate == trip.estimate
        if charge.supplier == "ridehail":
            assert ("over_estimate" in charge.flags) == (charge.total > trip.estimate * Decimal("1.2"))
            continue
        completed = next(e for e in trip.events if e.to_state == TripState.COMPLETED)
        ceiling = engine.rental_ceiling(
            tariff_in_force(session, TariffKind.RENTAL, trip.depart_at), str(trip.vehicle_class),
            trip.depart_at, charge.finished_at, Decimal(completed.data["actual_km"]))
        if charge.held:
            assert charge.total > ceiling
        else:
            assert charge.total == round_money(ceiling * Decimal("0.80")) <= ceiling


def test_seeding_puts_the_frozen_clock_back(history):
    _, now, left_at = history
    assert left_at == now  # the clock is as the test froze it


def test_trip_history_is_recorded_like_real_transitions(session, seeded):
    for trip in session.scalars(select(Trip)):
        moves = [e for e in trip.events if e.from_state != e.to_state]
        assert [str(moves[0].from_state)] + [str(e.to_state) for e in moves] == CHAIN
        times = [e.at for e in moves]
        assert times == sorted(times)
        assert all(demo_history.MARK in e.comment for e in trip.events)
        audited = session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "trips", AuditEntry.entity_id == trip.id,
            AuditEntry.action.like("state:%"))).all()
        assert sorted(audited) == sorted(f"state:{e.to_state}" for e in moves)
        charge = session.scalar(select(Charge).where(Charge.trip_id == trip.id))
        assert charge.finished_at == next(e.at for e in moves if e.to_state == "completed")
        assert charge.finalized_at == moves[-1].at
        # quoted once, approved by the workflow the policy routed, before anything happened
        assert session.scalar(select(func.count(QuoteRound.id))
                              .where(QuoteRound.trip_id == trip.id)) == 1
        workflow = session.scalar(select(Workflow).where(Workflow.trip_id == trip.id))
        assert workflow.state == WorkflowState.APPROVED and workflow.decided_at < trip.depart_at
    disputes = session.scalars(select(TripDispute)).all()
    assert len(disputes) == sum(p.dispute is not None for p in demo_history.PLANS) > 0
    assert not any(d.open for d in disputes)
    # last month's approval messages are not sent now
    assert session.scalar(select(func.count(OutboxMessage.id))
                          .where(OutboxMessage.state == OutboxState.PENDING)) == 0


def test_generating_the_period_gives_one_statement_per_unit_and_supplier(session, seeded):
    period, charges = _month(session, seeded)
    finance = session.scalar(select(User).where(User.openid == "demo-finance"))
    statements = settlements.generate(session, period=period, actor=finance)
    session.commit()
    expected = defaultdict(Decimal)
    for c in charges:
        expected[(c.unit_id, c.supplier)] += c.total
    assert {(s.unit_id, s.supplier): s.total for s in statements} == dict(expected)
    for statement in statements:
        lines = session.scalars(select(SettlementLine).where(
            SettlementLine.settlement_id == statement.id)).all()
        assert statement.total == sum(line.amount for line in lines)
        assert statement.line_count == len(lines) > 0
        assert {line.disputed for line in lines} <= {False, statement.supplier == "rental-b"}
    assert sum(s.line_count for s in statements) == len(charges)
    disputed = session.scalars(select(SettlementLine).where(SettlementLine.disputed)).all()
    assert len(disputed) == 1


def test_seed_stays_idempotent(session, seeded):
    count = session.scalar(select(func.count(Trip.id)))
    assert demo_history.seed_demo_with_history(session, now=seeded) is False
    assert session.scalar(select(func.count(Trip.id))) == count


def test_seeding_on_the_real_clock_leaves_it_running(app, session):
    before = datetime.now(timezone.utc)
    assert demo_history.seed_demo_with_history(session) is True
    assert before <= clock.now() <= datetime.now(timezone.utc)
    _, charges = _month(session, before)
    assert len(charges) == len(demo_history.PLANS) and all(c.final for c in charges)
