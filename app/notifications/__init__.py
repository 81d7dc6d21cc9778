"""Notifications: the message centre, WeChat subscription grants and the durable outbox.

``service.notify`` is what other domains call; the trip events are subscribed here."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.jobs import register as register_job
    from app.notifications import handlers, jobs, views
    from app.trips import events

    register_blueprints(app, views.blp)
    register_job(app, "notifications.send", jobs.send_due, every=5)
    for name, handler in ((events.TRIP_APPROVED, handlers.on_approved),
                          (events.TRIP_REJECTED, handlers.on_rejected),
                          (events.TRIP_EXPIRED, handlers.on_expired),
                          (events.TRIP_CANCELLED, handlers.on_cancelled),
                          (events.TRIP_DISPATCHED, handlers.on_dispatched),
                          (events.TRIP_REASSIGNED, handlers.on_reassigned),
                          (events.TRIP_CREW_KNOWN, handlers.on_crew_known),
                          (events.TRIP_FINISHED, handlers.on_finished)):
        events.subscribe(app, name, handler)
