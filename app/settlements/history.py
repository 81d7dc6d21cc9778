"""Kept history of reconciliation uploads (对账记录): who uploaded which supplier statement
for which period, when, and what the comparison found."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app import audit, clock
from app.db import Base
from app.settlements.reconcile import Reconciliation


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)
    matched: Mapped[int] = mapped_column(default=0)
    problems: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict] = mapped_column(JSON, default=dict)


def _amounts(items) -> list[dict]:
    return [{"order_id": i.order_id, "amount": str(i.amount)} for i in items]


def keep(session, *, actor, supplier: str, period: str, filename: str, data: bytes,
         outcome: Reconciliation) -> ReconciliationRun:
    result = {"matched": outcome.matched,
              "missing_on_our_side": _amounts(outcome.missing_on_our_side),
              "missing_on_theirs": _amounts(outcome.missing_on_theirs),
              "amount_mismatches": [{"order_id": m.order_id, "ours": str(m.ours),
                                     "theirs": str(m.theirs), "difference": str(m.difference)}
                                    for m in outcome.amount_mismatches]}
    run = ReconciliationRun(supplier=supplier, period=period, filename=filename[:255],
                            sha256=hashlib.sha256(data).hexdigest(), uploaded_by_id=actor.id,
                            matched=outcome.matched,
                            problems=(len(outcome.missing_on_our_side)
                                      + len(outcome.missing_on_theirs)
                                      + len(outcome.amount_mismatches)),
                            result=result)
    session.add(run)
    session.flush()
    audit.record(session, entity="reconciliation_runs", entity_id=run.id, action="uploaded",
                 actor_id=actor.id, data={"supplier": supplier, "period": period,
                                          "problems": run.problems})
    return run
