"""Charges: the paid-use tariff, provider bills, over-ceiling decisions."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.billing import handlers, views  # noqa: F401  (handlers: see app/billing/handlers.py)

    register_blueprints(app, views.blp, views.trip_blp, views.admin_blp)
