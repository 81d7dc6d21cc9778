"""A floor for the read benchmark: the least work ``GET /trips?limit=20`` can do here.

A bare Flask app (no ORM, no schemas, no hooks) that verifies the bearer JWT with PyJWT,
reads the user with its unit and roles, a page of 21 trips (the extra one says whether a
next page exists) and the page's histories with the database driver (sqlite3 or psycopg)
straight into dicts, and writes them with orjson. No scope, no allowed actions, no time
zones, no field formatting: whatever the app does per request costs at least this, so its
ratio to the bare endpoint bounds what any implementation of the route can reach on this
machine, with this server and this database. Served like the app (``bench.floor_reads:app``,
``FLOOR_DATABASE_URL`` a SQLAlchemy URL, ``OTB_JWT_SECRET`` the app's secret).
"""
import os
import threading

import jwt
import orjson
from flask import Flask, Response, request

app = Flask("floor")
URL = os.environ["FLOOR_DATABASE_URL"]
SECRET = os.environ["OTB_JWT_SECRET"]
SQLITE = URL.startswith("sqlite")
_local = threading.local()


def _connect():
    if SQLITE:
        import sqlite3

        return sqlite3.connect(URL.split(":///", 1)[1], check_same_thread=False)
    import psycopg

    conn = psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"))
    conn.autocommit = True
    return conn


def _rows(sql: str, params=()):
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _connect()
    cur = conn.execute(sql if SQLITE else sql.replace("?", "%s"), params)
    return [d[0] for d in cur.description], cur.fetchall()


def _json(value):
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


@app.get("/trips")
def trips():
    token = request.headers["Authorization"].split(" ", 1)[1]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    _, user = _rows("SELECT u.id, u.unit_id, n.path, r.role FROM users u "
                    "JOIN units n ON n.id = u.unit_id JOIN user_roles r ON r.user_id = u.id "
                    "WHERE u.id = ?", (int(claims["sub"]),))
    names, found = _rows("SELECT * FROM trips ORDER BY id DESC LIMIT 21")
    rows = [dict(zip(names, row)) for row in found[:20]]
    ids = [row["id"] for row in rows]
    _, events = _rows(f"SELECT id, trip_id, from_state, to_state, at, actor_id, comment, data "
                      f"FROM trip_events WHERE trip_id IN ({','.join('?' * len(ids))}) "
                      f"ORDER BY id", ids)
    history: dict[int, list] = {}
    for ev in events:
        history.setdefault(ev[1], []).append(
            {"state": ev[3], "from_state": ev[2], "at": ev[4], "actor_id": ev[5],
             "comment": ev[6], "action": (_json(ev[7]) or {}).get("action")})
    for row in rows:
        row["history"] = history.get(row["id"], [])
        row["passengers"], row["stops"] = _json(row["passengers"]), _json(row["stops"])
    body = orjson.dumps({"items": rows, "next_cursor": None, "user": user[0][0]},
                        default=str, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, mimetype="application/json")
