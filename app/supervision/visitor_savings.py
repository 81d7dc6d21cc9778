"""Visitors' savings against the local rental market (SPEC §7's report, §5.4's measure).

``inbound`` (the default): a partner city's traveller who books our fleet through the
partner API rides a fleet trip of the unit that stands for the partner; billing prices it
by our paid-use tariff and sets its market reference (the rental ceiling without discount)
like any fleet trip's. Per partner and month (Asia/Shanghai, by finish time) of the final
charges of those trips: trips, km driven, Σ market reference, Σ charged, savings and the
savings rate; totals from the same rows. The caller sees the partners whose stand-in unit
is in its scope.

``outbound``: our travellers in a partner city. The partner runs this product, so its
final bill carries its own market reference for the run — the rental ceiling without
discount in *its* city, the local market there (our rental agreement prices our city,
not theirs). Per partner and month: our final partner-channel charges with that
reference, of the paying units in the caller's scope; no km (the bill's km stay with the
trip's history).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import User
from app.billing.models import Charge
from app.dispatch.models import TripRun
from app.errors import NotFound
from app.partners.models import Partner, PartnerOrder
from app.supervision.reports import (KM, ZERO, Window, _local_month, _visible_units,
                                     savings_figures, summed_savings)
from app.trips.models import Channel


DIRECTIONS = ("inbound", "outbound")


def visitor_savings(session, *, user: User, window: Window, unit_id: int | None = None,
                    partner_id: int | None = None, direction: str = "inbound") -> dict:
    """Per partner and month: Σ market reference − Σ charge, of the partner's travellers
    on our fleet (``inbound``) or of ours on the partner's (``outbound``)."""
    units = _visible_units(session, user, unit_id)
    stmt = select(Partner).order_by(Partner.id)
    if direction == "inbound":
        stmt = stmt.where(Partner.unit_id.in_(units))
    partners = {p.id: p for p in session.scalars(stmt)}
    if partner_id is not None:
        if partner_id not in partners:
            raise NotFound("合作城市不存在")
        partners = {partner_id: partners[partner_id]}
    month = _local_month(session, Charge.finished_at)
    if direction == "outbound":
        return _report(window, partners, _outbound(session, window, units, partners, month),
                       direction)
    rows = session.execute(
        select(PartnerOrder.partner_id, month, func.count(Charge.id), func.sum(TripRun.km),
               func.sum(Charge.market_reference), func.sum(Charge.total))
        .join(PartnerOrder, PartnerOrder.trip_id == Charge.trip_id)
        .outerjoin(TripRun, TripRun.trip_id == Charge.trip_id)
        .where(Charge.final, Charge.channel == Channel.FLEET,
               Charge.market_reference.is_not(None),
               Charge.finished_at >= window.start, Charge.finished_at < window.end,
               PartnerOrder.partner_id.in_(partners))
        .group_by(PartnerOrder.partner_id, month).order_by(PartnerOrder.partner_id, month))
    return _report(window, partners, rows, direction)


def _outbound(session, window: Window, units, partners: dict, month):
    by_provider = {p.provider_name: p.id for p in partners.values()}
    rows = session.execute(
        select(Charge.supplier, month, func.count(Charge.id), func.sum(Charge.market_reference),
               func.sum(Charge.total))
        .where(Charge.final, Charge.channel == Channel.PARTNER,
               Charge.market_reference.is_not(None),
               Charge.finished_at >= window.start, Charge.finished_at < window.end,
               Charge.unit_id.in_(units), Charge.supplier.in_(by_provider))
        .group_by(Charge.supplier, month))
    return sorted(((by_provider[supplier], m, n, None, ref, charged)
                   for supplier, m, n, ref, charged in rows), key=lambda r: (r[0], r[1]))


def _report(window: Window, partners: dict, rows, direction: str) -> dict:
    items = []
    for pid, m, n, km, ref, charged in rows:
        partner = partners[pid]
        ref, charged = Decimal(ref), Decimal(charged)
        items.append({"partner_id": pid, "partner_code": partner.code,
                      "partner_name": partner.name, "city": partner.city,
                      "unit_id": partner.unit_id if direction == "inbound" else None,
                      "month": m, "trips": n,
                      "km": None if direction == "outbound" else Decimal(km or 0).quantize(KM),
                      **savings_figures(ref, charged)})
    return {"from": window.first, "to": window.last, "direction": direction, "items": items,
            "totals": {"trips": sum(i["trips"] for i in items),
                       "km": None if direction == "outbound"
                       else sum((i["km"] for i in items), ZERO),
                       **summed_savings(items)}}
