"""Benchmark monthly settlement at scale (issue 6): 100,000 confirmed charges in one month.

Times ``generate`` (target ≤ 10 s on SQLite), then exports every statement of the month to
XLSX through our path (``settlements.service.export``: batched query → write_xlsx) and,
for comparison, with bare xlsxwriter writing the same rows from a plain query. Each export
runs in its own subprocess so its peak memory (VmHWM) is that run's alone.
Usage: .venv/bin/python -m bench bench_settlements   (or bench/bench_settlements.py --rows N)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_mb  # noqa: E402

SUPPLIERS = (("fleet", "fleet"), ("rental-longcheng", "rental"), ("rental-shunda", "rental"),
             ("sandbox-ride", "ridehail"), ("didi-enterprise", "ridehail"))
TARGET_GENERATE_S = 10
TARGET_RATIO = 0.5
TARGET_PEAK_MB = 200
BATCH = 10_000


def previous_period() -> tuple[str, datetime]:
    from app import clock

    first = clock.local(clock.now()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start


def insert_charges(session, rows: int, start: datetime) -> None:
    """Bulk-insert ``rows`` confirmed trips and their final charges, spread over the month."""
    from sqlalchemy import insert, select

    from app.accounts.models import Unit, User
    from app.billing.models import Charge
    from app.trips.models import Trip

    units = list(session.scalars(select(Unit.id).order_by(Unit.id)))
    applicant = session.scalar(select(User.id).order_by(User.id).limit(1))
    minutes = 30 * 24 * 60 - 300
    for first in range(0, rows, BATCH):
        trips, charges = [], []
        for n in range(first, min(first + BATCH, rows)):
            depart = start + timedelta(minutes=(n * 7919) % minutes)
            trips.append({"id": n + 1, "unit_id": units[n % len(units)],
                          "applicant_id": applicant, "state": "confirmed",
                          "purpose_category": "meeting", "purpose_text": "工作会议",
                          "passengers": [{"name": "张明"}], "stops": [], "depart_at": depart,
                          "return_at": depart + timedelta(hours=3), "version": 1})
            supplier, channel = SUPPLIERS[n % len(SUPPLIERS)]
            charges.append({"trip_id": n + 1, "unit_id": units[n % len(units)],
                            "channel": channel, "supplier": supplier,
                            "order_id": f"{supplier.upper()}-{n + 1:07d}",
                            "total": Decimal(3000 + (n * 37) % 97000).scaleb(-2),
                            "flags": [], "held": n % 997 == 0,
                            "finished_at": depart + timedelta(hours=3), "final": True})
        session.execute(insert(Trip), trips)
        session.execute(insert(Charge), charges)
    session.commit()


def bare_xlsx(session, statement_ids: list[int], path: Path) -> int:
    """The same rows from a plain query, written with bare xlsxwriter: the library's speed."""
    import xlsxwriter
    from sqlalchemy import select

    from app import clock
    from app.accounts.models import Unit
    from app.billing.models import Charge
    from app.settlements.export import HEADERS
    from app.settlements.models import Settlement, SettlementLine

    stmt = (select(SettlementLine.order_id, SettlementLine.trip_id, SettlementLine.finished_at,
                   Unit.name, Settlement.supplier, Charge.channel, SettlementLine.description,
                   SettlementLine.amount)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .join(Unit, Unit.id == Settlement.unit_id)
            .outerjoin(Charge, Charge.id == SettlementLine.charge_id)
            .where(SettlementLine.settlement_id.in_(statement_ids))
            .order_by(Settlement.supplier, Settlement.unit_id, SettlementLine.finished_at,
                      SettlementLine.id)
            .execution_options(yield_per=2000))
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    money = workbook.add_format({"num_format": "0.00"})
    sheets: dict[str, list] = {}
    rows = 0
    for (order_id, trip_id, finished_at, unit, supplier, channel, description,
         amount) in session.execute(stmt):
        entry = sheets.get(supplier)
        if entry is None:
            sheet = workbook.add_worksheet(supplier[:31])
            for col, title in enumerate(HEADERS):
                sheet.write_string(0, col, title)
            entry = sheets[supplier] = [sheet, 0]
        sheet, row = entry[0], entry[1] + 1
        entry[1] = row
        sheet.write_string(row, 0, order_id)
        sheet.write_string(row, 1, str(trip_id))
        sheet.write_datetime(row, 2, clock.local_date(finished_at), date_format)
        sheet.write_string(row, 3, unit)
        sheet.write_string(row, 4, supplier)
        sheet.write_string(row, 5, str(channel))
        sheet.write_string(row, 6, description)
        sheet.write_number(row, 7, amount, money)
        rows += 1
    workbook.close()
    return rows


def child(mode: str, url: str, period: str) -> None:
    from app import create_app, db
    from app.settlements import service

    app = create_app({"DATABASE_URL": url, "SANDBOX_MODE": True})
    with app.app_context(), tempfile.TemporaryDirectory() as tmp:
        ids = [s.id for s in service.statements_of(db.session, period)]
        path = Path(tmp) / f"{mode}.xlsx"
        started = time.perf_counter()
        if mode == "ours":
            rows = service.export(db.session, ids, path, fmt="xlsx").rows
        else:
            rows = bare_xlsx(db.session, ids, path)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_rss_mb(),
                      "bytes": size}))


def measure(mode: str, url: str, period: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--url", url,
                          "--period", period], check=True, capture_output=True, text=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="export runs per mode; best counts")
    parser.add_argument("--child", choices=("ours", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--period", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] if __name__ == "__main__"
                             else [])
    if args.child:
        child(args.child, args.url, args.period)
        return

    from sqlalchemy import select

    from app import db
    from app.accounts.models import User
    from app.settlements import service
    from bench.common import demo_app

    period, start = previous_period()
    with demo_app() as (app, _):
        url = app.config["DATABASE_URL"]
        with app.app_context():
            began = time.perf_counter()
            insert_charges(db.session, args.rows, start)
            print(f"inserted {args.rows} confirmed charges for {period} "
                  f"in {time.perf_counter() - began:.1f} s")
            actor = db.session.scalar(select(User).where(User.openid == "demo-finance"))
            began = time.perf_counter()
            statements = service.generate(db.session, period=period, actor=actor)
            db.session.commit()
            generate_s = time.perf_counter() - began
            lines = service.line_count(db.session, [s.id for s in statements])
            db.session.remove()
        print(f"generate: {len(statements)} statements, {lines} lines in {generate_s:.2f} s "
              f"(target ≤ {TARGET_GENERATE_S} s) "
              f"{'OK' if generate_s <= TARGET_GENERATE_S else 'MISSED'}")
        results = {}
        for mode in ("bare", "ours"):
            runs = [measure(mode, url, period) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in runs)
            results[mode] = best
            print(f"export {mode:>4}: {best['rows']} rows in {best['seconds']:.2f} s "
                  f"({best['rows'] / best['seconds']:.0f} rows/s), peak {best['peak_mb']:.1f} MB, "
                  f"file {best['bytes'] / 2**20:.1f} MB")
    ours, bare = results["ours"], results["bare"]
    ratio = bare["seconds"] / ours["seconds"]
    print(f"throughput ratio ours/bare: {ratio:.2f} (target ≥ {TARGET_RATIO}) "
          f"{'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
    print(f"peak memory ratio ours/bare: {ours['peak_mb'] / bare['peak_mb']:.2f}; ours "
          f"{ours['peak_mb']:.1f} MB (target < {TARGET_PEAK_MB} MB) "
          f"{'OK' if ours['peak_mb'] < TARGET_PEAK_MB else 'MISSED'}")


if __name__ == "__main__":
    main()
