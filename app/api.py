"""The flask-smorest Api, shared schema helpers and cursor pagination."""
from __future__ import annotations

import base64
from typing import Any

from flask_smorest import Api, Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Select

from app import db
from app.errors import ValidationFailed

MAX_LIMIT = 100
API_EXTENSION = "otb.api"


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
    """ISO 8601 with an offset; a time without one is refused rather than guessed."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)


class PageArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class ErrorBodySchema(Schema):
    """Every error answer (app/errors.py): a stable code, a Chinese message, field errors."""

    code = fields.String(metadata={"example": "bad_signature"})
    message = fields.String(metadata={"example": "回调签名校验失败"})
    status = fields.Integer(metadata={"example": 401})
    errors = fields.Dict()


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema)),
        "next_cursor": fields.String(allow_none=True),
    }, name=f"{item_schema.__name__.removesuffix('Schema')}Page")


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("分页游标无效", code="invalid_cursor") from exc


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
