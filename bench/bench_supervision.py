"""Benchmark supervision at scale (issue 15): the daily sweep over 1,000,000 finished fleet
trips, and the utilisation and spend reports over a year of 100,000 trips.

The data is bulk-built (executemany) on a fresh SQLite database: trips spread over ten
years (so each year holds a tenth of them), each with its assignment, its finished run
(about 1 % break a rule: odometer gaps, overruns, late returns, night runs) and a final
charge. Then, each in its own subprocess (so VmHWM is that run's alone): the sweep
(``supervision.service.sweep``), a second sweep (idempotent: nothing new), the utilisation
report and the spend report for the last year. Targets: sweep ≤ 60 s, each report ≤ 2 s,
peak < 300 MB.

Usage: .venv/bin/python -m bench bench_supervision  (SUPERVISION_BENCH_TRIPS=100000 for a
quick run, the default is 1,000,000; SUPERVISION_BENCH_YEARS=1 puts them all in one year)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_mb  # noqa: E402

TARGET_SWEEP_S = 60
TARGET_REPORT_S = 2
TARGET_PEAK_MB = 300
YEARS = int(os.environ.get("SUPERVISION_BENCH_YEARS", "10"))
BATCH = 20_000
SH = timezone(timedelta(hours=8))


def build(url: str, trips: int) -> int:
    """Seed the demo and bulk-insert ``trips`` finished fleet trips; returns the last year."""
    from chinese_calendar import is_workday
    from sqlalchemy import insert, select

    from app import create_app, db, seed
    from app.accounts.models import Driver, Unit, User, Vehicle
    from app.billing.models import Charge
    from app.dispatch.models import Assignment, TripRun
    from app.migrate import upgrade
    from app.trips.models import Trip

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True})
    with app.app_context():
        s = db.session
        seed.seed_demo(s)
        s.commit()
        units = list(s.scalars(select(Unit.id).order_by(Unit.id)))
        applicant = s.scalar(select(User.id).order_by(User.id).limit(1))
        vehicles = list(s.scalars(select(Vehicle.id).order_by(Vehicle.id)))
        drivers = list(s.scalars(select(Driver.id).order_by(Driver.id)))
        last_year = datetime.now(SH).year - 1
        first = datetime(last_year - YEARS + 1, 1, 1, tzinfo=SH)
        s.query(Vehicle).update({Vehicle.created_at: first})
        s.commit()
        span_minutes = YEARS * 365 * 24 * 60 - 24 * 60
        for start in range(0, trips, BATCH):
            rows_t, rows_a, rows_r, rows_c = [], [], [], []
            for n in range(start, min(start + BATCH, trips)):
                i = n + 1
                # Mostly working-day mornings; every 199th trip runs into the night.
                day = first + timedelta(minutes=(n * 7919) % span_minutes)
                while not is_workday(day.date()):  # official cars rest on rest days
                    day -= timedelta(days=1)
                depart = day.replace(hour=8 if n % 199 else 20, minute=n % 60)
                hours = 2 + n % 5
                ret = depart + timedelta(hours=hours)
                est = Decimal(20 + n % 80)  # the full route, out and back
                km = est + (Decimal(30) + est if n % 211 == 0 else Decimal(n % 7))
                started = depart + timedelta(minutes=5)
                finished = ret + timedelta(minutes=150 if n % 223 == 0 else 10)
                gap = Decimal(12) if n % 227 == 0 else Decimal(0)
                rows_t.append({"id": i, "unit_id": units[n % len(units)], "applicant_id": applicant,
                               "state": "confirmed", "purpose_category": "meeting",
                               "purpose_text": "工作会议", "passengers": [], "stops": [],
                               "depart_at": depart, "return_at": ret, "channel": "fleet",
                               "est_distance_km": est, "cross_region": False, "version": 1})
                vehicle, driver = vehicles[n % len(vehicles)], drivers[n % len(drivers)]
                rows_a.append({"id": i, "trip_id": i, "vehicle_id": vehicle, "driver_id": driver,
                               "starts_at": depart, "ends_at": ret,
                               "busy_until": ret + timedelta(minutes=30), "active": False,
                               "auto": True, "assigned_at": depart - timedelta(days=1),
                               "reason": "", "release_comment": ""})
                rows_r.append({"trip_id": i, "assignment_id": i, "vehicle_id": vehicle,
                               "driver_id": driver, "started_at": started,
                               "start_odometer_km": Decimal(1000), "odometer_gap_km": gap,
                               "finished_at": finished, "end_odometer_km": Decimal(1000) + km,
                               "km": km, "tolls": Decimal(0), "parking": Decimal(0),
                               "lodging": Decimal(0), "waiting_minutes": 0,
                               "recorded_at": finished})
                total = Decimal(30 * (1 + hours // 2))
                rows_c.append({"trip_id": i, "unit_id": units[n % len(units)], "channel": "fleet",
                               "supplier": "fleet", "order_id": f"FLEET-{i}", "total": total,
                               "estimate": total, "market_reference": Decimal(250),
                               "savings": Decimal(250) - total, "flags": [], "held": False,
                               "finished_at": finished, "final": True, "auto_confirmed": False,
                               "computed_at": finished})
            s.execute(insert(Trip), rows_t)
            s.execute(insert(Assignment), rows_a)
            s.execute(insert(TripRun), rows_r)
            s.execute(insert(Charge), rows_c)
            s.commit()
        s.remove()
    return last_year


def measure(url: str, what: str, year: int) -> dict:
    """One measured step in this (fresh) process."""
    from sqlalchemy import select

    from app import clock, create_app, db
    from app.accounts.models import User
    from app.supervision import reports, service

    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True})
    with app.app_context():
        s = db.session
        user = s.scalar(select(User).where(User.openid == "demo-supervisor"))
        began = time.perf_counter()
        if what == "sweep":
            db.begin_write()
            counts = service.sweep(s)
            s.commit()
            result = {"new": sum(c["new"] for c in counts.values()),
                      "found": sum(c["found"] for c in counts.values())}
        elif what == "utilisation":
            report = reports.utilisation(s, user=user, year=year, today=clock.local_date(
                clock.now()))
            result = {"vehicles": report["totals"]["vehicles"], "km": str(report["totals"]["km"])}
        else:
            report = reports.spend(s, user=user, window=reports.Window.year(year))
            result = {"rows": len(report["items"]), "trips": report["totals"]["trips"]}
        seconds = time.perf_counter() - began
        s.remove()
    return {"what": what, "seconds": round(seconds, 2), "peak_mb": round(peak_rss_mb(), 1),
            **result}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    trips = int(os.environ.get("SUPERVISION_BENCH_TRIPS", "1000000"))
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("SUPERVISION_BENCH_DB") or f"sqlite:///{Path(tmp) / 'supervision.sqlite'}"
        began = time.perf_counter()
        year = build(url, trips)
        print(f"built {trips:,} finished fleet trips over {YEARS} years in "
              f"{time.perf_counter() - began:.1f} s (year {year}: ~{trips // YEARS:,} trips)",
              flush=True)
        for what in ("sweep", "sweep", "utilisation", "spend"):
            out = subprocess.run([sys.executable, __file__, "--measure", url, what, str(year)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            target = TARGET_SWEEP_S if what == "sweep" else TARGET_REPORT_S
            verdict = ("ok" if figures["seconds"] <= target and figures["peak_mb"] < TARGET_PEAK_MB
                       else "OVER TARGET")
            print(f"{what:12s} {figures['seconds']:7.2f} s  peak {figures['peak_mb']:6.1f} MB  "
                  f"(target ≤ {target} s, < {TARGET_PEAK_MB} MB: {verdict})  "
                  f"{json.dumps({k: v for k, v in figures.items() if k not in ('what', 'seconds', 'peak_mb')})}",
                  flush=True)


if __name__ == "__main__":
    main()
