"""The API as production runs it: ``gunicorn wsgi:app`` (and ``flask --app wsgi``).

Settings come from the environment; without real secrets (``OTB_JWT_SECRET``,
``OTB_WECHAT_SECRET``, each provider's) it logs why and refuses to start, unless
``OTB_SANDBOX_MODE=1`` says it runs against the sandboxes (app/config.py).
"""
from app import create_app

app = create_app()
