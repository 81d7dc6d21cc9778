"""Audit log: every state change of every object, with actor, time and data."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


def record(session, *, entity: str, entity_id: int, action: str, actor_id: int | None,
           data: dict[str, Any] | None = None, on_behalf_of_id: int | None = None,
           at: datetime | None = None) -> AuditEntry:
    """Add one audit row to the session's transaction (committed with the change it records)."""
    entry = AuditEntry(at=at or clock.now(), actor_id=actor_id, on_behalf_of_id=on_behalf_of_id,
                       entity=entity, entity_id=entity_id, action=action, data=data or {})
    session.add(entry)
    return entry
