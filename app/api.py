"""The flask-smorest Api, shared schema helpers and cursor pagination."""
from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import flask_smorest
import orjson
from flask import Flask, Response, current_app, send_file
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from sqlalchemy import Select, select, union
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import IntegerConverter

from app import clock, db
from app.errors import ValidationFailed

MAX_LIMIT = 100
API_EXTENSION = "otb.api"
# Ids are SQLAlchemy Integer columns: 32-bit on PostgreSQL, so nothing larger names a row.
MAX_ID = 2**31 - 1
# The largest JSON body any operation takes; a trip with 45 passengers is a few kB.
MAX_JSON_BYTES = 256 * 1024
# Times on the wire: far enough either way for any trip, near enough for date arithmetic.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


# --- Chinese messages for marshmallow's defaults, set once before any schema is defined ---

_FIELD_MESSAGES = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.Nested: {"type": "应为对象"},
    fields.List: {"invalid": "应为列表"},
    fields.Tuple: {"invalid": "应为列表"},
    fields.String: {"invalid": "应为字符串", "invalid_utf8": "应为 UTF-8 文本",
                    "nul": "不能包含控制字符或不可见字符"},
    fields.Number: {"invalid": "应为数字", "too_large": "数值过大"},
    fields.Integer: {"invalid": "应为整数"},
    fields.Float: {"special": "不能为 NaN 或无穷大"},
    fields.Decimal: {"special": "不能为 NaN 或无穷大"},
    fields.Boolean: {"invalid": "应为 true 或 false"},
    fields.DateTime: {"invalid": "应为 ISO 8601 时间，如 2026-03-01T09:00:00+08:00",
                      "invalid_awareness": "应为带时区的时间，如 2026-03-01T09:00:00+08:00",
                      "format": "无法表示为时间"},
    fields.Date: {"invalid": "应为日期，如 2026-03-01", "format": "无法表示为日期",
                  "invalid_awareness": "时区信息不符合要求"},
    fields.Mapping: {"invalid": "应为对象"},
    fields.Email: {"invalid": "应为邮箱地址"},
    fields.Url: {"invalid": "应为网址"},
    fields.Enum: {"unknown": "应为以下之一：{choices}"},
}
for _field, _messages in _FIELD_MESSAGES.items():
    _field.default_error_messages = _messages
Schema._default_error_messages = {"type": "应为对象", "unknown": "未知字段"}
validate.Length.message_min = "长度不能少于 {min}"
validate.Length.message_max = "长度不能超过 {max}"
validate.Length.message_all = "长度应在 {min} 到 {max} 之间"
validate.Length.message_equal = "长度应为 {equal}"
validate.Range.message_min = "应{min_op} {{min}}"
validate.Range.message_max = "应{max_op} {{max}}"
validate.Range.message_all = "应{min_op} {{min}} 且{max_op} {{max}}"
validate.Range.message_gte, validate.Range.message_gt = "不小于", "大于"
validate.Range.message_lte, validate.Range.message_lt = "不大于", "小于"
validate.OneOf.default_message = "应为以下之一：{choices}"
validate.ContainsOnly.default_message = "只能包含：{choices}"
validate.NoneOf.default_message = "取值无效"
validate.ContainsNoneOf.default_message = "不能包含：{values}"
validate.Regexp.default_message = "格式不正确"
validate.Equal.default_message = "应等于 {other}"
validate.Predicate.default_message = "取值无效"
validate.Email.default_message = "应为邮箱地址"
validate.URL.default_message = "应为网址"


# No text of the API may hold a NUL character: PostgreSQL cannot store one in a text column
# (the attack re-run got a 500 for a trip's purpose and a cancel reason). Refused as a field
# error of whichever string field carries it, like the names' control characters.
_string_deserialize = fields.String._deserialize


def _deserialize_without_nul(self, value, attr, data, **kwargs):
    text = _string_deserialize(self, value, attr, data, **kwargs)
    if "\x00" in text:
        raise self.make_error("nul")
    return text


fields.String._deserialize = _deserialize_without_nul

ID = validate.Range(min=1, max=MAX_ID, error="编号无效")


# --- the wire: JSON bodies, ids in paths ----------------------------------------------------

# Flask's output exactly: sorted keys, non-string keys written as strings, dates through
# Flask's default (HTTP dates) rather than orjson's RFC 3339.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class JSONProvider(DefaultJSONProvider):
    """The app's JSON: Chinese unescaped; a body nested too deep for the parser or holding
    a lone UTF-16 surrogate (``"\\ud800"``, which no text column can store) is malformed."""

    ensure_ascii = False

    def response(self, *args, **kwargs):
        """Answers are written by orjson (a page of 20 trips several times faster than the
        standard library), with the same output: sorted keys, compact, UTF-8 unescaped,
        anything else (Decimal → string) through Flask's default; the standard library
        writes what orjson refuses (integers beyond 64 bits) and the debug mode's indent."""
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)

    def loads(self, s, **kwargs):
        try:
            data = super().loads(s, **kwargs)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise _malformed("nested too deeply", s) from None
        except UnicodeEncodeError:
            raise _malformed("lone surrogate", s) from None
        return data


def _malformed(reason: str, s: str | bytes) -> json.JSONDecodeError:
    doc = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
    return json.JSONDecodeError(reason, doc, 0)


class ArgumentsParser(FlaskParser):
    """webargs' parser reading JSON bodies with the app's JSON provider, up to
    ``MAX_JSON_BYTES``; a malformed body is refused in Chinese."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        body = req.get_data(cache=True)
        if len(body) > MAX_JSON_BYTES:
            abort(413)
        return current_app.json.loads(body)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"json": ["JSON 格式错误"]})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: an id beyond ``MAX_ID`` matches nothing (404)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# Every operation takes the JWT from /auth/wechat-login or /auth/bind, except those two and
# the providers' signed webhooks, which say so with ``@blp.doc(security=[])``.
BEARER_JWT = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def init_app(app: Flask) -> None:
    """The app's HTTP contract: strict JSON, bounded ids in paths, the flask-smorest Api
    whose document states the bearer JWT and how decimals travel."""
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.config.setdefault("API_SPEC_OPTIONS", {"security": [{"bearerAuth": []}]})
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", BEARER_JWT)
    api.ma_plugin.converter.add_attribute_function(decimal_on_the_wire)
    app.extensions[API_EXTENSION] = api


def decimal_on_the_wire(converter, field: fields.Field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: a ``Decimal`` travels as a string of digits (the JSON
    provider writes every Decimal as one), so it is documented as such. Its limits, which
    bound no string, become ``x-minimum``/``x-maximum`` (apispec's names for limits of
    non-numeric types) as JSON numbers rather than serialized strings."""
    if not isinstance(field, fields.Decimal):
        return {}
    limits = {f"x-{key}": _json_number(ret.pop(key)) for key in ("minimum", "maximum")
              if key in ret}
    sign = "" if limits.get("x-minimum", -1) >= 0 else "-?"
    return {"type": "string", "format": "decimal", "pattern": rf"^{sign}\d+(\.\d+)?$",
            **limits}


def _json_number(value: Decimal | str) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def blueprint(name: str, url_prefix: str, description: str) -> Blueprint:
    return Blueprint(name, name, url_prefix=f"/api/v1{url_prefix}", description=description)


class MoneyField(fields.Decimal):
    """Money on the wire: a string with two decimals ("515.50"); floats are refused."""

    def __init__(self, **kwargs):
        super().__init__(places=2, as_string=True, rounding="ROUND_HALF_UP", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise ValidationError("金额请以字符串提交，如 \"12.50\"")
        return super()._deserialize(value, attr, data, **kwargs)


def allowed_actions_field(actions, compute, description: str) -> fields.Function:
    """``allowed_actions``: what the caller may do with the object now (``compute(obj)``),
    typed in the OpenAPI document as an array of the object's action names."""
    return fields.Function(compute, metadata={
        "type": "array", "items": {"type": "string", "enum": list(actions)},
        "description": description})


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset; a time without one is refused rather than guessed, and so
    is one outside ``EARLIEST``–``LATEST`` (9999-12-31T20:00-12:00 is no day in UTC).
    Answers are in one offset, Beijing time (+08:00), whatever offset a time came in."""

    default_error_messages = {"range": "时间应在 2000 年至 2099 年之间"}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(value and clock.local(value), attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= moment < LATEST:
            raise self.make_error("range")
        return moment


class List(fields.List):
    """A list whose ``Length`` validators run before its items are deserialized: an
    oversized list is refused at once, with one message, not after every item."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            for validator in self.validators:
                if isinstance(validator, validate.Length):
                    validator(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PageArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class ErrorBodySchema(Schema):
    """Every error answer (app/errors.py): a stable code, a Chinese message, field errors."""

    code = fields.String(metadata={"example": "bad_signature"})
    message = fields.String(metadata={"example": "回调签名校验失败"})
    status = fields.Integer(metadata={"example": 401})
    errors = fields.Raw(metadata={
        "description": "Field errors as {field: [messages]} (nested like the body), or a "
                       "list of messages about the body as a whole (malformed JSON)",
        "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "string"}}],
        "example": {"phone": ["长度不能超过 20"]}})


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting our error body for every error it lists."""

    ERROR_SCHEMA = ErrorBodySchema


# --- lean dumps for pages: the item schema's own fields, minus marshmallow's per-field toll ---

# A switch for tests comparing the lean dump with marshmallow's own.
LEAN_PAGES = True


def lean_dumper(schema: Schema):
    """A function dumping one object exactly as ``schema.dump`` does, with the per-field
    lookups resolved once: each field's own ``_serialize`` on ``getattr(obj, attribute)``,
    nested schemas compiled the same way. ``None`` when the schema has dump hooks or its
    own attribute access (then only ``schema.dump`` is right)."""
    if (schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]
            or type(schema).get_attribute is not Schema.get_attribute):
        return None
    steps = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        steps.append((key, _lean_getter(schema, name, field)))

    def dump(obj):
        if hasattr(type(obj), "__getitem__"):  # a mapping: marshmallow reads keys, not attributes
            return schema.dump(obj, many=False)
        out = {}
        for key, get in steps:
            value = get(obj)
            if value is not missing:
                out[key] = value
        return out

    return dump


def _lean_getter(schema: Schema, name: str, field: fields.Field):
    def slow(obj):
        return field.serialize(name, obj, accessor=schema.get_attribute)

    if not field._CHECK_ATTRIBUTE:  # Function, Method: computed from the object
        return lambda obj: field._serialize(None, name, obj)
    attribute = field.attribute or name
    if "." in attribute or field.dump_default is not missing:
        return slow
    if type(field).get_value is not fields.Field.get_value:  # the field reads on its own
        def read(obj):
            return field.get_value(obj, name, accessor=schema.get_attribute)
    else:
        def read(obj):
            return getattr(obj, attribute, missing)
    nested = None
    if isinstance(field, fields.Nested) and not field.many and not field.schema.many:
        nested, many = lean_dumper(field.schema), False
    elif (isinstance(field, fields.List) and isinstance(field.inner, fields.Nested)
          and not field.inner.many and not field.inner.schema.many):
        nested, many = lean_dumper(field.inner.schema), True
    if nested is not None:
        def get_nested(obj):
            value = read(obj)
            if value is missing:
                return slow(obj)
            if value is None:
                return None
            return [nested(each) for each in value] if many else nested(value)

        return get_nested
    serialize = field._serialize

    def get(obj):
        value = read(obj)
        if value is missing:
            return slow(obj)
        return serialize(value, name, obj)

    return get


class PageSchema(Schema):
    """A page of items (``page_schema``): dumped with the items' lean dumper."""

    def dump(self, obj, *, many=None):
        if not LEAN_PAGES or many or not isinstance(obj, dict) or set(obj) != {"items", "next_cursor"}:
            return super().dump(obj, many=many)
        dumper = self.__dict__.get("_lean_items", missing)
        if dumper is missing:
            dumper = self._lean_items = lean_dumper(self.dump_fields["items"].inner.schema)
        if dumper is None:
            return super().dump(obj, many=many)
        cursor = obj["next_cursor"]
        return {"items": [dumper(item) for item in obj["items"]],
                "next_cursor": None if cursor is None else str(cursor)}


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    return PageSchema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True),
    }, name=f"{item_schema.__name__.removesuffix('Schema')}Page")


def _decode_cursor(cursor: str) -> int:
    try:
        last_id = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("分页游标无效", code="invalid_cursor") from exc
    if not 1 <= last_id <= MAX_ID:
        raise ValidationFailed("分页游标无效", code="invalid_cursor")
    return last_id


def cursor_id(cursor: str | None) -> int | None:
    """The last id a cursor names (``None`` for the first page); 422 when it is not ours."""
    return _decode_cursor(cursor) if cursor else None


def page_of(rows: list, limit: int) -> dict[str, Any]:
    """A page from up to ``limit + 1`` rows, newest first: the extra row says there is more."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (base64.urlsafe_b64encode(str(rows[-1].id).encode()).decode()
                   if more and rows else None)
    return {"items": rows, "next_cursor": next_cursor}


def union_page(session, entity, branches: list | None, conditions: list, *, limit: int,
               cursor: str | None, options=()) -> dict[str, Any]:
    """A keyset page of ``entity`` rows, newest first by id, meeting ``conditions`` and any
    one of ``branches`` (``None``: no branch condition at all). An OR of branches defeats
    every index (the planner scans the table or sorts every match); read instead as a UNION
    of one index scan per branch, each cut at the page size, so a page costs about the
    same at a thousand rows or a million."""
    id_column = entity.id
    last_id = cursor_id(cursor)
    keyset = [id_column < last_id] if last_id is not None else []
    stmt = select(entity).options(*options).order_by(id_column.desc()).limit(limit + 1)
    if branches is None:
        stmt = stmt.where(*conditions, *keyset)
    else:
        scans = [select(id_column).where(branch, *conditions, *keyset)
                 .order_by(id_column.desc()).limit(limit + 1).subquery(f"scan{n}")
                 for n, branch in enumerate(branches)]
        ids = union(*(select(scan.c.id) for scan in scans)).subquery("page_ids")
        stmt = stmt.join(ids, ids.c.id == id_column)  # UNION: a row in two branches once
    return page_of(list(session.scalars(stmt).unique()), limit)


def paginate(stmt: Select, id_column, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first by id; the cursor is the last id seen, opaque to clients."""
    if cursor:
        stmt = stmt.where(id_column < _decode_cursor(cursor))
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (base64.urlsafe_b64encode(str(rows[-1].id).encode()).decode()
                   if more and rows else None)
    return {"items": rows, "next_cursor": next_cursor}


def register_blueprints(app, *blueprints: Blueprint) -> None:
    """Register a domain's blueprints with the app's Api (created by ``create_app``)."""
    for blp in blueprints:
        app.extensions[API_EXTENSION].register_blueprint(blp)


def send_written(write: Callable[[Any], object], *, mimetype: str, download_name: str) -> Response:
    """A download written by ``write(handle)`` to an anonymous temporary file (rows stream
    from the database in batches), then sent in chunks; the file disappears when the
    response closes it. ``send_file`` adds filename*=UTF-8'' (RFC 5987) for a Chinese name,
    with an ASCII fallback."""
    handle = tempfile.TemporaryFile()
    try:
        write(handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return send_file(handle, mimetype=mimetype, as_attachment=True, download_name=download_name)
