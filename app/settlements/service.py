"""Monthly settlement (SPEC §5.5): statements per paying unit and supplier from final charges."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import and_, exists, func, insert, literal, select, update

from app import audit, clock
from app.accounts.models import Unit, User
from app.billing.models import Charge
from app.money import CENT
from app.errors import Conflict, Forbidden, ValidationFailed
from app.settlements.export import ExportResult, write_csv, write_xlsx
from app.settlements.lines import StatementLine
from app.settlements.reconcile import Reconciliation, parse_supplier_statement, reconcile
from app.settlements.models import (ACTION_STATES, PLATFORM_ACTIONS, Settlement, SettlementLine,
                                     SettlementState)
from app.trips import events
from app.trips.models import Trip, TripState

OPEN_STATES = (SettlementState.DRAFT, SettlementState.PENDING_CONFIRMATION,
               SettlementState.DISPUTED)
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC instants where an Asia/Shanghai calendar month starts and ends."""
    match = PERIOD.match(period or "")
    if not match:
        raise ValidationFailed("结算期间格式应为 YYYY-MM", errors={"period": ["格式错误"]})
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2099:
        raise ValidationFailed("结算期间应在 2000 年至 2099 年之间", errors={"period": ["超出范围"]})
    start = datetime(year, month, 1, tzinfo=clock.SHANGHAI)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=clock.SHANGHAI)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def period_of(at: datetime) -> str:
    return clock.local(at).strftime("%Y-%m")


def _statements(session, period: str, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Settlement]:
    """Find or create the statements of ``period`` for the (unit, supplier) keys."""
    found = {(s.unit_id, s.supplier): s for s in session.scalars(
        select(Settlement).where(Settlement.period == period))}
    for unit_id, supplier in sorted(keys - set(found)):
        statement = Settlement(period=period, unit_id=unit_id, supplier=supplier)
        session.add(statement)
        found[(unit_id, supplier)] = statement
    session.flush()
    return found


def generate(session, *, period: str, actor: User) -> list[Settlement]:
    """Put every final charge of ``period`` on its statement; idempotent.

    Charges of ``period`` not yet on any line go on their (unit, supplier) statement in one
    INSERT … SELECT. A charge whose own statement is already confirmed or closed, or that
    changed after it was settled, becomes an adjustment line on this period's statement.
    """
    start, end = period_bounds(period)
    if start > clock.now():
        raise ValidationFailed("不能为尚未开始的期间生成结算单", errors={"period": ["期间未开始"]})
    fresh = and_(Charge.final.is_(True), Charge.finished_at >= start, Charge.finished_at < end,
                 ~exists().where(SettlementLine.charge_id == Charge.id))
    keys = {(u, s) for u, s in session.execute(
        select(Charge.unit_id, Charge.supplier).where(fresh).distinct())}
    corrections = _corrections(session, start, end)
    statements = _statements(session, period,
                             keys | {(c.unit_id, c.supplier) for c, _ in corrections})
    open_statements = {key: st for key, st in statements.items() if st.state in OPEN_STATES}

    for (unit_id, supplier), statement in open_statements.items():
        session.execute(insert(SettlementLine).from_select(
            ["settlement_id", "charge_id", "trip_id", "order_id", "kind", "description",
             "amount", "finished_at", "disputed"],
            select(literal(statement.id), Charge.id, Charge.trip_id, Charge.order_id,
                   literal("charge"), literal("行程费用"), Charge.total, Charge.finished_at,
                   Charge.held)
            .where(fresh, Charge.unit_id == unit_id, Charge.supplier == supplier)))
    for charge, delta in corrections:
        statement = open_statements.get((charge.unit_id, charge.supplier))
        if statement is not None:
            session.add(SettlementLine(
                settlement_id=statement.id, source_charge_id=charge.id, trip_id=charge.trip_id,
                order_id=charge.order_id, kind="adjustment", amount=delta,
                description=f"{period_of(charge.finished_at)} 期间费用调整",
                finished_at=charge.finished_at, disputed=charge.held))
    session.flush()
    _retotal(session, [s.id for s in open_statements.values()])
    for statement in open_statements.values():
        audit.record(session, entity="settlements", entity_id=statement.id, action="generated",
                     actor_id=actor.id, data={"period": period})
    session.expire_all()
    return sorted(statements.values(), key=lambda s: (s.unit_id, s.supplier))


def _corrections(session, start: datetime, end: datetime) -> list[tuple[Charge, Decimal]]:
    """Final charges before ``end`` whose settled lines fall short of (or exceed) their total
    and whose own period's statement can no longer take them (locked, or an earlier period)."""
    candidates = list(session.scalars(select(Charge).where(
        Charge.final.is_(True), Charge.finished_at < end,
        exists().where(SettlementLine.charge_id == Charge.id) | (Charge.finished_at < start))))
    if not candidates:
        return []
    key = func.coalesce(SettlementLine.charge_id, SettlementLine.source_charge_id)
    settled = dict(session.execute(select(key, func.sum(SettlementLine.amount))
                                   .where(key.in_([c.id for c in candidates])).group_by(key)).all())
    own = {(s.period, s.unit_id, s.supplier): s.state for s in session.scalars(select(Settlement))}
    result = []
    for charge in candidates:
        delta = charge.total - Decimal(settled.get(charge.id) or 0)
        own_state = own.get((period_of(charge.finished_at), charge.unit_id, charge.supplier))
        if delta != 0 and (own_state is not None and own_state not in OPEN_STATES):
            result.append((charge, delta))
    return result


def resettle_charge(session, *, charge: Charge, actor_id: int | None) -> None:
    """A settled charge changed (a held bill decided): its line follows while the statement
    is open; a locked statement keeps its line and the next generation adds an adjustment."""
    line = session.scalar(select(SettlementLine).join(Settlement).where(
        SettlementLine.charge_id == charge.id, Settlement.state.in_(OPEN_STATES)))
    if line is None:
        return
    line.amount, line.disputed = charge.total, charge.held
    session.flush()
    _retotal(session, [line.settlement_id])
    audit.record(session, entity="settlements", entity_id=line.settlement_id,
                 action="line_updated", actor_id=actor_id,
                 data={"charge_id": charge.id, "amount": str(charge.total)})


def _retotal(session, settlement_ids: list[int]) -> None:
    """Totals are always the sum of their lines: recomputed in SQL, never incremented."""
    lines = select(func.coalesce(func.sum(SettlementLine.amount), 0)).where(
        SettlementLine.settlement_id == Settlement.id).scalar_subquery()
    count = select(func.count(SettlementLine.id)).where(
        SettlementLine.settlement_id == Settlement.id).scalar_subquery()
    session.execute(update(Settlement).where(Settlement.id.in_(settlement_ids))
                    .values(total=lines, line_count=count), execution_options={"synchronize_session": False})


def act(session, *, statement: Settlement, action: str, actor: User,
        reason: str = "") -> Settlement:
    """Issue, confirm, dispute or close a statement (draft → pending_confirmation →
    confirmed/disputed → closed): the ``can_<action>`` predicate's parts, the caller's
    permission (else 403), the state machine and, to confirm, no disputed line (else 409)."""
    if not statement.permits(action, actor):
        if action in PLATFORM_ACTIONS:
            raise Forbidden("仅平台财务可执行此操作", code="platform_finance_only")
        if action == "confirm" and not statement.paid_by(actor):
            raise Forbidden("结算单须由付款单位的财务人员确认", code="paying_unit_finance_only")
        if action == "confirm" and statement.issued_by(actor):
            raise Forbidden("结算单须由出具人以外的财务人员确认", code="separation_of_duties")
        raise Forbidden()
    to = ACTION_STATES[action]
    if (to == SettlementState.CONFIRMED and statement.can_transition(to)
            and statement.has_disputed_lines()):
        raise Conflict("结算单含有异议明细，处理完毕后才能确认", code="disputed_lines")
    statement.transition(session, to, actor_id=actor.id, comment=reason)
    if to == SettlementState.DISPUTED:
        statement.dispute_reason = reason
    if to == SettlementState.CLOSED:
        statement.closed_at = clock.now()
        settle_trips(session, statement, actor=actor)
    return statement


def settle_trips(session, statement: Settlement, *, actor: User) -> int:
    """A closed statement settles the confirmed trips whose charges it carries (a cancelled
    trip's fee settles too, but the trip stays cancelled)."""
    carried = select(SettlementLine.trip_id).where(SettlementLine.settlement_id == statement.id,
                                                   SettlementLine.charge_id.is_not(None))
    trips = session.scalars(select(Trip).where(Trip.id.in_(carried),
                                               Trip.state == TripState.CONFIRMED)
                            .order_by(Trip.id)).all()
    for trip in trips:
        event = trip.transition(session, TripState.SETTLED, actor_id=actor.id,
                                data={"settlement_id": statement.id, "period": statement.period})
        events.publish(session, events.TRIP_SETTLED, trip=trip, at=event.at)
    return len(trips)


def lines_of(session, statement_ids: list[int]) -> Iterator[StatementLine]:
    """Stream the statements' lines as export rows, ordered by supplier, unit, then time.

    Plain columns in batches (never whole ORM objects), so memory stays flat however many
    lines a period has; channel and flags come from the charge the line settles or adjusts.
    """
    charge_id = func.coalesce(SettlementLine.charge_id, SettlementLine.source_charge_id)
    stmt = (select(SettlementLine.order_id, SettlementLine.trip_id, SettlementLine.finished_at,
                   Unit.name, Settlement.supplier, Charge.channel, SettlementLine.description,
                   SettlementLine.amount, SettlementLine.kind, SettlementLine.disputed,
                   Charge.flags)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .join(Unit, Unit.id == Settlement.unit_id)
            .outerjoin(Charge, Charge.id == charge_id)
            .where(SettlementLine.settlement_id.in_(statement_ids))
            .order_by(Settlement.supplier, Settlement.unit_id, SettlementLine.finished_at,
                      SettlementLine.id)
            .execution_options(yield_per=2000))
    for (order_id, trip_id, finished_at, unit_name, supplier, channel, description, amount,
         kind, disputed, flags) in session.execute(stmt):
        marks = [*(flags or ()), *(["adjustment"] if kind == "adjustment" else []),
                 *(["disputed"] if disputed else [])]
        yield StatementLine(order_id=order_id, trip_id=trip_id or "",
                            date=clock.local_date(finished_at), unit_name=unit_name,
                            supplier=supplier, channel=str(channel or ""),
                            description=description, amount=Decimal(amount).quantize(CENT),
                            flags=tuple(marks))


def line_count(session, statement_ids: list[int]) -> int:
    return session.scalar(select(func.count(SettlementLine.id))
                          .where(SettlementLine.settlement_id.in_(statement_ids))) or 0


def statements_of(session, period: str, supplier: str | None = None) -> list[Settlement]:
    stmt = select(Settlement).where(Settlement.period == period)
    if supplier is not None:
        stmt = stmt.where(Settlement.supplier == supplier)
    return list(session.scalars(stmt.order_by(Settlement.supplier, Settlement.unit_id)))


def export(session, statement_ids: list[int], target, *, fmt: str, progress=None) -> ExportResult:
    """Write the statements' lines to ``target`` as XLSX or CSV (UTF-8 with BOM), streaming."""
    writer = {"xlsx": write_xlsx, "csv": write_csv}[fmt]
    return writer(lines_of(session, statement_ids), target, progress=progress)


def export_filename(period: str, fmt: str, statement: Settlement | None = None) -> str:
    """结算单-2026-10[-单位-供应商].xlsx; characters unsafe in file names become "_"."""
    parts = ["结算单", period] + ([statement.unit.name, statement.supplier] if statement else [])
    return re.sub(r'[\\/:*?"<>|\s]+', "_", "-".join(parts)) + f".{fmt}"


def our_amounts(session, *, supplier: str, period: str) -> list[tuple[str, Decimal]]:
    """(order id, amount) we owe ``supplier`` for ``period``: the statements' lines once
    generated, else the final charges finished in the period."""
    statements = [s.id for s in statements_of(session, period, supplier)]
    if statements:
        return list(session.execute(select(SettlementLine.order_id, SettlementLine.amount)
                                    .where(SettlementLine.settlement_id.in_(statements))))
    start, end = period_bounds(period)
    return list(session.execute(select(Charge.order_id, Charge.total).where(
        Charge.supplier == supplier, Charge.final.is_(True), Charge.finished_at >= start,
        Charge.finished_at < end)))


def reconcile_statement(session, *, supplier: str, period: str, data: bytes) -> Reconciliation:
    """Compare a supplier's CSV statement with ours by order id (对账)."""
    theirs = parse_supplier_statement(data)
    ours = [{"order_id": order_id, "amount": Decimal(amount)}
            for order_id, amount in our_amounts(session, supplier=supplier, period=period)]
    return reconcile(ours, theirs)
