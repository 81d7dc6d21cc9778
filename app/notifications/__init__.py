"""The durable outbox of WeChat subscription messages."""


def init_app(app) -> None:
    from app.jobs import register as register_job
    from app.notifications import jobs

    register_job(app, "notifications.send", jobs.send_due, every=5)
