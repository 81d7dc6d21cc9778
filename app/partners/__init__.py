"""Partner cities (一体化, SPEC §7): the signed platform-to-platform API (inbound), the
partner platforms as supply providers (outbound), their callbacks and monthly statements."""


def init_app(app) -> None:
    from app import supply
    from app.api import register_blueprints
    from app.jobs import register as register_job
    from app.partners import admin, inbound, outbox, views
    from app.trips import events

    from app.api import API_EXTENSION

    app.extensions[API_EXTENSION].spec.components.security_scheme(
        views.SECURITY_SCHEME, views.PARTNER_SIGNATURE)
    register_blueprints(app, views.api_blp, views.admin_blp)
    supply.add_source(app, admin.providers)
    # After billing's handlers (create_app initialises billing first): a finished partner
    # trip is priced before its bill is sent.
    events.subscribe(app, events.TRIP_DISPATCHED, inbound.on_dispatched)
    events.subscribe(app, events.TRIP_REASSIGNED, inbound.on_reassigned)
    events.subscribe(app, events.TRIP_STARTED, inbound.on_started)
    events.subscribe(app, events.TRIP_FINISHED, inbound.on_finished)
    events.subscribe(app, events.TRIP_CANCELLED, inbound.on_cancelled)
    register_job(app, "partners.send_callbacks", outbox.send_callbacks, every=2)
