"""Charges: the paid-use tariff, provider bills, over-ceiling decisions."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.billing import handlers, views
    from app.trips import events

    register_blueprints(app, views.blp, views.trip_blp, views.admin_blp)
    events.subscribe(app, events.TRIP_FINISHED, handlers.price_finished_trip)
    events.subscribe(app, events.TRIP_CONFIRMED, handlers.finalize_charge)
    events.subscribe(app, events.PROVIDER_BILL, handlers.record_provider_bill)
    events.subscribe(app, events.CANCELLATION_FEE, handlers.record_cancellation_fee)
