"""Monthly settlement statements, exports and supplier reconciliation."""


def init_app(app) -> None:
    from app import events
    from app.api import register_blueprints
    from app.billing.service import CHARGE_CHANGED
    from app.settlements import service, views

    register_blueprints(app, views.blp, views.reconciliation_blp)
    events.subscribe(app, CHARGE_CHANGED, service.resettle_charge)
