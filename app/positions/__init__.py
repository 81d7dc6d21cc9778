"""Vehicle positions (全市一张网): ingest from the gateway and phones, storage partitioned by
month, the live map, tracks, and the position rules' detection."""


def init_app(app) -> None:
    from app import violations
    from app.api import register_blueprints
    from app.jobs import register as register_job
    from app.positions import detection, finders, gateway, jobs, views

    views.init_security(app)
    register_blueprints(app, views.telemetry_blp, views.vehicles_blp, views.trips_blp,
                        views.admin_blp)
    register_job(app, "positions.partitions", jobs.partitions, every=3600)
    for spec in finders.rule_specs():
        violations.register_rule(app, spec)
    register_job(app, "positions.detect", detection.detect, every=300)
    gateway.install(app)
