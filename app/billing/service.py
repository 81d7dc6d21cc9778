"""Charges of real trips (SPEC §5): tariff versions as data, fleet charges at finish,
provider bills, and finality at the passenger's confirmation."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit, clock, db, events
from app.accounts.models import User
from app.billing import tariff as engine
from app.billing.models import Charge, ChargeLine, TariffKind, TariffVersion
from app.errors import Conflict, ValidationFailed
from app.trips.models import Channel, Trip
from providers.base import FeeLine, QuoteRequest

DEFAULTS = {TariffKind.FLEET: engine.DEFAULT_FLEET_TARIFF,
            TariffKind.RENTAL: engine.DEFAULT_RENTAL_AGREEMENT}
ENGINE_TYPES = {TariffKind.FLEET: engine.FleetTariff, TariffKind.RENTAL: engine.RentalAgreement}
FLEET_SUPPLIER = "fleet"
FLAG_AUTO_CONFIRMED = "auto_confirmed"
FLAG_CANCELLATION_FEE = "cancellation_fee"
# Published when a charge already final changes (``handler(session, charge=, actor_id=)``):
# settlements move its statement line along.
CHARGE_CHANGED = "charge_changed"


# --- tariff versions ---------------------------------------------------------------------

def version_row_in_force(session, kind: TariffKind | str, at: datetime) -> TariffVersion | None:
    """The stored version in force on the Asia/Shanghai day of ``at``, or None (defaults)."""
    day = clock.local_date(at)
    return session.scalars(select(TariffVersion)
                           .where(TariffVersion.kind == TariffKind(kind),
                                  TariffVersion.effective_from <= day)
                           .order_by(TariffVersion.effective_from.desc()).limit(1)).first()


def as_engine(row: TariffVersion):
    """A stored version as the engine's tariff object."""
    return ENGINE_TYPES[row.kind].from_dict(row.data)


def tariff_in_force(session, kind: TariffKind | str, at: datetime):
    """The FleetTariff or RentalAgreement in force at ``at``: a stored version, else the default."""
    row = version_row_in_force(session, kind, at)
    return as_engine(row) if row is not None else DEFAULTS[TariffKind(kind)]


def publish_tariff(session, *, actor: User, kind: TariffKind | str, data: dict) -> TariffVersion:
    """Add an immutable tariff version (a change is always a new version), audited."""
    kind = TariffKind(kind)
    try:
        parsed = ENGINE_TYPES[kind].from_dict(data)
    except engine.TariffError as exc:
        raise ValidationFailed(f"收费标准无效：{exc}", errors={"tariff": [str(exc)]}) from None
    today = clock.local_date(clock.now())
    if parsed.effective_from < today:
        # Charges already computed used the old version; a retroactive one would disagree.
        raise ValidationFailed("生效日期不能早于今天", errors={"effective_from": ["不能早于今天"]})
    exists = session.scalar(select(TariffVersion.id).where(
        TariffVersion.kind == kind, TariffVersion.effective_from == parsed.effective_from))
    if exists is not None:
        raise Conflict("该生效日期已有收费标准版本；版本不可修改，请另选生效日期",
                       code="tariff_version_exists")
    row = TariffVersion(kind=kind, effective_from=parsed.effective_from, data=parsed.to_dict(),
                        created_by_id=actor.id)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("该生效日期已有收费标准版本", code="tariff_version_exists") from None
    audit.record(session, entity="tariff_versions", entity_id=row.id, action="published",
                 actor_id=actor.id, data={"kind": str(kind),
                                          "effective_from": parsed.effective_from.isoformat()})
    return row


def defaults_as_rows(kind: TariffKind | None) -> list[dict]:
    """The built-in defaults, listed beside stored versions (id None)."""
    return [{"id": None, "kind": str(k), "effective_from": DEFAULTS[k].effective_from,
             "data": DEFAULTS[k].to_dict(), "created_at": None, "created_by_id": None}
            for k in TariffKind if kind in (None, k)]


# --- preview -----------------------------------------------------------------------------

def preview(session, *, channel: str, facts: engine.ChargeableRun) -> engine.Charge:
    """What the engine charges for these facts, by the version in force at their start."""
    if channel == "rental":
        return engine.rental_quote(tariff_in_force(session, TariffKind.RENTAL, facts.started_at),
                                   facts)
    return engine.fleet_charge(tariff_in_force(session, TariffKind.FLEET, facts.started_at), facts)


# --- charges -----------------------------------------------------------------------------

def charge_of(session, trip_id: int) -> Charge | None:
    return session.scalar(select(Charge).where(Charge.trip_id == trip_id))


def _replace_lines(charge: Charge, lines) -> None:
    charge.lines = [ChargeLine(kind=line.kind, description=line.description[:200],
                               amount=line.amount) for line in lines]
    charge.total = sum((line.amount for line in charge.lines), Decimal("0"))


def _upsert(session, trip: Trip, **fields) -> Charge:
    """The trip's one charge, recomputed in place while it is not final."""
    charge = charge_of(session, trip.id)
    if charge is None:
        charge = Charge(trip_id=trip.id, unit_id=trip.unit_id)
        session.add(charge)
    elif charge.final:
        raise Conflict("该行程费用已确认，不能重新计算", code="charge_final")
    lines = fields.pop("lines")
    for key, value in fields.items():
        setattr(charge, key, value)
    charge.computed_at = clock.now()
    _replace_lines(charge, lines)
    session.flush()
    return charge


def fleet_facts(facts) -> engine.ChargeableRun:
    """The dispatch hook's facts as the engine's input."""
    return engine.ChargeableRun(
        vehicle_class=facts.vehicle_class, cross_region=facts.cross_region,
        started_at=facts.started_at, finished_at=facts.finished_at,
        odometer_km=Decimal(facts.odometer_km), waiting_minutes=int(facts.waiting_minutes or 0),
        tolls=Decimal(facts.tolls or 0), parking=Decimal(facts.parking or 0),
        lodging=Decimal(facts.lodging or 0))


def charge_fleet_trip(session, *, trip: Trip, facts) -> Charge:
    """Price a finished fleet trip by the paid-use tariff in force when it started (SPEC §5.1, §5.4)."""
    trip_facts = fleet_facts(facts)
    row = version_row_in_force(session, TariffKind.FLEET, trip_facts.started_at)
    tariff = as_engine(row) if row is not None else engine.DEFAULT_FLEET_TARIFF
    priced = engine.fleet_charge(tariff, trip_facts)
    reference = engine.market_reference(
        tariff_in_force(session, TariffKind.RENTAL, trip_facts.started_at), trip_facts)
    return _upsert(session, trip, channel=Channel.FLEET, supplier=FLEET_SUPPLIER,
                   order_id=f"FLEET-{trip.id}", lines=priced.lines, estimate=trip.estimate,
                   market_reference=reference, savings=engine.savings(reference, priced.total),
                   flags=[], held=False, tariff_version_id=row.id if row else None,
                   finished_at=trip_facts.finished_at)


def _bill_finished_at(trip: Trip, order) -> datetime:
    occurred = (order.extra or {}).get("occurred_at")
    if occurred:
        try:
            when = datetime.fromisoformat(str(occurred).replace("Z", "+00:00"))
            if when.tzinfo is not None:
                return when
        except ValueError:
            pass
    return clock.now()


def record_provider_bill(session, *, trip: Trip, bill, order) -> None:
    """Store a rental or ride-hailing company's final bill as the trip's charge.

    Ride-hailing (SPEC §5.3): the fee breakdown is the charge, the locked estimate beside it,
    flagged over_estimate above 120 %. Rental (SPEC §5.2): the bill is checked against our
    discounted agreement ceiling; above it the charge is flagged and held (disputed line).
    """
    channel = Channel(trip.channel) if trip.channel else Channel.RIDEHAIL
    finished_at = _bill_finished_at(trip, order)
    flags: set[str] = set()
    held = False
    ceiling = None
    estimate = trip.estimate
    total = bill.total
    if channel == Channel.RENTAL:
        started_at = min(trip.depart_at, finished_at)
        km_raw = (order.extra or {}).get("actual_km") or trip.est_distance_km or 0
        ceiling = engine.rental_ceiling(
            tariff_in_force(session, TariffKind.RENTAL, started_at),
            str(trip.vehicle_class or "sedan"), started_at, max(finished_at, started_at),
            Decimal(str(km_raw)))
        estimate = estimate if estimate is not None else ceiling
        if engine.over_ceiling(total, ceiling):
            flags.add(engine.FLAG_OVER_CEILING)
            held = True
    elif estimate is not None:
        flags |= engine.ridehail_flags(Decimal(estimate), total)
    reference = _partner_reference(channel, order)
    _upsert(session, trip, channel=channel, supplier=order.provider, order_id=order.order_id,
            lines=bill.lines, estimate=estimate, market_reference=reference,
            savings=None if reference is None else engine.savings(reference, total),
            flags=sorted(flags), held=held, tariff_version_id=None, finished_at=finished_at,
            ceiling=ceiling if channel == Channel.RENTAL else None)


def _partner_reference(channel: Channel, order) -> Decimal | None:
    """A partner city's bill carries its own market reference for the run (the rental
    ceiling without discount in that city: it runs this product); other bills none."""
    raw = (order.extra or {}).get("market_reference") if channel == Channel.PARTNER else None
    try:
        return Decimal(str(raw)) if raw is not None else None
    except ArithmeticError:
        return None


def record_cancellation_fee(session, *, trip: Trip, fee, at: datetime) -> Charge:
    """A provider's fee for a cancelled order is the trip's charge (SPEC §5.3): final at
    once (nothing for the passenger to confirm), settled in the month of the cancellation.

    A provider that decides its fee later (DiDi) sends it after the cancellation: the final
    cancellation charge is revised to the decided amount, audited, and its statement line
    follows (an open statement's line changes; a locked one gets an adjustment at the next
    generation)."""
    existing = charge_of(session, trip.id)
    if existing is not None and existing.final and FLAG_CANCELLATION_FEE in (existing.flags or []):
        return _revise_cancellation_fee(session, existing, fee, at)
    channel = Channel(trip.channel) if trip.channel else Channel.RIDEHAIL
    charge = _upsert(session, trip, channel=channel, supplier=fee.provider,
                     order_id=str(fee.extra.get("order_id") or f"T{trip.id}"),
                     lines=[FeeLine("cancellation_fee", "订单取消费", fee.amount)],
                     estimate=trip.estimate, market_reference=None, savings=None,
                     flags=[FLAG_CANCELLATION_FEE], held=False, tariff_version_id=None,
                     finished_at=at)
    charge.final, charge.finalized_at = True, at
    session.flush()
    return charge


def _revise_cancellation_fee(session, charge: Charge, fee, at: datetime) -> Charge:
    if charge.total == fee.amount:
        return charge
    before = charge.total
    _replace_lines(charge, [FeeLine("cancellation_fee", "订单取消费（供应商核定）", fee.amount)])
    charge.computed_at = at
    session.flush()
    audit.record(session, entity="charges", entity_id=charge.id, action="cancellation_fee_decided",
                 actor_id=None, at=at, data={"before": str(before), "after": str(fee.amount),
                                             "provider": fee.provider})
    events.publish(session, CHARGE_CHANGED, charge=charge, actor_id=None)
    return charge


RELEASE_DECISIONS = ("accept", "cap")


def release_held(session, *, actor: User, trip: Trip, decision: str, reason: str) -> Charge:
    """Platform finance decides a rental bill held over the agreement ceiling (SPEC §5.2):
    ``accept`` pays it as billed, ``cap`` pays the ceiling (a negative line takes off the
    excess). Its settlement line follows: updated while its statement is open, otherwise
    the difference becomes an adjustment line in the next period (settlements.generate)."""
    charge = charge_of(session, trip.id)
    if charge is None or not charge.held:
        raise Conflict("该行程没有待处理的超限费用", code="not_held")
    if not charge.final:
        raise Conflict("费用尚待乘车人确认，确认后再处理", code="charge_not_final")
    before = charge.total
    if decision == "cap":
        excess = charge.total - charge.ceiling
        charge.lines.append(ChargeLine(kind="ceiling_cap", amount=-excess,
                                       description=f"超出协议上限 {charge.ceiling} 元部分不予结算"))
        charge.total = charge.ceiling
    charge.held = False
    session.flush()
    audit.record(session, entity="charges", entity_id=charge.id, action=f"held:{decision}",
                 actor_id=actor.id, data={"trip_id": trip.id, "reason": reason,
                                          "before": str(before), "after": str(charge.total)})
    trip.note(session, f"billing:held_{decision}", actor_id=actor.id, comment=reason,
              data={"before": str(before), "after": str(charge.total)})
    events.publish(session, CHARGE_CHANGED, charge=charge, actor_id=actor.id)
    return charge


def finalize(session, *, trip: Trip, auto: bool) -> Charge | None:
    """The passenger confirmed (or the 72 h passed): the charge becomes final."""
    charge = charge_of(session, trip.id)
    if charge is None or charge.final:
        return charge
    charge.final = True
    charge.auto_confirmed = auto
    charge.finalized_at = clock.now()
    if auto and FLAG_AUTO_CONFIRMED not in charge.flags:
        charge.flags = [*charge.flags, FLAG_AUTO_CONFIRMED]
    session.flush()
    return charge


# --- fleet quote pricing -----------------------------------------------------------------

def paid_use_price(vehicle_class: str, request: QuoteRequest) -> tuple[FeeLine, ...]:
    """The fleet quote's price: the engine's paid-use charge on the estimated facts, by the
    tariff version in force at departure (tolls and parking are not known yet).

    Reads in its own short session, because the quote fan-out runs it on a worker thread.
    """
    with db.session.session_factory() as session:
        return _fleet_lines(session, vehicle_class, request.cross_region, request.depart_at,
                            request.return_at, request.est_km)


def fleet_estimate(session, trip: Trip) -> Decimal:
    """What ``trip`` run by the fleet is estimated to cost: the fleet quote's price on the
    trip's facts as they stand (e.g. a provider trip moved to the fleet)."""
    lines = _fleet_lines(session, trip.vehicle_class.value, trip.cross_region, trip.depart_at,
                         trip.return_at, trip.est_distance_km)
    return sum((line.amount for line in lines), Decimal("0.00"))


def _fleet_lines(session, vehicle_class: str, cross_region: bool, depart_at: datetime,
                 return_at: datetime, est_km) -> tuple[FeeLine, ...]:
    facts = engine.ChargeableRun(vehicle_class, cross_region, depart_at,
                                 max(return_at, depart_at), Decimal(est_km or 0))
    tariff = tariff_in_force(session, TariffKind.FLEET, depart_at)
    return tuple(engine.fleet_charge(tariff, facts).lines)
