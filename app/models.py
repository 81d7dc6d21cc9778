"""Every domain's tables and blueprints in one place (Alembic and the factory import this)."""
from app import audit, idempotency  # noqa: F401
from app.accounts import models as accounts_models  # noqa: F401
from app.approvals import jobs as approvals_jobs  # noqa: F401  (registers worker jobs)
from app.approvals import models as approvals_models  # noqa: F401
from app.auth import wechat  # noqa: F401
from app.billing import handlers as billing_handlers  # noqa: F401  (registers lifecycle hooks)
from app.billing import models as billing_models  # noqa: F401
from app.dispatch import jobs as dispatch_jobs  # noqa: F401  (registers worker jobs)
from app.dispatch import models as dispatch_models  # noqa: F401
from app.notifications import jobs as notifications_jobs  # noqa: F401
from app.notifications import models as notifications_models  # noqa: F401
from app.orders import jobs as orders_jobs  # noqa: F401  (registers worker jobs, hooks)
from app.orders import models as orders_models  # noqa: F401
from app.settlements import models as settlements_models  # noqa: F401
from app.trips import models as trips_models  # noqa: F401
from app.quotes import models as quotes_models  # noqa: F401
from app.db import Base

metadata = Base.metadata


def blueprints():
    from app.accounts.views import blp as admin
    from app.approvals import views as approvals
    from app.auth.views import blp as auth
    from app.billing import views as billing
    from app.dispatch import views as dispatch
    from app.orders import views as orders
    from app.settlements import views as settlements
    from app.trips.views import blp as trips
    from app.quotes.views import blp as quotes

    return [auth, admin, trips, quotes, approvals.trip_blp, approvals.blp,
            approvals.delegation_blp, approvals.admin_blp, dispatch.blp, dispatch.trip_blp,
            dispatch.driver_blp, settlements.blp, settlements.reconciliation_blp, billing.blp,
            billing.trip_blp, billing.admin_blp, orders.blp, orders.trip_blp]
