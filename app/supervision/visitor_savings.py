"""Visitors' savings against the local rental market (SPEC §7's report, §5.4's measure).

A partner city's traveller who books our fleet through the partner API rides a fleet trip
of the unit that stands for the partner; billing prices it by our paid-use tariff and sets
its market reference (the rental ceiling without discount) like any fleet trip's. Per
partner and month (Asia/Shanghai, by finish time) of the final charges of those trips:
trips, km driven, Σ market reference, Σ charged, savings and the savings rate; totals
from the same rows. The caller sees the partners whose stand-in unit is in its scope.

The outbound direction (our travellers in a partner city) is not reported: the partner's
bill is the only figure we hold, and the local rental market there is the partner's — our
rental agreement prices Changzhou's market, not Fuzhou's, so it is no reference for it.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.accounts.models import User
from app.billing.models import Charge
from app.dispatch.models import TripRun
from app.errors import NotFound
from app.partners.models import Partner, PartnerOrder
from app.supervision.reports import KM, ZERO, Window, _local_month, _share, _visible_units
from app.trips.models import Channel


def visitor_savings(session, *, user: User, window: Window, unit_id: int | None = None,
                    partner_id: int | None = None) -> dict:
    """Per partner and month: inbound partner trips' Σ market reference − Σ charge."""
    units = _visible_units(session, user, unit_id)
    partners = {p.id: p for p in session.scalars(
        select(Partner).where(Partner.unit_id.in_(units)).order_by(Partner.id))}
    if partner_id is not None:
        if partner_id not in partners:
            raise NotFound("合作城市不存在")
        partners = {partner_id: partners[partner_id]}
    month = _local_month(session, Charge.finished_at)
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
    items = []
    for pid, m, n, km, ref, charged in rows:
        partner = partners[pid]
        ref, charged = Decimal(ref), Decimal(charged)
        items.append({"partner_id": pid, "partner_code": partner.code,
                      "partner_name": partner.name, "city": partner.city,
                      "unit_id": partner.unit_id, "month": m, "trips": n,
                      "km": Decimal(km or 0).quantize(KM), "market_reference": ref,
                      "charged": charged, "savings": ref - charged,
                      "savings_rate": _share(ref - charged, ref)})
    ref = sum((i["market_reference"] for i in items), ZERO)
    charged = sum((i["charged"] for i in items), ZERO)
    return {"from": window.first, "to": window.last, "items": items,
            "totals": {"trips": sum(i["trips"] for i in items),
                       "km": sum((i["km"] for i in items), ZERO),
                       "market_reference": ref, "charged": charged, "savings": ref - charged,
                       "savings_rate": _share(ref - charged, ref)}}
