"""Units, users, vehicles and drivers, and their administration."""


def init_app(app) -> None:
    from app.accounts import views
    from app.api import register_blueprints

    register_blueprints(app, views.blp)
