from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from app import db
from app.accounts.models import Role
from app.api import PageArgs, blueprint, page_schema, paginate, send_written
from app.errors import Forbidden, NotFound, ValidationFailed
from app.security import current_user, is_platform, roles_required, scope_filter, scoped_get
from app.trips import facts
from app.settlements import history, service
from app.settlements.history import ReconciliationRun
from app.settlements.models import Settlement, SettlementLine
from app.settlements.reconcile import StatementFormatError
from app.settlements.schemas import (ExportArgs, GenerateResultSchema, GenerateSchema,
                                     PeriodExportArgs, ReasonSchema,
                                     ReconciliationFileSchema, ReconciliationFormSchema,
                                     ReconciliationRunListArgs, ReconciliationRunSchema,
                                     ReconciliationSchema,
                                     SettlementLineSchema, SettlementListArgs, SettlementSchema)

blp = blueprint("settlements", "/settlements", "Monthly statements per unit and supplier")
reconciliation_blp = blueprint("reconciliations", "/reconciliations",
                               "Supplier statements checked against ours (对账)")
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}
finance = roles_required(Role.FINANCE)
# Supervisors (纪委监委/审计) read every statement platform-wide; they write nothing here.
readers = roles_required(Role.FINANCE, Role.SUPERVISOR)


def _reads_everything(user) -> bool:
    return user.has_role(Role.SUPERVISOR)


def _platform_finance():
    user = current_user()
    if not is_platform(user):
        raise Forbidden("仅平台财务可执行此操作", code="platform_finance_only")
    return user


@blp.route("")
class Settlements(MethodView):
    decorators = [readers]

    @blp.arguments(SettlementListArgs, location="query")
    @blp.response(200, page_schema(SettlementSchema))
    def get(self, args):
        """Statements in the caller's unit subtree, filtered by period, unit or supplier."""
        user = current_user()
        stmt = select(Settlement)
        if not _reads_everything(user):
            stmt = stmt.where(scope_filter(user, Settlement.unit_id))
        for key in ("period", "unit_id", "supplier"):
            if args.get(key) is not None:
                stmt = stmt.where(getattr(Settlement, key) == args[key])
        page = paginate(stmt, Settlement.id, limit=args["limit"], cursor=args["cursor"])
        Settlement.prefetch_facts(db.session, page["items"])
        return page

    @finance
    @blp.arguments(GenerateSchema)
    @blp.response(200, GenerateResultSchema)
    def post(self, data):
        """Generate (or bring up to date) every statement of a period; idempotent."""
        actor = _platform_finance()
        items = service.generate(db.session, period=data["period"], actor=actor)
        return {"period": data["period"], "items": items}


def _statement(settlement_id: int) -> Settlement:
    user = current_user()
    if _reads_everything(user) and not user.has_role(Role.FINANCE):
        statement = db.session.get(Settlement, settlement_id)
        if statement is None:
            raise NotFound()
        return statement
    return scoped_get(Settlement, settlement_id)


@blp.route("/<int:settlement_id>")
@readers
@blp.response(200, SettlementSchema)
def get_settlement(settlement_id):
    return _statement(settlement_id)


@blp.route("/<int:settlement_id>/lines")
@readers
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(SettlementLineSchema))
def get_lines(args, settlement_id):
    statement = _statement(settlement_id)
    stmt = select(SettlementLine).where(SettlementLine.settlement_id == statement.id)
    page = paginate(stmt, SettlementLine.id, limit=args["limit"], cursor=args["cursor"])
    found = facts.facts_of(db.session, [line.trip_id for line in page["items"]])
    for line in page["items"]:
        line.trip_facts = found.get(line.trip_id)
    return page


def _act(settlement_id: int, action: str, reason: str = "") -> Settlement:
    return service.act(db.session, statement=_statement(settlement_id), action=action,
                       actor=current_user(), reason=reason)


@blp.route("/<int:settlement_id>/issue", methods=["POST"])
@finance
@blp.response(200, SettlementSchema)
def issue(settlement_id):
    """Send a draft to the paying unit's finance for confirmation (platform finance)."""
    return _act(settlement_id, "issue")


@blp.route("/<int:settlement_id>/confirm", methods=["POST"])
@finance
@blp.response(200, SettlementSchema)
def confirm(settlement_id):
    return _act(settlement_id, "confirm")


@blp.route("/<int:settlement_id>/dispute", methods=["POST"])
@finance
@blp.arguments(ReasonSchema)
@blp.response(200, SettlementSchema)
def dispute(data, settlement_id):
    return _act(settlement_id, "dispute", reason=data["reason"])


@blp.route("/<int:settlement_id>/close", methods=["POST"])
@finance
@blp.response(200, SettlementSchema)
def close(settlement_id):
    """Close a confirmed statement; its period is immutable from now on (platform finance)."""
    return _act(settlement_id, "close")


@blp.route("/<int:settlement_id>/export")
@readers
@blp.arguments(ExportArgs, location="query")
@blp.alt_response(200, description="The statement as an XLSX or CSV (UTF-8 with BOM) file",
                  content_type="application/octet-stream")
def export(args, settlement_id):
    """Download the statement: XLSX (summary + a sheet per supplier) or CSV with BOM."""
    statement = _statement(settlement_id)
    if not statement.can_export(current_user()):
        raise Forbidden()
    fmt = args["format"]
    return send_written(lambda handle: service.export(db.session, [statement.id], handle, fmt=fmt),
                        mimetype=MIMETYPES[fmt],
                        download_name=service.export_filename(statement.period, fmt, statement))


@blp.route("/export")
@finance
@blp.arguments(PeriodExportArgs, location="query")
@blp.alt_response(200, description="Every statement of the period in the caller's scope as "
                  "one XLSX (summary + a sheet per supplier) or CSV file",
                  content_type="application/octet-stream")
def export_period(args):
    """Download the whole period as one workbook (what ``flask export-settlements`` writes),
    limited to the statements in the caller's unit subtree; 404 when there are none."""
    user = current_user()
    stmt = select(Settlement.id).where(Settlement.period == args["period"],
                                       scope_filter(user, Settlement.unit_id))
    if args.get("supplier"):
        stmt = stmt.where(Settlement.supplier == args["supplier"])
    ids = list(db.session.scalars(stmt.order_by(Settlement.supplier, Settlement.unit_id)))
    if not ids:
        raise NotFound("该期间没有结算单，请先生成", code="no_statements")
    fmt = args["format"]
    return send_written(lambda handle: service.export(db.session, ids, handle, fmt=fmt),
                        mimetype=MIMETYPES[fmt],
                        download_name=service.export_filename(args["period"], fmt))


@reconciliation_blp.route("", methods=["GET"])
@finance
@reconciliation_blp.arguments(ReconciliationRunListArgs, location="query")
@reconciliation_blp.response(200, page_schema(ReconciliationRunSchema))
def reconciliation_history(args):
    """Every kept reconciliation upload, newest first (platform finance)."""
    _platform_finance()
    stmt = select(ReconciliationRun)
    for key in ("period", "supplier"):
        if args.get(key):
            stmt = stmt.where(getattr(ReconciliationRun, key) == args[key])
    return paginate(stmt, ReconciliationRun.id, limit=args["limit"], cursor=args["cursor"])


@reconciliation_blp.route("", methods=["POST"])
@finance
@reconciliation_blp.arguments(ReconciliationFormSchema, location="form")
@reconciliation_blp.arguments(ReconciliationFileSchema, location="files")
@reconciliation_blp.response(200, ReconciliationSchema)
def reconcile(form, files):
    """Compare a supplier's CSV statement (order id, amount) with our lines of the period."""
    actor = _platform_finance()
    upload = files["file"]
    data = upload.read()
    try:
        outcome = service.reconcile_statement(db.session, supplier=form["provider"],
                                              period=form["period"], data=data)
    except StatementFormatError as exc:
        raise ValidationFailed(str(exc), code="malformed_statement", errors={
            "file": [{"row": e.row, "message": e.message} for e in exc.errors]}) from None
    run = history.keep(db.session, actor=actor, supplier=form["provider"], period=form["period"],
                       filename=upload.filename or "", data=data, outcome=outcome)
    return {"run_id": run.id, "matched": outcome.matched,
            "missing_on_our_side": outcome.missing_on_our_side,
            "missing_on_theirs": outcome.missing_on_theirs,
            "amount_mismatches": outcome.amount_mismatches}
