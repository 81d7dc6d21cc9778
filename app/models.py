"""Every domain's tables in one metadata: Alembic, the tests and ``create_app`` import this
so that every mapped class is known before the mappers are first configured. It imports
model modules only — no views, jobs or handlers."""
from app import audit, idempotency  # noqa: F401  (audit_log, idempotency_keys)
from app.accounts import models as accounts_models  # noqa: F401
from app.approvals import models as approvals_models  # noqa: F401
from app.auth import wechat  # noqa: F401  (wechat_tokens)
from app.billing import models as billing_models  # noqa: F401
from sqlalchemy.orm import configure_mappers

from app.db import Base
from app.dispatch import models as dispatch_models  # noqa: F401
from app.notifications import models as notifications_models  # noqa: F401
from app.orders import models as orders_models  # noqa: F401
from app.partners import models as partners_models  # noqa: F401
from app.quotes import models as quotes_models  # noqa: F401
from app.settlements import models as settlements_models  # noqa: F401
from app.supervision import models as supervision_models  # noqa: F401
from app.trips import models as trips_models  # noqa: F401

metadata = Base.metadata


def configure() -> None:
    """Configure every mapper now, so a broken relationship fails at start-up rather than
    at the first query."""
    configure_mappers()
