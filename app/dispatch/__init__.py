"""Dispatch of the pooled fleet: assignments, driver runs, passenger confirmation."""


def init_app(app) -> None:
    from app.jobs import register as register_job
    from app.api import register_blueprints
    from app.dispatch import jobs, views

    register_blueprints(app, views.blp, views.trip_blp, views.driver_blp)
    register_job(app, "dispatch.auto_confirm", jobs.auto_confirm, every=600)
