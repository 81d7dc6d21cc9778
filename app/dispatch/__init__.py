"""Dispatch of the pooled fleet: assignments, driver runs, passenger confirmation."""


def init_app(app) -> None:
    from app.jobs import register as register_job
    from app.api import register_blueprints
    from app.dispatch import assignment, jobs, views
    from app.trips import events, lifecycle
    from app.trips import service as trip_service

    register_blueprints(app, views.blp, views.trip_blp, views.driver_blp)
    events.subscribe(app, events.TRIP_CANCELLED, assignment.release_on_cancel)
    lifecycle.provide(app, assignment.action_context)
    trip_service.provide_plate_filter(app, assignment.trips_with_plate)
    register_job(app, "dispatch.auto_confirm", jobs.auto_confirm, every=600)
