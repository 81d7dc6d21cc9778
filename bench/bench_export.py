"""Benchmark the XLSX statement export against bare xlsxwriter: rows/s and peak memory.

Each measurement runs in its own subprocess so its peak memory (VmHWM) is that run's alone.
Usage: .venv/bin/python bench/bench_export.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.settlements.export import HEADERS, write_xlsx  # noqa: E402
from app.settlements.lines import StatementLine  # noqa: E402
from bench.common import peak_rss_mb  # noqa: E402

SUPPLIERS = (
    ("市公务用车服务中心", "fleet"),
    ("常州龙城汽车租赁有限公司", "rental"),
    ("常州顺达租车有限公司", "rental"),
    ("江南商务车服务有限公司", "rental"),
    ("T3出行", "ridehail"),
    ("滴滴企业版", "ridehail"),
)
UNITS = tuple(f"常州市第{i}机关单位" for i in range(1, 41))
TARGET_RATIO = 0.5
TARGET_PEAK_MB = 200


def synthetic_lines(rows: int, seed: int = 7):
    """Yield `rows` statement lines grouped by supplier, lazily, so generation holds no memory."""
    rng = random.Random(seed)
    per_supplier, rest = divmod(rows, len(SUPPLIERS))
    n = 0
    for index, (supplier, channel) in enumerate(SUPPLIERS):
        for _ in range(per_supplier + (1 if index < rest else 0)):
            n += 1
            yield StatementLine(
                order_id=f"{channel.upper()}-202610-{n:07d}",
                trip_id=100000 + n,
                date=date(2026, 10, 1) + timedelta(days=n % 31),
                unit_name=UNITS[n % len(UNITS)],
                supplier=supplier,
                channel=channel,
                description=f"行程 {n}：市民广场 → 常州北站，{rng.randint(5, 400)} 公里",
                amount=Decimal(rng.randint(3000, 250000)).scaleb(-2),
                flags=("over_ceiling",) if n % 997 == 0 else (),
            )


def bare_xlsx(lines, path: Path) -> None:
    """The same cells with plain xlsxwriter and no summary: the library's own speed."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    money = workbook.add_format({"num_format": "0.00"})
    sheets: dict[str, list] = {}
    for line in lines:
        entry = sheets.get(line.supplier)
        if entry is None:
            sheet = workbook.add_worksheet(line.supplier[:31])
            for col, title in enumerate(HEADERS):
                sheet.write_string(0, col, title)
            entry = sheets[line.supplier] = [sheet, 0]
        sheet, row = entry[0], entry[1] + 1
        entry[1] = row
        sheet.write_string(row, 0, line.order_id)
        sheet.write_string(row, 1, str(line.trip_id))
        sheet.write_datetime(row, 2, line.date, date_format)
        sheet.write_string(row, 3, line.unit_name)
        sheet.write_string(row, 4, line.supplier)
        sheet.write_string(row, 5, line.channel)
        sheet.write_string(row, 6, line.description)
        sheet.write_number(row, 7, line.amount, money)
        if line.flags:
            sheet.write_string(row, 8, ",".join(line.flags))
    workbook.close()


def generate_only(lines, path: Path) -> None:
    for _ in lines:
        pass


MODES = {"ours": lambda lines, path: write_xlsx(lines, path), "bare": bare_xlsx, "generate": generate_only}


def child(mode: str, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{mode}.xlsx"
        started = time.perf_counter()
        MODES[mode](synthetic_lines(rows), path)
        seconds = time.perf_counter() - started
        size = path.stat().st_size if path.exists() else 0
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(), "bytes": size}))


def measure(mode: str, rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--rows", str(rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the fastest counts")
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return

    sizes = sorted({max(args.rows // 10, 1), args.rows})
    print(f"XLSX export benchmark, {len(SUPPLIERS)} suppliers, best of {args.repeat} (peak = max RSS of the run)")
    print(f"{'rows':>8} {'mode':>9} {'seconds':>8} {'rows/s':>9} {'peak MB':>8} {'file MB':>8}")
    results = {}
    for rows in sizes:
        for mode in ("generate", "bare", "ours"):
            runs = [measure(mode, rows) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in runs)
            results[rows, mode] = best
            print(
                f"{rows:>8} {mode:>9} {best['seconds']:>8.2f} {rows / best['seconds']:>9.0f}"
                f" {best['peak_mb']:>8.1f} {best['bytes'] / 2**20:>8.1f}"
            )
    rows = args.rows
    ours, bare = results[rows, "ours"], results[rows, "bare"]
    ratio = bare["seconds"] / ours["seconds"]
    small = results[sizes[0], "ours"]["peak_mb"]
    print()
    print(
        f"throughput ratio ours/bare at {rows} rows: {ratio:.2f} (target >= {TARGET_RATIO}) "
        f"{'OK' if ratio >= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"peak memory ours at {rows} rows: {ours['peak_mb']:.1f} MB (target < {TARGET_PEAK_MB} MB) "
        f"{'OK' if ours['peak_mb'] < TARGET_PEAK_MB else 'MISSED'}; "
        f"at {sizes[0]} rows: {small:.1f} MB (growth {ours['peak_mb'] - small:+.1f} MB)"
    )


if __name__ == "__main__":
    main()
