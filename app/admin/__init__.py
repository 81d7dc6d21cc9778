"""Administration of the ground data: units, users, vehicles and drivers (``/admin/...``),
each within the admin's own unit subtree."""


def init_app(app) -> None:
    from app.admin import views
    from app.api import register_blueprints

    register_blueprints(app, views.blp)
