"""Monthly settlement statements, exports and supplier reconciliation."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.settlements import views

    register_blueprints(app, views.blp, views.reconciliation_blp)
