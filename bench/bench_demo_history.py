"""Seeding the demo with last month's history, as ``make run`` does on a fresh database.

Figure: seconds for ``demo_history.seed_demo_with_history`` into a fresh migrated SQLite database at each "now"
the demo-history tests use (an ordinary day, just after midnight on the 1st, across the year
end), best of N runs each, and the slowest of them ÷ the 2 s target. Printed, not asserted:
the tests check what the seed writes, this measures how long it takes.

Run: ``python -m bench bench_demo_history`` (or ``python -m bench.bench_demo_history [N]``,
default N = 3).
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # python bench/bench_demo_history.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import clock  # noqa: E402

TARGET_SECONDS = 2.0
NOWS = {"ordinary day": datetime(2026, 11, 25, 17, 48, tzinfo=clock.SHANGHAI),
        "first of March": datetime(2026, 3, 1, 0, 5, tzinfo=clock.SHANGHAI),
        "year end": datetime(2027, 1, 14, 9, 0, tzinfo=clock.SHANGHAI)}


def seed_seconds(now: datetime) -> float:
    """Seconds the seed with history takes at ``now`` on a fresh migrated database."""
    from app import create_app, db, demo_history
    from app.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.sqlite'}"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True})
        clock.set_now(now)
        try:
            with app.app_context():
                started = time.perf_counter()
                demo_history.seed_demo_with_history(db.session, now=now)
                seconds = time.perf_counter() - started
                db.session.commit()
                db.session.remove()
                db.session.get_bind().dispose()
        finally:
            clock.set_now(None)
    return seconds


def main(argv: list[str] | None = None) -> None:
    n = int((argv or sys.argv[1:] or ["3"])[0])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    best = {label: min(seed_seconds(now) for _ in range(n)) for label, now in NOWS.items()}
    print(f"demo seed with last month's history, fresh SQLite database, best of {n}")
    for label, seconds in best.items():
        print(f"  {label:<15} {seconds * 1000:7.0f} ms")
    slowest = max(best.values())
    print(f"ratio slowest/target   {slowest / TARGET_SECONDS:6.3f}   "
          f"(target <= 1.0, i.e. {TARGET_SECONDS:.0f} s)")


if __name__ == "__main__":
    main()
