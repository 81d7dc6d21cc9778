"""Reconcile a supplier's CSV statement against our statement lines (对账, SPEC §5.5)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.money import CENT

# Header aliases, compared after _header_key(): Chinese or English, with or without a unit.
COLUMNS = {
    "order_id": {"order_id", "订单号", "订单编号"},
    "amount": {"amount", "金额"},
    "date": {"date", "日期"},
    "description": {"description", "说明", "描述", "备注"},
}
REQUIRED = ("order_id", "amount")
MAX_LISTED_ERRORS = 10
# Excel turns long numeric order ids into 1.23457E+17 and loses the digits for good.
_SCIENTIFIC = re.compile(r"\d+(\.\d+)?E\+\d+", re.IGNORECASE)


@dataclass(frozen=True)
class RowError:
    """One malformed row: its 1-based row number in the file and what is wrong, in Chinese."""

    row: int
    message: str


class StatementFormatError(ValueError):
    """The supplier's statement cannot be read; `errors` lists every bad row."""

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors = tuple(errors)
        listed = "；".join(f"第 {e.row} 行：{e.message}" for e in self.errors[:MAX_LISTED_ERRORS])
        more = f"；等共 {len(self.errors)} 处错误" if len(self.errors) > MAX_LISTED_ERRORS else ""
        super().__init__(f"供应商对账单格式有误：{listed}{more}")


@dataclass(frozen=True)
class SupplierLine:
    """One line of a supplier's statement as they sent it."""

    row: int
    order_id: str
    amount: Decimal
    date: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class OrderAmount:
    """An order present on one side only, with that side's amount."""

    order_id: str
    amount: Decimal


@dataclass(frozen=True)
class AmountMismatch:
    """An order both sides list with different amounts; difference = theirs − ours."""

    order_id: str
    ours: Decimal
    theirs: Decimal
    difference: Decimal


@dataclass(frozen=True)
class Reconciliation:
    """The outcome of comparing a supplier's statement with ours, sorted by order id."""

    matched: int
    missing_on_our_side: tuple[OrderAmount, ...]
    missing_on_theirs: tuple[OrderAmount, ...]
    amount_mismatches: tuple[AmountMismatch, ...]

    @property
    def clean(self) -> bool:
        return not (self.missing_on_our_side or self.missing_on_theirs or self.amount_mismatches)


def parse_supplier_statement(data: bytes | str) -> list[SupplierLine]:
    """Parse a supplier CSV (UTF-8 with or without BOM, or GB18030 as Chinese Excel saves it)."""
    text = _decode(data)
    rows = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    lines: list[SupplierLine] = []
    errors: list[RowError] = []
    for number, cells in enumerate(rows, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _columns(number, cells)
            continue
        try:
            lines.append(_line(number, cells, columns))
        except _RowProblem as problem:
            errors.append(RowError(number, str(problem)))
    if columns is None:
        errors.append(RowError(1, "文件为空，缺少表头（订单号, 金额）"))
    if errors:
        raise StatementFormatError(errors)
    return lines


def reconcile(ours: Iterable[object], theirs: Iterable[SupplierLine]) -> Reconciliation:
    """Compare by order id; several lines of one order (e.g. adjustments) are summed per side."""
    our_totals = _sum_by_order((_field(line, "order_id"), _field(line, "amount")) for line in ours)
    their_totals = _sum_by_order((line.order_id, line.amount) for line in theirs)
    mismatches = [
        AmountMismatch(order_id, our_totals[order_id], amount, amount - our_totals[order_id])
        for order_id, amount in sorted(their_totals.items())
        if order_id in our_totals and amount != our_totals[order_id]
    ]
    return Reconciliation(
        matched=sum(1 for order_id in their_totals if order_id in our_totals) - len(mismatches),
        missing_on_our_side=_only_in(their_totals, our_totals),
        missing_on_theirs=_only_in(our_totals, their_totals),
        amount_mismatches=tuple(mismatches),
    )


class _RowProblem(Exception):
    pass


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise StatementFormatError([RowError(1, "无法识别文件编码，请另存为 UTF-8 CSV")]) from None


def _header_key(cell: str) -> str:
    return re.sub(r"[（(]\s*元\s*[)）]$", "", cell.strip().removeprefix("\ufeff")).strip().lower()


def _columns(number: int, cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = _header_key(cell)
        for name, aliases in COLUMNS.items():
            if key in aliases:
                if name in columns:
                    raise StatementFormatError([RowError(number, f"表头中“{cell.strip()}”列重复")])
                columns[name] = index
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        wanted = "、".join("订单号(order_id)" if m == "order_id" else "金额(amount)" for m in missing)
        raise StatementFormatError([RowError(number, f"表头缺少 {wanted} 列")])
    return columns


def _cell(cells: list[str], columns: Mapping[str, int], name: str) -> str | None:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    return cells[index].strip() or None


def _line(number: int, cells: list[str], columns: Mapping[str, int]) -> SupplierLine:
    order_id = _cell(cells, columns, "order_id")
    if order_id is None:
        raise _RowProblem("订单号为空")
    if _SCIENTIFIC.fullmatch(order_id):
        raise _RowProblem(f"订单号“{order_id}”被 Excel 改写为科学计数法，请将该列设为文本后重新导出")
    raw = _cell(cells, columns, "amount")
    if raw is None:
        raise _RowProblem(f"订单 {order_id} 的金额为空")
    return SupplierLine(
        row=number,
        order_id=order_id,
        amount=_amount(order_id, raw),
        date=_cell(cells, columns, "date"),
        description=_cell(cells, columns, "description"),
    )


def _amount(order_id: str, raw: str) -> Decimal:
    cleaned = re.sub(r"[\s,¥￥]", "", raw)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise _RowProblem(f"订单 {order_id} 的金额“{raw}”不是有效数字") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise _RowProblem(f"订单 {order_id} 的金额“{raw}”应为最多两位小数的数字")
    return amount


def _field(line: object, name: str):
    return line[name] if isinstance(line, Mapping) else getattr(line, name)


def _sum_by_order(pairs: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for order_id, amount in pairs:
        key = str(order_id).strip()
        totals[key] = totals.get(key, Decimal(0)) + amount
    return totals


def _only_in(side: Mapping[str, Decimal], other: Mapping[str, Decimal]) -> tuple[OrderAmount, ...]:
    return tuple(OrderAmount(order_id, amount) for order_id, amount in sorted(side.items()) if order_id not in other)
