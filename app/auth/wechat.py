"""The app's WeChat client: configured from settings, with the access token shared in the database."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import clock, db
from app.db import Base
from providers.wechat import WeChatClient

REFRESH_MARGIN = timedelta(minutes=5)


class WeChatToken(Base):
    """The one access token per app, shared by every process (WeChat rate-limits refreshes)."""

    __tablename__ = "wechat_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[datetime | None]


class DatabaseTokenCache:
    def __init__(self, engine, appid: str):
        self.engine = engine
        self.appid = appid

    def _usable(self, row: WeChatToken | None, stale: str | None) -> bool:
        return (row is not None and row.token is not None and row.token != stale
                and row.expires_at is not None and row.expires_at - REFRESH_MARGIN > clock.now())

    def get(self, refresh, *, stale=None):
        with Session(self.engine) as side:
            row = side.get(WeChatToken, self.appid)
            if self._usable(row, stale):
                return row.token
        self._ensure_row()
        with Session(self.engine) as side:
            # One refresher at a time, in every process: the row lock (SELECT … FOR UPDATE)
            # on PostgreSQL, the write lock on SQLite; whoever waited re-reads the row and
            # finds the token the first one fetched, so WeChat is asked once.
            db.begin_write(side)
            row = side.scalars(select(WeChatToken).where(WeChatToken.appid == self.appid)
                               .with_for_update()).one()
            if self._usable(row, stale):
                return row.token
            token, ttl = refresh(row.token is not None and row.token == stale)
            row.token, row.expires_at = token, clock.now() + timedelta(seconds=ttl)
            side.commit()
            return token

    def _ensure_row(self) -> None:
        """The row exists before anyone locks it (two first-ever refreshers would both find
        nothing to lock and both fetch): an insert that does nothing when it is there."""
        dialect = self.engine.dialect.name
        insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[dialect]
        with Session(self.engine) as side:
            side.execute(insert(WeChatToken).values(appid=self.appid, token=None,
                                                    expires_at=None)
                         .on_conflict_do_nothing(index_elements=["appid"]))
            side.commit()


def client() -> WeChatClient:
    """The WeChat adapter for the current app (one per app, created lazily)."""
    app = current_app._get_current_object()
    wx = app.extensions.get("wechat_client")
    if wx is None:
        cfg = app.config
        wx = WeChatClient(cfg["WECHAT_BASE_URL"], cfg["WECHAT_APPID"], cfg["WECHAT_SECRET"],
                          timeout=cfg["WECHAT_TIMEOUT_SECONDS"],
                          token_cache=DatabaseTokenCache(db.session.get_bind(), cfg["WECHAT_APPID"]))
        app.extensions["wechat_client"] = wx
    return wx
