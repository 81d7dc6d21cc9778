"""The gateway's fixes beside Flask: ``POST /api/v1/telemetry/traccar`` served as plain WSGI.

This one route carries the city's volume: every vehicle every 10 s, one request per fix
(1,370 vehicles make 137 requests/s, and a worker should have ten times that in hand).
Flask's machinery for a request (two contexts pushed and popped, URL matching, the
before/after hooks, a request and a response object) cost a worker more CPU per fix than
authenticating, parsing and storing the fix: measured on one gunicorn worker, the same
fixes went through at about 1.5 times the rate once that machinery was skipped
(``make bench``, bench/bench_positions.py, docs/operations.md).

So a WSGI middleware in front of the app answers the requests that are plainly a Traccar
forward — ``POST``, a JSON body of declared length within the app's limit, no
Idempotency-Key — with the same steps the Flask view takes (``receive_traccar``: the
gateway's secret, Traccar's parser, the group-commit writer) and the same answers: the
stored fix's document, or the error body (``{code, message, status, errors}``) of the
refusal. Everything else (another method, another media type, a chunked body, an
Idempotency-Key) goes on to Flask, where the documented view answers it as before; the
route stays in the OpenAPI document there.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus

import orjson

from app import clock
from app.errors import UNEXPECTED, AppError, error_body
from app.positions import devices, ingest, protocols, writer

log = logging.getLogger(__name__)

PATH = "/api/v1/telemetry/traccar"
_JSON_HEADERS = ("Content-Type", "application/json")


def json_document(body: bytes | None):
    """The body's JSON document, or None when there is none or it is malformed (the
    protocol's parser then names what is missing). orjson refuses what the app's JSON
    refuses (lone surrogates, nesting too deep) in a fraction of the time."""
    if body is None:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def store(config: Mapping, fix: protocols.Fix, *, key: str | None = None,
          check_key: bool = False) -> ingest.Stored:
    """Hand the fix to the process's group-commit writer; its outcome once committed."""
    return writer.submit(config, ingest.Received(
        fix, clock.now(), int(config["POSITION_RETENTION_MONTHS"]), key, check_key))


def receive_traccar(config: Mapping, authorization: str, body: bytes | None) -> ingest.Stored:
    """One position forwarded by Traccar: the gateway's secret (``Authorization``), the
    forwarding document (``body``, None when not JSON), stored; raises the refusal."""
    devices.authenticate_gateway(authorization, devices.gateway_secrets(config))
    return store(config, protocols.parse_traccar(json_document(body)))


def _is_json(content_type: str) -> bool:
    """Werkzeug's ``Request.is_json`` on the raw header."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json"))


class TraccarFastPath:
    """WSGI middleware: answers plain Traccar forwards itself, passes on everything else."""

    def __init__(self, app, wsgi_app: Callable):
        self.app = app
        self.wsgi_app = wsgi_app

    def takes(self, environ: dict) -> int | None:
        """The body's length when this request is one the fast path answers, else None."""
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST"
                or "HTTP_IDEMPOTENCY_KEY" in environ
                or not _is_json(environ.get("CONTENT_TYPE", ""))):
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) > self.app.config["MAX_CONTENT_LENGTH"]:
            return None  # chunked, or too large: Flask answers (413)
        return int(length)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = self.takes(environ)
        if length is None:
            return self.wsgi_app(environ, start_response)
        try:
            body = environ["wsgi.input"].read(length) if length else b""
            stored = receive_traccar(self.app.config, environ.get("HTTP_AUTHORIZATION", ""),
                                     body)
            status, document = 200, stored.body()
        except AppError as refusal:
            status, document = refusal.status, refusal.body()
        except Exception:  # noqa: BLE001 - answered as the app answers the unexpected
            log.exception("unhandled error in the Traccar fast path")
            status, document = UNEXPECTED[0], error_body(*UNEXPECTED)
        answer = orjson.dumps(document)
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [_JSON_HEADERS, ("Content-Length", str(len(answer)))])
        return [answer]


def install(app) -> None:
    app.wsgi_app = TraccarFastPath(app, app.wsgi_app)
