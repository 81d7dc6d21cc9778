"""The running demo: finance settles last month's demo history and exports it.

demo-finance generates the previous month's statements, lists them (one per paying unit and
supplier), downloads each as XLSX (opened with openpyxl) and CSV, and every file adds up to
the statement's total from the API, to the cent.
"""
import csv
import io
import re
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import requests

from tests.e2e.test_devserver import devserver  # noqa: F401  (the fixture)

CENT = Decimal("0.01")
SUPPLIERS = {"fleet", "ridehail", "rental-a", "rental-b"}


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _previous_period() -> str:
    first = datetime.now(ZoneInfo("Asia/Shanghai")).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def test_finance_settles_and_exports_last_month(devserver):  # noqa: F811
    url, banner, _ = devserver
    api = f"{url}/api/v1"
    period = _previous_period()
    announced = re.search(r"Demo history: (\d+) confirmed trips in (\d{4}-\d{2})", banner)
    assert announced, banner
    assert announced.group(2) == period
    trips = int(announced.group(1))
    assert trips >= 30

    token = requests.post(f"{api}/auth/wechat-login", json={"code": "sandbox:demo-finance"},
                          timeout=10).json()["access_token"]
    finance = {"Authorization": f"Bearer {token}"}

    generated = requests.post(f"{api}/settlements", headers=finance, json={"period": period},
                              timeout=30)
    assert generated.status_code == 200, generated.text
    assert generated.json()["period"] == period

    listed, cursor = [], None
    while True:
        params = {"period": period, "limit": 50, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api}/settlements", headers=finance, params=params, timeout=10)
        assert page.status_code == 200, page.text
        listed += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    pairs = [(s["unit_id"], s["supplier"]) for s in listed]
    assert len(pairs) == len(set(pairs)) == len(generated.json()["items"])
    assert {s["supplier"] for s in listed} == SUPPLIERS
    # Fuzhou's visitors rode our fleet (the partner's stand-in unit pays the fleet centre).
    partner = [s for s in listed if s["unit_name"] == "福州市（合作城市）"]
    assert [s["supplier"] for s in partner] == ["fleet"]
    units = {s["unit_name"] for s in listed} - {"福州市（合作城市）"}
    assert len(units) >= 3
    # every unit of ours × supplier has a statement
    assert len(pairs) - len(partner) == len(units) * len(SUPPLIERS)
    assert sum(s["line_count"] for s in listed) == trips
    assert all(s["period"] == period and s["state"] == "draft" for s in listed)

    for statement in listed:
        total = Decimal(statement["total"])
        assert total > 0
        lines = requests.get(f"{api}/settlements/{statement['id']}/lines", headers=finance,
                             params={"limit": 100}, timeout=10).json()["items"]
        assert len(lines) == statement["line_count"]
        assert sum(Decimal(line["amount"]) for line in lines) == total

        xlsx = requests.get(f"{api}/settlements/{statement['id']}/export", headers=finance,
                            params={"format": "xlsx"}, timeout=30)
        assert xlsx.status_code == 200, xlsx.text
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content), data_only=True)
        assert book.sheetnames[0] == "汇总"
        summary = list(book["汇总"].iter_rows(min_row=2, values_only=True))
        assert summary[-1][0] == "合计"
        assert _cents(summary[-1][2]) == total
        assert summary[-1][1] == statement["line_count"]
        assert [row[0] for row in summary[:-1]] == [statement["supplier"]]
        assert _cents(summary[0][2]) == total
        sheets = book.sheetnames[1:]
        assert len(sheets) == 1
        rows = list(book[sheets[0]].iter_rows(min_row=2, values_only=True))
        assert rows[-1][0] == "合计" and _cents(rows[-1][7]) == total
        amounts = [_cents(row[7]) for row in rows[:-1]]
        assert len(amounts) == statement["line_count"]
        assert sum(amounts) == total
        assert {row[3] for row in rows[:-1]} == {statement["unit_name"]}
        assert {row[4] for row in rows[:-1]} == {statement["supplier"]}

        exported = requests.get(f"{api}/settlements/{statement['id']}/export", headers=finance,
                                params={"format": "csv"}, timeout=30)
        assert exported.status_code == 200, exported.text
        assert exported.content.startswith(b"\xef\xbb\xbf")
        reader = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(reader) == statement["line_count"]
        assert sum(Decimal(row["金额"]) for row in reader) == total

    # The held rental bill (over the agreement ceiling) shows as a disputed line.
    disputed = defaultdict(int)
    for statement in listed:
        for line in requests.get(f"{api}/settlements/{statement['id']}/lines", headers=finance,
                                 params={"limit": 100}, timeout=10).json()["items"]:
            disputed[statement["supplier"]] += line["disputed"]
    assert dict(disputed) == {"fleet": 0, "ridehail": 0, "rental-a": 0, "rental-b": 1}
