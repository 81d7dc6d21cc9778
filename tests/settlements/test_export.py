"""Streaming XLSX and CSV exports of statement lines, read back with openpyxl and csv."""

import csv
import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest

from app.settlements.export import HEADERS, SUMMARY_HEADERS, write_csv, write_xlsx
from app.settlements.lines import StatementLine, as_statement_line
from app.settlements.reconcile import parse_supplier_statement, reconcile

SUPPLIERS = ("市公务用车服务中心", "常州某汽车租赁有限公司", "T3出行")


def make_lines(count=30):
    """Lines sorted by supplier, amounts with awkward cents so float sums would drift."""
    lines = []
    for i in range(count):
        supplier = SUPPLIERS[i * len(SUPPLIERS) // count]
        lines.append(
            StatementLine(
                order_id=f"ORD-{i:05d}",
                trip_id=1000 + i,
                date=date(2026, 10, 1 + i % 28),
                unit_name=("常州市财政局", "武进区教育局")[i % 2],
                supplier=supplier,
                channel=("fleet", "rental", "ridehail")[SUPPLIERS.index(supplier)],
                description=f"行程 {i}：市政府 → 高铁站",
                amount=D("0.10") + D(i) + D("0.01") * (i % 7),
                flags=("over_ceiling",) if i == 17 else (),
            )
        )
    return lines


def expected_totals(lines):
    totals = {}
    for line in lines:
        totals[line.supplier] = totals.get(line.supplier, D(0)) + line.amount
    return totals


@pytest.fixture
def xlsx(tmp_path):
    lines = make_lines()
    path = tmp_path / "statement.xlsx"
    result = write_xlsx(lines, path)
    return lines, result, path


def test_xlsx_has_summary_first_then_one_sheet_per_supplier(xlsx):
    _, _, path = xlsx
    book = openpyxl.load_workbook(path, data_only=True)
    assert book.sheetnames == ["汇总", *SUPPLIERS]


def test_xlsx_supplier_sheets_have_chinese_headers_numeric_amounts_and_totals(xlsx):
    lines, _, path = xlsx
    book = openpyxl.load_workbook(path, data_only=True)
    totals = expected_totals(lines)
    for supplier in SUPPLIERS:
        rows = list(book[supplier].iter_rows())
        assert [c.value for c in rows[0]] == list(HEADERS)
        body, total_row = rows[1:-1], rows[-1]
        assert [r[0].value for r in body] == [line.order_id for line in lines if line.supplier == supplier]
        amount_cells = [r[HEADERS.index("金额")] for r in body]
        assert all(c.data_type == "n" and c.number_format == "0.00" for c in amount_cells)
        assert all(r[HEADERS.index("日期")].is_date for r in body)
        assert total_row[0].value == "合计"
        total = total_row[HEADERS.index("金额")]
        assert total.number_format == "0.00"
        assert D(str(total.value)) == totals[supplier]
        assert sum(D(str(c.value)) for c in amount_cells) == totals[supplier]


def test_xlsx_totals_row_is_a_sum_formula_so_excel_recomputes_it(xlsx):
    _, _, path = xlsx
    sheet = openpyxl.load_workbook(path)[SUPPLIERS[0]]
    assert sheet.cell(sheet.max_row, HEADERS.index("金额") + 1).value == f"=SUM(H2:H{sheet.max_row - 1})"


def test_xlsx_summary_sheet_totals_per_supplier(xlsx):
    lines, result, path = xlsx
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(path, data_only=True)["汇总"].iter_rows()]
    totals = expected_totals(lines)
    assert rows[0] == list(SUMMARY_HEADERS)
    assert [(r[0], r[1], D(str(r[2]))) for r in rows[1:-1]] == [
        (s, sum(1 for line in lines if line.supplier == s), totals[s]) for s in SUPPLIERS
    ]
    assert rows[-1][0] == "合计" and rows[-1][1] == len(lines) and rows[-1][3] == 1
    assert D(str(rows[-1][2])) == sum(totals.values()) == result.total


def test_xlsx_flags_are_labelled_in_chinese(xlsx):
    _, _, path = xlsx
    book = openpyxl.load_workbook(path)
    flagged = [r for s in SUPPLIERS for r in book[s].iter_rows(min_row=2, values_only=True) if r[-1]]
    assert [(r[0], r[-1]) for r in flagged] == [("ORD-00017", "超出协议上限")]


def test_xlsx_accepts_interleaved_suppliers_and_dicts(tmp_path):
    lines = make_lines(12)
    shuffled = [vars_of(line) for line in lines[::2] + lines[1::2]]
    result = write_xlsx(shuffled, tmp_path / "x.xlsx")
    book = openpyxl.load_workbook(tmp_path / "x.xlsx", data_only=True)
    assert sorted(book.sheetnames[1:]) == sorted(SUPPLIERS)
    assert result.total == sum(line.amount for line in lines)
    for supplier in SUPPLIERS:
        ids = [r[0] for r in book[supplier].iter_rows(min_row=2, values_only=True)][:-1]
        assert sorted(ids) == [line.order_id for line in lines if line.supplier == supplier]


def vars_of(line):
    return {name: getattr(line, name) for name in line.__slots__}


def test_xlsx_with_no_lines_still_has_a_summary(tmp_path):
    result = write_xlsx([], tmp_path / "empty.xlsx")
    rows = list(openpyxl.load_workbook(tmp_path / "empty.xlsx")["汇总"].iter_rows(values_only=True))
    assert result.rows == 0 and result.total == D(0)
    assert rows[0] == SUMMARY_HEADERS and rows[-1][:3] == ("合计", 0, 0)


@pytest.mark.parametrize(
    "suppliers, names",
    [
        (["A/B:C", "x" * 40], ["A_B_C", "x" * 31]),
        (["汇总"], ["汇总(2)"]),
        (["Acme", "ACME"], ["Acme", "ACME(2)"]),
        (["'quoted'"], ["quoted"]),
    ],
)
def test_xlsx_sheet_names_are_valid_and_unique(tmp_path, suppliers, names):
    lines = [
        StatementLine(f"O{i}", i, date(2026, 10, 1), "单位", s, "rental", "", D("1.00"))
        for i, s in enumerate(suppliers)
    ]
    write_xlsx(lines, tmp_path / "n.xlsx")
    assert openpyxl.load_workbook(tmp_path / "n.xlsx").sheetnames[1:] == names


def test_xlsx_writes_to_a_binary_stream(xlsx):
    lines, _, _ = xlsx
    buffer = io.BytesIO()
    write_xlsx(lines, buffer)
    assert openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).sheetnames[0] == "汇总"


@pytest.mark.parametrize("writer", [write_xlsx, write_csv], ids=["xlsx", "csv"])
@pytest.mark.parametrize("count, every, calls", [(25, 10, [10, 20, 25]), (20, 10, [10, 20]), (0, 10, [0])])
def test_progress_callback_reports_rows_written(tmp_path, writer, count, every, calls):
    seen = []
    writer(make_lines(count) if count else [], tmp_path / "p.out", progress=seen.append, progress_every=every)
    assert seen == calls


def test_csv_starts_with_bom_and_round_trips_chinese(tmp_path):
    lines = make_lines()
    path = tmp_path / "statement.csv"
    result = write_csv(lines, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(HEADERS)
    assert len(rows) == len(lines) + 1
    assert rows[1] == [
        "ORD-00000",
        "1000",
        "2026-10-01",
        "常州市财政局",
        SUPPLIERS[0],
        "公车平台",
        "行程 0：市政府 → 高铁站",
        "0.10",
        "",
    ]
    assert sum(D(r[7]) for r in rows[1:]) == result.total == sum(line.amount for line in lines)


def test_csv_neutralises_formula_cells_but_keeps_negative_amounts():
    line = StatementLine("=HYPERLINK(1)", 1, date(2026, 10, 1), "@单位", "供应商", "rental", "-调整", D("-5.00"))
    buffer = io.BytesIO()
    write_csv([line], buffer)
    row = buffer.getvalue().decode("utf-8-sig").splitlines()[1].split(",")
    assert row[0] == "'=HYPERLINK(1)" and row[3] == "'@单位" and row[6] == "'-调整" and row[7] == "-5.00"


def test_our_csv_reads_back_into_reconciliation():
    lines = make_lines()
    buffer = io.BytesIO()
    write_csv(lines, buffer)
    assert reconcile(lines, parse_supplier_statement(buffer.getvalue())).clean


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"amount": 1.5}, TypeError),
        ({"amount": D("1.005")}, ValueError),
        ({"amount": D("Infinity")}, TypeError),
    ],
)
def test_statement_lines_refuse_non_cent_amounts(changes, error):
    base = vars_of(make_lines(1)[0])
    with pytest.raises(error):
        as_statement_line({**base, **changes})
