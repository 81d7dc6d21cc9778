"""Quotes: the fan-out to every supply provider, policy and ranking."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.quotes import views

    register_blueprints(app, views.blp)
