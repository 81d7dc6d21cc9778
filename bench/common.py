"""Shared benchmark plumbing: a migrated temporary database, the app on a loopback server."""
from __future__ import annotations

import statistics
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server


@contextmanager
def serve(wsgi_app):
    """Serve a WSGI app on a threaded loopback server; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def demo_app(extra_config: dict | None = None, sandboxes: dict | None = None):
    """A fresh migrated + seeded SQLite database and the app pointed at the given sandboxes."""
    from app import create_app, db, seed
    from app.migrate import upgrade
    from providers.sandbox import runner

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(url)
        own = sandboxes is None
        sandboxes = runner.start_all(0) if own else sandboxes
        app = create_app({"DATABASE_URL": url, **runner.settings_for(sandboxes),
                          **(extra_config or {})})
        with app.app_context():
            seed.seed_demo(db.session)
            db.session.commit()
            db.session.remove()
        try:
            yield app, sandboxes
        finally:
            if own:
                for server in sandboxes.values():
                    server.stop()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)
