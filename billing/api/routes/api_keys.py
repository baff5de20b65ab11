"""API keys for admins: list (never the secrets), create, revoke."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.domain.apikeys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage
from billing.services import api_keys

routes = Routes()


@routes.route(
    "GET",
    "/v1/api-keys",
    summary="Every API key, without its secret (admin)",
    tag="api-keys",
    response=ApiKeyPage,
    errors=(403,),
)
async def list_api_keys(request: web.Request) -> ApiKeyPage:
    return ApiKeyPage(items=await api_keys.list_api_keys(pool(request), principal(request)))


@routes.route(
    "POST",
    "/v1/api-keys",
    summary="Create an API key; the answer is the only time its secret is shown (admin)",
    tag="api-keys",
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
    errors=(403,),
)
async def create_api_key(request: web.Request, body: ApiKeyCreate) -> ApiKeyCreated:
    return await api_keys.create_api_key(
        pool(request), principal(request), body, now=datetime.now(UTC)
    )


@routes.route(
    "POST",
    "/v1/api-keys/{prefix}/revoke",
    summary="Revoke an API key at once; repeating it changes nothing (admin)",
    tag="api-keys",
    response=ApiKey,
    errors=(403,),
)
async def revoke_api_key(request: web.Request) -> ApiKey:
    return await api_keys.revoke_api_key(
        pool(request), principal(request), request.match_info["prefix"]
    )
