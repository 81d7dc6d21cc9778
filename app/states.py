"""One shape for every stateful model: a transitions table, a guard and an audited move.

A model mixes in ``StateMachine`` and declares, next to its ``state`` column:

- ``TRANSITIONS``: each state and the states it may move to (a state not listed is final);
- ``STATE_LABELS``: the states' Chinese names, for the refusal people read;
- ``NOUN``: what the object is called in that refusal (e.g. "结算单").

``transition`` refuses an illegal move with ``IllegalTransition`` (HTTP 409), otherwise
writes the history and an audit entry (``state:<to>`` on the model's table, with the state
it came from) and sets the state. The audit log is the history unless the model keeps a
table of its own: then it overrides ``record_history`` to add its row, which
``transition`` returns.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from datetime import datetime
from typing import Any, ClassVar

from app import audit, clock
from app.errors import IllegalTransition


class StateMachine:
    TRANSITIONS: ClassVar[Mapping[enum.StrEnum, Set[enum.StrEnum]]]
    STATE_LABELS: ClassVar[Mapping[enum.StrEnum, str]]
    NOUN: ClassVar[str]

    def can_transition(self, to: enum.StrEnum) -> bool:
        return to in self.TRANSITIONS.get(self.state, ())

    def transition(self, session, to: enum.StrEnum, *, actor_id: int | None, comment: str = "",
                   on_behalf_of_id: int | None = None, at: datetime | None = None,
                   data: dict[str, Any] | None = None):
        """Move to ``to`` or raise IllegalTransition; records history and the audit log."""
        if not self.can_transition(to):
            raise IllegalTransition(
                f"{self.NOUN}当前状态为“{self.STATE_LABELS[self.state]}”，"
                f"不能变为“{self.STATE_LABELS[to]}”",
                errors={"state": self.state.value, "to": to.value})
        at = at or clock.now()
        history = self.record_history(session, self.state, to, at=at, actor_id=actor_id,
                                      on_behalf_of_id=on_behalf_of_id, comment=comment,
                                      data=data or {})
        audit.record(session, entity=self.__tablename__, entity_id=self.id,
                     action=f"state:{to.value}", actor_id=actor_id,
                     on_behalf_of_id=on_behalf_of_id, at=at,
                     data={"from": self.state.value, "comment": comment, **(data or {})})
        self.state = to
        return history

    def record_history(self, session, from_state: enum.StrEnum, to_state: enum.StrEnum, *,
                       at: datetime, actor_id: int | None, on_behalf_of_id: int | None,
                       comment: str, data: dict[str, Any]):
        """Add the model's own history row, if it keeps one, and return it."""
        return None
