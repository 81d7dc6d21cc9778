"""The trip and its lifecycle."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.trips import views

    register_blueprints(app, views.blp)
