"""Reports as XLSX: one sheet of rows and a totals row, numbers as numbers (xlsxwriter in
constant-memory mode, like the settlement exports: rows are written and forgotten)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

import xlsxwriter

FORMATS = {"money": "0.00", "km": "0.0", "share": "0.00%", "int": "0"}


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "text"  # text | int | money | km | share | bool
    width: int = 14


def write_report(handle: BinaryIO, *, sheet: str, columns: Sequence[Column],
                 rows: Iterable[Mapping[str, Any]], totals: Mapping[str, Any] | None = None,
                 total_label: str = "合计") -> int:
    """Write ``rows`` (and ``totals`` under them) to ``handle``; returns the rows written."""
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    formats = {kind: workbook.add_format({"num_format": f}) for kind, f in FORMATS.items()}
    bold = {kind: workbook.add_format({"bold": True, "top": 1, "num_format": f})
            for kind, f in FORMATS.items()}
    bold_text = workbook.add_format({"bold": True, "top": 1})
    ws = workbook.add_worksheet(sheet[:31])
    for col, column in enumerate(columns):
        ws.set_column(col, col, column.width)
        ws.write_string(0, col, column.title, header)
    ws.freeze_panes(1, 0)
    n = 0
    for n, row in enumerate(rows, start=1):
        for col, column in enumerate(columns):
            _write(ws, n, col, column, row.get(column.key), formats)
    if totals is not None:
        ws.write_string(n + 1, 0, total_label, bold_text)
        for col, column in enumerate(columns[1:], start=1):
            if column.key in totals:
                _write(ws, n + 1, col, column, totals[column.key], bold, bold_text)
    workbook.close()
    return n


def _write(ws, row: int, col: int, column: Column, value: Any, formats, text_format=None) -> None:
    if value is None:
        ws.write_blank(row, col, None, text_format)
    elif column.kind == "bool":
        ws.write_string(row, col, "是" if value else "否", text_format)
    elif column.kind == "text":
        ws.write_string(row, col, str(value), text_format)
    else:
        number = value if isinstance(value, (int, float)) else float(Decimal(value))
        ws.write_number(row, col, number, formats[column.kind])
