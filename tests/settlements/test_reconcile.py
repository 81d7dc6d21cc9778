"""Supplier statement parsing and reconciliation by order id, table-driven."""

from decimal import Decimal as D

import pytest

from app.settlements.reconcile import (
    AmountMismatch,
    OrderAmount,
    RowError,
    StatementFormatError,
    parse_supplier_statement,
    reconcile,
)

OURS = [
    {"order_id": "A1", "amount": D("100.00")},
    {"order_id": "A2", "amount": D("212.50")},
    {"order_id": "A3", "amount": D("902.70")},
    {"order_id": "A4", "amount": D("66.00")},
]


@pytest.mark.parametrize(
    "data, expected",
    [
        ("order_id,amount\nA1,100.00\n", [("A1", "100.00", 2)]),
        ("\ufeff订单号,金额\nA1,100.00\n", [("A1", "100.00", 2)]),
        ("\ufeff订单号,金额\r\nA1,100.00\r\n".encode("utf-8"), [("A1", "100.00", 2)]),
        ('订单号,金额（元）,日期,说明\nA1,"1,234.50",2026-10-01,接站\n'.encode("gb18030"), [("A1", "1234.50", 2)]),
        ("\n\nOrder_ID , Amount(元)\n\nA1, ￥100 \n,\nA2,-5.5\n", [("A1", "100", 5), ("A2", "-5.5", 7)]),
        ('说明,金额,订单号\n"多行\n说明",7.00,A9\n', [("A9", "7.00", 2)]),
        ("订单号,金额\n", []),
    ],
    ids=[
        "english",
        "bom-str",
        "bom-bytes-crlf",
        "gb18030-extras",
        "blank-lines-spaces",
        "reordered-multiline",
        "header-only",
    ],
)
def test_parse_tolerates_real_world_files(data, expected):
    assert [(line.order_id, str(line.amount), line.row) for line in parse_supplier_statement(data)] == expected


def test_parse_keeps_optional_date_and_description():
    line = parse_supplier_statement("订单号,金额,日期,备注\nA1,10.00,2026-10-02,夜间加收\n")[0]
    assert (line.date, line.description) == ("2026-10-02", "夜间加收")


@pytest.mark.parametrize(
    "data, errors",
    [
        ("", [(1, "文件为空，缺少表头（订单号, 金额）")]),
        ("订单号,日期\nA1,2026-10-01\n", [(1, "表头缺少 金额(amount) 列")]),
        ("A1,100.00\n", [(1, "表头缺少 订单号(order_id)、金额(amount) 列")]),
        ("订单号,金额,order_id\nA1,1,A1\n", [(1, "表头中“order_id”列重复")]),
        (
            "订单号,金额\nA1,abc\n,5.00\nA3\nA4,1.005\n1.23457E+17,8.00\nA6,NaN\n",
            [
                (2, "订单 A1 的金额“abc”不是有效数字"),
                (3, "订单号为空"),
                (4, "订单 A3 的金额为空"),
                (5, "订单 A4 的金额“1.005”应为最多两位小数的数字"),
                (6, "订单号“1.23457E+17”被 Excel 改写为科学计数法，请将该列设为文本后重新导出"),
                (7, "订单 A6 的金额“NaN”应为最多两位小数的数字"),
            ],
        ),
        (b"\xff\xfe\x00\xd8", [(1, "无法识别文件编码，请另存为 UTF-8 CSV")]),
    ],
    ids=["empty", "no-amount-column", "no-header", "duplicate-column", "bad-rows", "undecodable"],
)
def test_parse_reports_every_malformed_row_in_chinese(data, errors):
    with pytest.raises(StatementFormatError) as caught:
        parse_supplier_statement(data)
    assert [(e.row, e.message) for e in caught.value.errors] == errors
    assert str(caught.value).startswith("供应商对账单格式有误：第 ")


def test_error_message_lists_the_first_ten_rows_and_counts_the_rest():
    data = "订单号,金额\n" + "".join(f"A{i},x\n" for i in range(15))
    with pytest.raises(StatementFormatError) as caught:
        parse_supplier_statement(data)
    assert len(caught.value.errors) == 15
    assert "第 11 行" in str(caught.value) and "第 12 行" not in str(caught.value)
    assert str(caught.value).endswith("等共 15 处错误")
    assert caught.value.errors[0] == RowError(2, "订单 A0 的金额“x”不是有效数字")


@pytest.mark.parametrize(
    "theirs_csv, matched, missing_ours, missing_theirs, mismatches",
    [
        ("A1,100.00\nA2,212.50\nA3,902.70\nA4,66.00\n", 4, [], [], []),
        ("A1,100\nA2,212.5\nA3,902.70\nA4,66\n", 4, [], [], []),  # trailing zeros do not matter
        ("A1,100.00\nA2,212.50\nA3,902.70\n", 3, [], [("A4", "66.00")], []),
        ("A1,100.00\nA2,212.50\nA3,902.70\nA4,66.00\nB7,35.00\n", 4, [("B7", "35.00")], [], []),
        (
            "A1,100.00\nA2,250.00\nA3,902.70\nA4,60.00\n",
            2,
            [],
            [],
            [("A2", "212.50", "250.00", "37.50"), ("A4", "66.00", "60.00", "-6.00")],
        ),
        # a double-billed order surfaces as a mismatch of the summed amounts
        ("A1,100.00\nA1,100.00\nA2,212.50\nA3,902.70\nA4,66.00\n", 3, [], [], [("A1", "100.00", "200.00", "100.00")]),
        # all three kinds at once, planted among clean lines
        (
            " A1 ,100.00\nA3,903.70\nZ9,1.00\n",
            1,
            [("Z9", "1.00")],
            [("A2", "212.50"), ("A4", "66.00")],
            [("A3", "902.70", "903.70", "1.00")],
        ),
        ("", 0, [], [("A1", "100.00"), ("A2", "212.50"), ("A3", "902.70"), ("A4", "66.00")], []),
    ],
    ids=[
        "clean",
        "clean-unpadded",
        "missing-theirs",
        "missing-ours",
        "mismatches",
        "double-billed",
        "planted-mix",
        "empty-theirs",
    ],
)
def test_reconcile_finds_planted_differences(theirs_csv, matched, missing_ours, missing_theirs, mismatches):
    result = reconcile(OURS, parse_supplier_statement("订单号,金额\n" + theirs_csv))
    assert result.matched == matched
    assert result.missing_on_our_side == tuple(OrderAmount(o, D(a)) for o, a in missing_ours)
    assert result.missing_on_theirs == tuple(OrderAmount(o, D(a)) for o, a in missing_theirs)
    assert result.amount_mismatches == tuple(AmountMismatch(o, D(a), D(b), D(d)) for o, a, b, d in mismatches)
    assert result.clean is not (missing_ours or missing_theirs or mismatches)


def test_reconcile_sums_our_adjustment_lines_per_order():
    ours = OURS + [{"order_id": "A2", "amount": D("-12.50")}]
    result = reconcile(ours, parse_supplier_statement("订单号,金额\nA1,100\nA2,200\nA3,902.70\nA4,66\n"))
    assert result.clean and result.matched == 4
