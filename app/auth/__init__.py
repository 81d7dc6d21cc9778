"""Sign-in: WeChat login and phone binding, JWTs."""


def init_app(app) -> None:
    from app.api import register_blueprints
    from app.auth import views

    register_blueprints(app, views.blp)
