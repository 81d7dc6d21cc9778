"""Supervision (常态化监管): violation rules as data, detection on lifecycle events and in a
daily sweep, the case workflow, and the reports of SPEC §6.2."""

SWEEP_EVERY_SECONDS = 24 * 3600


def init_app(app) -> None:
    from app import violations
    from app.api import register_blueprints
    from app.events import subscribe
    from app.jobs import register as register_job
    from app.supervision import finders, report_views, service, views
    from app.trips import events

    register_blueprints(app, views.blp, views.admin_blp, report_views.blp, report_views.recall_blp)
    for spec in finders.builtin_rules():
        violations.register_rule(app, spec)
    violations.register_group(app, finders.RUNS, finders.find_run_rules)
    subscribe(app, violations.VIOLATION_CHECK, service.on_check)
    for name in (events.TRIP_FINISHED, events.TRIP_CONFIRMED, events.PROVIDER_BILL):
        events.subscribe(app, name, service.check_trip)
    register_job(app, "supervision.sweep", service.sweep_job, every=SWEEP_EVERY_SECONDS)
