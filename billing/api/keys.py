"""Typed keys for everything the application and its requests carry."""

from __future__ import annotations

from concurrent.futures import Executor

from aiohttp import web

from billing.api.metrics import HttpMetrics
from billing.config import Settings
from billing.crypto import TokenCipher
from billing.db.pool import Pool
from billing.domain.access import Principal
from billing.smartcar.client import SmartcarClient

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", Pool)
CIPHER = web.AppKey("cipher", TokenCipher)
OPENAPI = web.AppKey("openapi", dict)
SMARTCAR = web.AppKey("smartcar", SmartcarClient)

PRINCIPAL = web.RequestKey("principal", Principal)
METRICS = web.AppKey("metrics", HttpMetrics)
# PDFs render in worker processes, so rendering never holds the event loop or its GIL
PDF_EXECUTOR = web.AppKey("pdf_executor", Executor)
