"""Every domain's tables and blueprints in one place (Alembic and the factory import this)."""
from app import audit, idempotency  # noqa: F401
from app.accounts import models as accounts_models  # noqa: F401
from app.auth import wechat  # noqa: F401
from app.dispatch import jobs as dispatch_jobs  # noqa: F401  (registers worker jobs)
from app.dispatch import models as dispatch_models  # noqa: F401
from app.trips import models as trips_models  # noqa: F401
from app.db import Base

metadata = Base.metadata


def blueprints():
    from app.accounts.views import blp as admin
    from app.auth.views import blp as auth
    from app.dispatch import views as dispatch
    from app.trips.views import blp as trips

    return [auth, admin, trips, dispatch.blp, dispatch.trip_blp, dispatch.driver_blp]
