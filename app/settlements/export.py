"""Streaming XLSX and CSV exports of statement lines (SPEC §5.5)."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO, Iterator

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from app.settlements.lines import StatementLine, as_statement_line

HEADERS = ("订单号", "行程号", "日期", "用车单位", "供应商", "渠道", "说明", "金额", "标记")
WIDTHS = (22, 12, 12, 24, 20, 10, 40, 14, 20)
AMOUNT_COL = HEADERS.index("金额")
SUMMARY_SHEET = "汇总"
SUMMARY_HEADERS = ("供应商", "笔数", "金额", "标记笔数")
TOTAL_LABEL = "合计"

Progress = Callable[[int], None]
Target = str | os.PathLike | BinaryIO


@dataclass(frozen=True)
class SupplierTotal:
    """Running totals of one supplier in an export."""

    supplier: str
    rows: int
    amount: Decimal
    flagged: int


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: row count, grand total and per-supplier totals."""

    rows: int
    total: Decimal
    suppliers: tuple[SupplierTotal, ...]


class _Tally:
    """Per-supplier running totals; memory grows with suppliers, never with rows."""

    def __init__(self, progress: Progress | None, every: int) -> None:
        self.rows = 0
        self.by_supplier: dict[str, list] = {}
        self._progress, self._every = progress, max(every, 1)

    def add(self, line: StatementLine) -> int:
        """Count a line; return its 1-based position within its supplier."""
        entry = self.by_supplier.setdefault(line.supplier, [0, Decimal(0), 0])
        entry[0] += 1
        entry[1] += line.amount
        entry[2] += bool(line.flags)
        self.rows += 1
        if self._progress and self.rows % self._every == 0:
            self._progress(self.rows)
        return entry[0]

    def result(self) -> ExportResult:
        if self._progress and (self.rows % self._every or not self.rows):
            self._progress(self.rows)
        suppliers = tuple(SupplierTotal(name, *entry) for name, entry in self.by_supplier.items())
        return ExportResult(self.rows, sum((s.amount for s in suppliers), Decimal(0)), suppliers)


def write_xlsx(
    lines: Iterable[StatementLine | Mapping],
    target: Target,
    *,
    progress: Progress | None = None,
    progress_every: int = 1000,
) -> ExportResult:
    """Write lines to XLSX: a summary sheet first, then one sheet per supplier, row by row.

    The workbook runs in xlsxwriter's constant_memory mode, so each sheet keeps only its
    current row. Sheets appear in the order suppliers first occur; stream lines sorted by
    supplier for an alphabetical workbook. Interleaved suppliers work too, since every
    sheet still receives its rows in order.
    """
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True})
    try:
        formats = _Formats(workbook)
        summary = workbook.add_worksheet(SUMMARY_SHEET)
        sheets: dict[str, object] = {}
        taken = {SUMMARY_SHEET.casefold()}
        tally = _Tally(progress, progress_every)
        for item in lines:
            line = as_statement_line(item)
            sheet = sheets.get(line.supplier)
            if sheet is None:
                sheet = sheets[line.supplier] = workbook.add_worksheet(_sheet_name(line.supplier, taken))
                _write_header(sheet, HEADERS, WIDTHS, formats)
            row = tally.add(line)
            sheet.write_string(row, 0, line.order_id)
            sheet.write_string(row, 1, str(line.trip_id))
            sheet.write_datetime(row, 2, line.date, formats.date)
            sheet.write_string(row, 3, line.unit_name)
            sheet.write_string(row, 4, line.supplier)
            sheet.write_string(row, 5, line.channel_label)
            sheet.write_string(row, 6, line.description)
            sheet.write_number(row, 7, line.amount, formats.money)
            if line.flags:
                sheet.write_string(row, 8, line.flags_label)
        result = tally.result()
        for supplier in result.suppliers:
            _write_total(sheets[supplier.supplier], supplier.rows, AMOUNT_COL, supplier.amount, formats)
        _write_summary(summary, result, formats)
    finally:
        workbook.close()
    return result


def write_csv(
    lines: Iterable[StatementLine | Mapping],
    target: Target,
    *,
    progress: Progress | None = None,
    progress_every: int = 1000,
) -> ExportResult:
    """Write lines as CSV in UTF-8 with BOM (so Excel reads the Chinese), one row per line.

    No totals row: the file stays machine-readable and loads back into reconciliation.
    """
    tally = _Tally(progress, progress_every)
    with _binary(target) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            writer = csv.writer(text)
            writer.writerow(HEADERS)
            for item in lines:
                line = as_statement_line(item)
                writer.writerow(
                    (
                        _csv_text(line.order_id),
                        _csv_text(str(line.trip_id)),
                        line.date.isoformat(),
                        _csv_text(line.unit_name),
                        _csv_text(line.supplier),
                        line.channel_label,
                        _csv_text(line.description),
                        f"{line.amount:.2f}",
                        line.flags_label,
                    )
                )
                tally.add(line)
        finally:
            # Leave a caller's stream open: detach instead of closing the wrapper.
            text.flush()
            text.detach()
    return tally.result()


class _Formats:
    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.money = workbook.add_format({"num_format": "0.00"})
        self.total_label = workbook.add_format({"bold": True, "top": 1})
        self.total_money = workbook.add_format({"bold": True, "top": 1, "num_format": "0.00"})
        self.total_count = workbook.add_format({"bold": True, "top": 1, "num_format": "0"})


def _write_header(sheet, headers: tuple[str, ...], widths: tuple[int, ...], formats: _Formats) -> None:
    for col, (title, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, title, formats.header)
    sheet.freeze_panes(1, 0)


def _write_total(sheet, rows: int, col: int, amount: Decimal, formats: _Formats) -> None:
    """Totals row below the lines: a SUM formula carrying our Decimal total as its cached value."""
    row = rows + 1
    sheet.write_string(row, 0, TOTAL_LABEL, formats.total_label)
    if rows:
        column = xl_col_to_name(col)
        sheet.write_formula(row, col, f"=SUM({column}2:{column}{rows + 1})", formats.total_money, amount)
    else:
        sheet.write_number(row, col, amount, formats.total_money)


def _write_summary(sheet, result: ExportResult, formats: _Formats) -> None:
    _write_header(sheet, SUMMARY_HEADERS, (30, 10, 16, 10), formats)
    for row, supplier in enumerate(result.suppliers, start=1):
        sheet.write_string(row, 0, supplier.supplier)
        sheet.write_number(row, 1, supplier.rows)
        sheet.write_number(row, 2, supplier.amount, formats.money)
        sheet.write_number(row, 3, supplier.flagged)
    _write_total(sheet, len(result.suppliers), SUMMARY_HEADERS.index("金额"), result.total, formats)
    last = len(result.suppliers) + 1
    sheet.write_number(last, 1, result.rows, formats.total_count)
    sheet.write_number(last, 3, sum(s.flagged for s in result.suppliers), formats.total_count)


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(supplier: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name: ≤31 chars, no []:*?/\\, not quoted, case-insensitive unique."""
    base = _SHEET_FORBIDDEN.sub("_", supplier).strip("'").strip() or "供应商"
    name, n = base[:31], 1
    while name.casefold() in taken:
        n += 1
        suffix = f"({n})"
        name = base[: 31 - len(suffix)] + suffix
    taken.add(name.casefold())
    return name


def _csv_text(value: str) -> str:
    # A cell starting with = + - @ would run as a formula when finance opens the file in Excel.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@contextmanager
def _binary(target: Target) -> Iterator[BinaryIO]:
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as handle:
            yield handle
    else:
        yield target
