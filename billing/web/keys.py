"""Typed keys the pages keep on a request."""

from __future__ import annotations

from aiohttp import web

from billing.db.web_sessions import Session

SESSION = web.RequestKey("web_session", Session)
SESSION_ID = web.RequestKey("web_session_id", str)
