"""Report routes (SPEC §6.2): JSON, or ``format=xlsx`` as a download; the vehicle recall."""
from __future__ import annotations

from marshmallow import RAISE, ValidationError

from app import clock, db
from app.accounts.models import Role
from app.api import blueprint, send_written
from app.errors import ValidationFailed
from app.security import current_user, roles_required
from app.supervision import reports
from app.supervision.reports import Window
from app.supervision.schemas import (MonthRangeArgs, NevShareSchema, PeriodOrYearArgs,
                                     QuarterArgs, QuarterListSchema, RecallSchema,
                                     RecalledVehicleSchema, SavingsSchema, SpendSchema,
                                     UtilisationArgs, UtilisationSchema, QUARTER,
                                     VisitorSavingsArgs, VisitorSavingsSchema)
from app.supervision.visitor_savings import visitor_savings as visitor_savings_report
from app.supervision.workbook import Column, write_report

blp = blueprint("reports", "/reports", "Supervision reports: utilisation, NEV share, savings, "
                "spend, visitors' savings, the quarterly positive/negative list")
recall_blp = blueprint("vehicle-recall", "/admin", "Recalling stationed vehicles to the pool")
readers = roles_required(Role.SUPERVISOR, Role.ADMIN, Role.FINANCE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def json_or_xlsx(schema) -> dict:
    """The 200 answer documented: the JSON report, or with ``format=xlsx`` the workbook."""
    return {"200": {"description": "The report (JSON), or with format=xlsx the workbook",
                    "content": {"application/json": {"schema": schema},
                                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


def _answer(args, report: dict, schema, *, name: str, sheet: str, columns, totals=None):
    """The report as JSON, or with ``format=xlsx`` a workbook of its rows and totals."""
    if args["format"] != "xlsx":
        return schema().dump(report)
    totals = report["totals"] if totals is None else totals
    return send_written(lambda handle: write_report(handle, sheet=sheet, columns=columns,
                                                    rows=report["items"], totals=totals),
                        mimetype=XLSX, download_name=f"{name}.xlsx")


def _period_or_year(args) -> Window:
    if args.get("period") and args.get("year"):
        raise ValidationFailed("period 与 year 只能二选一", errors={"period": ["与 year 二选一"]})
    if args.get("period"):
        return Window.month(args["period"])
    return Window.year(args.get("year") or clock.local(clock.now()).year)


UTILISATION_COLUMNS = (
    Column("plate", "车牌", width=12), Column("vehicle_class", "车型", width=10),
    Column("energy_type", "能源", width=10), Column("placement", "管理方式", width=10),
    Column("unit_name", "所属单位", width=26), Column("km", "行驶里程(公里)", "km"),
    Column("days_in_service", "在用天数", "int"), Column("threshold_km", "里程线(公里)", "km"),
    Column("below_threshold", "低于里程线", "bool"), Column("recall_candidate", "建议收回", "bool"))


@blp.route("/utilisation")
@readers
@blp.arguments(UtilisationArgs, location="query", unknown=RAISE)
@blp.doc(responses=json_or_xlsx(UtilisationSchema))
def utilisation(args):
    """Km per vehicle in a year; under the 5,000 km line (pro rata) a stationed vehicle is a
    recall candidate (集约化)."""
    year = args.get("year") or clock.local(clock.now()).year
    report = reports.utilisation(db.session, user=current_user(), year=year,
                                 unit_id=args.get("unit_id"))
    return _answer(args, report, UtilisationSchema, name=f"utilisation-{year}",
                   sheet=f"车辆使用率{year}", columns=UTILISATION_COLUMNS,
                   totals=report["totals"] | {"plate": None})


NEV_COLUMNS = (
    Column("unit_name", "单位", width=26), Column("region_code", "区划代码", width=10),
    Column("vehicles", "车辆数", "int"), Column("nev_vehicles", "新能源车辆数", "int"),
    Column("vehicle_share", "车辆占比", "share"), Column("km", "里程(公里)", "km"),
    Column("nev_km", "新能源里程(公里)", "km"), Column("km_share", "里程占比", "share"))


@blp.route("/nev-share")
@readers
@blp.arguments(PeriodOrYearArgs, location="query", unknown=RAISE)
@blp.doc(responses=json_or_xlsx(NevShareSchema))
def nev_share(args):
    """NEV vehicles ÷ vehicles and NEV km ÷ km per unit and region (绿色化)."""
    window = _period_or_year(args)
    report = reports.nev_share(db.session, user=current_user(), window=window,
                               unit_id=args.get("unit_id"))
    return _answer(args, report, NevShareSchema, sheet="新能源占比", columns=NEV_COLUMNS,
                   name=f"nev-share-{window.first:%Y%m}-{window.last:%Y%m}")


SAVINGS_COLUMNS = (
    Column("unit_name", "单位", width=26), Column("month", "月份", width=10),
    Column("trips", "行程数", "int"), Column("market_reference", "市场参考价", "money"),
    Column("charged", "实际收费", "money"), Column("savings", "节约金额", "money"),
    Column("savings_rate", "节约率", "share"))


@blp.route("/savings")
@readers
@blp.arguments(MonthRangeArgs, location="query", unknown=RAISE)
@blp.doc(responses=json_or_xlsx(SavingsSchema))
def savings(args):
    """Σ market reference − Σ charge of fleet trips, per unit and month (SPEC §5.4)."""
    this_month = f"{clock.local(clock.now()):%Y-%m}"
    first = args.get("from_") or f"{this_month[:4]}-01"
    last = args.get("to") or this_month
    if last < first:
        raise ValidationFailed("结束月份不能早于开始月份", errors={"to": ["早于开始月份"]})
    report = reports.savings(db.session, user=current_user(), window=Window.months(first, last),
                             unit_id=args.get("unit_id"))
    return _answer(args, report, SavingsSchema, name=f"savings-{first}-{last}",
                   sheet="节约情况", columns=SAVINGS_COLUMNS)


SPEND_COLUMNS = (
    Column("unit_name", "单位", width=26), Column("channel", "渠道", width=10),
    Column("supplier", "供应商", width=20), Column("month", "月份", width=10),
    Column("trips", "行程数", "int"), Column("amount", "金额", "money"))


@blp.route("/spend")
@readers
@blp.arguments(PeriodOrYearArgs, location="query", unknown=RAISE)
@blp.doc(responses=json_or_xlsx(SpendSchema))
def spend(args):
    """Final charges per unit × channel × supplier × month."""
    window = _period_or_year(args)
    report = reports.spend(db.session, user=current_user(), window=window,
                           unit_id=args.get("unit_id"))
    return _answer(args, report, SpendSchema, sheet="用车支出", columns=SPEND_COLUMNS,
                   name=f"spend-{window.first:%Y%m}-{window.last:%Y%m}")


VISITOR_SAVINGS_COLUMNS = (
    Column("partner_name", "合作城市平台", width=26), Column("city", "城市", width=10),
    Column("month", "月份", width=10), Column("trips", "行程数", "int"),
    Column("km", "里程(公里)", "km"), Column("market_reference", "市场参考价", "money"),
    Column("charged", "实际收费", "money"), Column("savings", "节约金额", "money"),
    Column("savings_rate", "节约率", "share"))


@blp.route("/visitor-savings")
@readers
@blp.arguments(VisitorSavingsArgs, location="query", unknown=RAISE)
@blp.doc(responses=json_or_xlsx(VisitorSavingsSchema))
def visitor_savings(args):
    """Partner cities' travellers on our fleet: Σ market reference (the rental ceiling
    without discount) − Σ charge (our paid-use tariff), per partner and month (SPEC §7);
    ``direction=outbound``: ours on partner fleets, against the partner's own reference."""
    window = _period_or_year(args)
    direction = args["direction"]
    report = visitor_savings_report(db.session, user=current_user(), window=window,
                                    unit_id=args.get("unit_id"),
                                    partner_id=args.get("partner_id"), direction=direction)
    return _answer(args, report, VisitorSavingsSchema, columns=VISITOR_SAVINGS_COLUMNS,
                   name=f"visitor-savings-{direction}-{window.first:%Y%m}-{window.last:%Y%m}",
                   sheet="来访节约情况" if direction == "inbound" else "赴合作城市节约情况")


@blp.route("/lists")
@readers
@blp.arguments(QuarterArgs, location="query", unknown=RAISE)
@blp.response(200, QuarterListSchema)
def quarterly_list(args):
    """The quarter's positive and negative units (正负面清单); published or provisional."""
    return reports.quarterly_list(db.session, user=current_user(), quarter=args["quarter"])


@blp.route("/lists/<quarter>/publish", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@blp.response(200, QuarterListSchema)
def publish_list(quarter):
    """A supervisor publishes a finished quarter's list (once)."""
    try:
        QUARTER(quarter)
    except ValidationError:
        raise ValidationFailed("季度格式应为 YYYYQn，如 2026Q4",
                               errors={"quarter": ["格式应为 YYYYQn"]}) from None
    return reports.publish_list(db.session, actor=current_user(), quarter=quarter)


@recall_blp.route("/vehicles/<int:vehicle_id>/recall", methods=["POST"])
@roles_required(Role.ADMIN)
@recall_blp.arguments(RecallSchema)
@recall_blp.response(200, RecalledVehicleSchema)
def recall(data, vehicle_id):
    """Move a stationed vehicle back to the pool (admin, audited)."""
    return reports.recall(db.session, actor=current_user(), vehicle_id=vehicle_id,
                          reason=data["reason"])
