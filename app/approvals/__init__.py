"""Approval workflows, delegation, approval policy and the official calendar."""


def init_app(app) -> None:
    from app.jobs import register as register_job
    from app.api import register_blueprints
    from app.approvals import jobs, views, workflow
    from app.trips import events

    register_blueprints(app, views.trip_blp, views.blp, views.delegation_blp, views.admin_blp)
    events.subscribe(app, events.TRIP_CANCELLED, workflow.close_on_cancel)
    register_job(app, "approvals.remind", jobs.remind, every=60)
    register_job(app, "approvals.escalate", jobs.escalate, every=60)
    register_job(app, "approvals.expire", jobs.expire, every=60)
    register_job(app, "approvals.flag_emergency", jobs.flag_emergencies, every=60)
