"""Shared benchmark plumbing: a migrated temporary database, the app on a loopback server."""
from __future__ import annotations

import statistics
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB.

    Not ``ru_maxrss``: on Linux that survives ``exec`` and so reports the parent's size at
    fork time when the parent was bigger, which made every child look alike."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    """A fresh migrated + seeded SQLite database and the app pointed at the given sandboxes.

    The demo's last-month history is left out: benchmarks generate their own rows."""
    from app import create_app, db, seed
    from app.migrate import upgrade
    from providers.sandbox import runner

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(url)
        own = sandboxes is None
        sandboxes = runner.start_all(0) if own else sandboxes
        app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True,
                          **runner.settings_for(sandboxes),
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
