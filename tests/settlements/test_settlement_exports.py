"""Statement exports (XLSX read back, CSV with BOM), the period CLI, and reconciliation."""
import csv
import io
from decimal import Decimal
from urllib.parse import unquote

import openpyxl
import pytest

from app.settlements.export import SUMMARY_SHEET
from tests.settlements.test_settlements import month  # noqa: F401  (fixture)


@pytest.fixture
def statements(api, month):  # noqa: F811
    items = api.post("/settlements", as_="demo-finance", json={"period": "2026-10"}).get_json()
    return {(i["unit_name"], i["supplier"]): i for i in items["items"]}


def drc_fleet(statements):
    return statements[("常州市发展和改革委员会", "fleet")]


def test_xlsx_export_reads_back_with_numbers_and_sums_equal_to_the_total(api, statements):
    statement = drc_fleet(statements)
    resp = api.get(f"/settlements/{statement['id']}/export?format=xlsx", as_="demo-finance")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "结算单-2026-10-常州市发展和改革委员会-fleet.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == [SUMMARY_SHEET, "fleet"]
    sheet = book["fleet"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    lines = rows[:-1]
    assert len(lines) == 3 and rows[-1][0] == "合计"
    amounts = [row[7] for row in lines]
    assert all(isinstance(a, (int, float)) for a in amounts)
    assert all(sheet.cell(row=r, column=8).number_format == "0.00" for r in range(2, 5))
    assert Decimal(str(round(sum(amounts), 2))) == Decimal(statement["total"]) == Decimal("420.00")
    summary = list(book[SUMMARY_SHEET].iter_rows(min_row=2, values_only=True))
    assert summary[0][:3] == ("fleet", 3, 420)


def test_csv_export_has_a_bom_and_the_lines(api, statements):
    statement = drc_fleet(statements)
    resp = api.get(f"/settlements/{statement['id']}/export?format=csv", as_="demo-finance")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][0] == "订单号" and len(rows) == 4
    assert sum(Decimal(r[7]) for r in rows[1:]) == Decimal(statement["total"])


def test_export_is_scoped_and_validated(api, demo, statements):
    resp = api.post("/admin/users", as_="demo-admin", json={
        "name": "武进财务", "phone": "13700000009", "unit_id": demo["units"]["武进区"],
        "roles": ["finance"]})
    assert resp.status_code == 201, resp.get_json()
    api.bind("wujin-finance", "13700000009")
    own = statements[("武进区市场监督管理局", "fleet")]["id"]
    other = drc_fleet(statements)["id"]
    assert api.get(f"/settlements/{own}/export", as_="wujin-finance").status_code == 200
    assert api.get(f"/settlements/{other}/export", as_="wujin-finance").status_code == 404
    assert api.get(f"/settlements/{own}/export", as_="demo-traveler").status_code == 403
    bad = api.get(f"/settlements/{own}/export?format=pdf", as_="demo-finance")
    assert bad.status_code == 422 and "xlsx" in str(bad.get_json()["errors"])


def test_cli_exports_the_whole_period_with_progress(app, statements, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export-settlements", "--period", "2026-10", "--format", "xlsx",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "5 行, 合计 1360.50 元" in result.output     # 420 + 425 (rental-a) + 515.50
    path = tmp_path / "结算单-2026-10.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [SUMMARY_SHEET, "fleet", "rental-a"]
    assert runner.invoke(args=["export-settlements", "--period", "2026-13"]).exit_code != 0


# --- reconciliation -------------------------------------------------------------------------

def upload(api, text: str, provider="fleet", period="2026-10", as_="demo-finance"):
    return api.client.post("/api/v1/reconciliations", data={
        "provider": provider, "period": period,
        "file": (io.BytesIO(text.encode("utf-8-sig")), "statement.csv")},
        headers={"Authorization": f"Bearer {api.login(as_)}"},
        content_type="multipart/form-data")


def our_orders(api, statements, supplier="fleet"):
    orders = {}
    for (unit, sup), item in statements.items():
        if sup == supplier:
            for line in api.get(f"/settlements/{item['id']}/lines", as_="demo-finance"
                                ).get_json()["items"]:
                orders[line["order_id"]] = line["amount"]
    return orders


def test_reconciliation_finds_every_planted_mismatch(api, statements):
    ours = our_orders(api, statements)
    ids = sorted(ours)
    dropped, changed = ids[0], ids[1]
    rows = ["订单号,金额（元）,日期"]
    for order_id in ids[2:]:
        rows.append(f"{order_id},{ours[order_id]},2026-10-15")
    rows.append(f"{changed},{Decimal(ours[changed]) + Decimal('12.30')},2026-10-15")
    rows.append("fleet-99999,88.00,2026-10-20")
    resp = upload(api, "\n".join(rows))
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert out["matched"] == len(ids) - 2
    assert out["missing_on_our_side"] == [{"order_id": "fleet-99999", "amount": "88.00"}]
    assert out["missing_on_theirs"] == [{"order_id": dropped, "amount": ours[dropped]}]
    assert out["amount_mismatches"] == [{
        "order_id": changed, "ours": ours[changed],
        "theirs": str(Decimal(ours[changed]) + Decimal("12.30")), "difference": "12.30"}]


def test_reconciliation_before_generation_uses_final_charges(api, month):  # noqa: F811
    resp = upload(api, "order_id,amount\n")
    assert resp.status_code == 200
    assert len(resp.get_json()["missing_on_theirs"]) == 4   # 70, 290, 515.50, 60 (final only)


def test_malformed_statement_is_422_with_row_errors(api, statements):
    resp = upload(api, "订单号,金额\nfleet-1,abc\n,12.00\n1.23457E+17,5.00\n")
    assert resp.status_code == 422
    body = resp.get_json()
    assert [e["row"] for e in body["errors"]["file"]] == [2, 3, 4]
    assert "金额" in body["errors"]["file"][0]["message"]
    missing = upload(api, "订单号\nA-1\n")
    assert missing.status_code == 422


def test_reconciliation_is_for_platform_finance(api, statements):
    assert upload(api, "订单号,金额\n", as_="demo-traveler").status_code == 403
    resp = api.client.post("/api/v1/reconciliations", data={"provider": "fleet"},
                           headers={"Authorization": f"Bearer {api.login('demo-finance')}"},
                           content_type="multipart/form-data")
    assert resp.status_code == 422
