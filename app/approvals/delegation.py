"""Delegation (代理审批): an approver names a delegate who sees and acts on their tasks."""
from __future__ import annotations

from sqlalchemy import or_

from app import audit, clock
from app.accounts.models import User
from app.approvals.models import Delegation
from app.errors import Forbidden, NotFound, ValidationFailed
from app.security import in_scope


def create_delegation(session, *, actor: User, data: dict) -> Delegation:
    """Name a delegate (代理人) for a time range; they see and act on the actor's tasks."""
    delegate = session.get(User, data["delegate_id"])
    if delegate is None or not delegate.active or not in_scope(actor, delegate.unit):
        raise ValidationFailed("代理人不存在、已停用或不在您的管理范围内", code="invalid_delegate",
                               errors={"delegate_id": ["代理人无效"]})
    if delegate.id == actor.id:
        raise ValidationFailed("不能委托给自己", code="invalid_delegate",
                               errors={"delegate_id": ["不能是本人"]})
    if data["ends_at"] <= data["starts_at"]:
        raise ValidationFailed("结束时间须晚于开始时间", errors={"ends_at": ["须晚于开始时间"]})
    if data["ends_at"] <= clock.now():
        raise ValidationFailed("结束时间须晚于当前时间", errors={"ends_at": ["须为将来时间"]})
    row = Delegation(delegator_id=actor.id, delegate_id=delegate.id,
                     starts_at=data["starts_at"], ends_at=data["ends_at"])
    session.add(row)
    session.flush()
    audit.record(session, entity="approval_delegations", entity_id=row.id, action="created",
                 actor_id=actor.id, data={"delegate_id": delegate.id,
                                          "starts_at": row.starts_at.isoformat(),
                                          "ends_at": row.ends_at.isoformat()})
    return row


def revoke_delegation(session, *, actor: User, delegation_id: int) -> Delegation:
    row = session.get(Delegation, delegation_id)
    if row is None or actor.id not in (row.delegator_id, row.delegate_id):
        raise NotFound("委托不存在")
    if row.delegator_id != actor.id:
        raise Forbidden("只有委托人可以撤销委托")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record(session, entity="approval_delegations", entity_id=row.id, action="revoked",
                     actor_id=actor.id)
    return row


def delegations_filter(user: User):
    return or_(Delegation.delegator_id == user.id, Delegation.delegate_id == user.id)
