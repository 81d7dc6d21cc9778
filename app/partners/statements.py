"""Inter-platform settlement (SPEC §5.5, §7): a partner's monthly statement in each
direction, read from the settlement machinery's statements of the period.

- Outbound (we owe the partner): the statements whose supplier is the partner's provider
  (``partner-<code>``), one per paying unit of ours.
- Inbound (the partner owes us): the statements whose paying unit is the partner's
  stand-in unit.

Each direction lists its lines by the *serving* platform's order id (the partner's
``PO…`` id outbound, ours inbound), so the two platforms' views of one month compare line
by line; ``reconcile`` checks a partner's CSV of its side against ours. Confirm, dispute,
close and export stay the settlements API's (``/settlements/{id}/…``).
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import select

from app.money import CENT
from app.partners.models import Partner, PartnerOrder
from app.settlements.models import Settlement, SettlementLine
from app.settlements.reconcile import Reconciliation, parse_supplier_statement, reconcile
from app.settlements.service import period_bounds

DIRECTIONS = ("outbound", "inbound")


def _lines(session, statement_ids: list[int], inbound: bool) -> list[dict]:
    if not statement_ids:
        return []
    stmt = (select(SettlementLine.order_id, SettlementLine.trip_id, SettlementLine.amount,
                   SettlementLine.kind, SettlementLine.finished_at, PartnerOrder.id)
            .outerjoin(PartnerOrder, PartnerOrder.trip_id == SettlementLine.trip_id)
            .where(SettlementLine.settlement_id.in_(statement_ids))
            .order_by(SettlementLine.finished_at, SettlementLine.id))
    out = []
    for order_id, trip_id, amount, kind, finished_at, partner_order_id in session.execute(stmt):
        if inbound and partner_order_id is not None:
            order_id = f"PO{partner_order_id:06d}"
        out.append({"order_id": order_id, "trip_id": trip_id, "kind": kind,
                    "amount": Decimal(amount).quantize(CENT), "finished_at": finished_at})
    return out


def direction(session, partner: Partner, period: str, which: str) -> dict:
    period_bounds(period)  # validates the period
    stmt = select(Settlement).where(Settlement.period == period)
    if which == "outbound":
        stmt = stmt.where(Settlement.supplier == partner.provider_name)
    else:
        stmt = stmt.where(Settlement.unit_id == partner.unit_id)
    statements = list(session.scalars(stmt.order_by(Settlement.unit_id, Settlement.supplier)))
    lines = _lines(session, [s.id for s in statements], which == "inbound")
    return {"direction": which, "statements": statements, "lines": lines,
            "total": sum((line["amount"] for line in lines), Decimal("0.00")),
            "generated": bool(statements)}


def statement(session, partner: Partner, period: str) -> dict:
    """Both directions of ``period`` for ``partner``."""
    return {"partner_id": partner.id, "period": period,
            "outbound": direction(session, partner, period, "outbound"),
            "inbound": direction(session, partner, period, "inbound")}


def as_csv(data: dict) -> bytes:
    """One direction's lines as CSV (UTF-8 with BOM) in the columns reconciliation reads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["订单号", "金额", "日期", "说明"])
    for line in data["lines"]:
        writer.writerow([line["order_id"], f"{line['amount']:.2f}",
                         line["finished_at"].date().isoformat() if line["finished_at"] else "",
                         "调整" if line["kind"] == "adjustment" else "行程费用"])
    return ("\ufeff" + buffer.getvalue()).encode()


def check(session, partner: Partner, period: str, which: str, data: bytes) -> Reconciliation:
    """Reconcile the partner's CSV of the opposite direction against our ``which`` side."""
    theirs = parse_supplier_statement(data)
    ours = direction(session, partner, period, which)["lines"]
    return reconcile(ours, theirs)
