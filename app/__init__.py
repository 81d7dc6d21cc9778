"""Official travel booking backend: the Flask app factory."""
from __future__ import annotations

import logging

from flask import Flask

from app.config import Config


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app: config → db → API blueprints → error handlers → CLI."""
    cfg = config if isinstance(config, Config) else Config.from_mapping(config)
    app = Flask(__name__)
    app.config.update(cfg.as_flask())
    app.config.update(
        API_TITLE="Official travel booking API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=8 * 1024 * 1024)
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from app import db, models, web  # noqa: F401  (models registers every table)
    from flask_smorest import Api
    from app.errors import register_error_handlers

    db.configure(app.config["DATABASE_URL"])
    api = Api(app)
    for blp in models.blueprints():
        api.register_blueprint(blp)
    register_error_handlers(app)
    web.init_app(app)

    from app import cli
    cli.init_app(app)
    return app
