"""Orders placed with rental and ride-hailing providers, and their signed callbacks."""


def init_app(app) -> None:
    from app.jobs import register as register_job
    from app.api import register_blueprints
    from app.orders import cancellation, jobs, views
    from app.orders import booking
    from app.trips import events
    from app.trips import service as trip_service

    register_blueprints(app, views.blp, views.trip_blp)
    events.subscribe(app, events.TRIP_CANCELLED, cancellation.cancel_provider_order)
    trip_service.provide_plate_filter(app, booking.trips_with_plate)
    register_job(app, "orders.book", jobs.book, every=5)
    register_job(app, "orders.cancel_unwanted", jobs.cancel_unwanted, every=30)
    register_job(app, "orders.reconcile", jobs.reconcile, every=60)
    register_job(app, "orders.purge_nonces", jobs.purge_nonces, every=3600)
    register_job(app, "orders.expire_price_changes", jobs.expire_price_changes, every=60)
