"""API keys for admins: list (never the secrets), create, revoke."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from billing.api.registry import Routes, principal
from billing.api.routes.common import pool
from billing.db import apikeys
from billing.db.pool import transaction
from billing.domain.apikeys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage, parse_duration
from billing.domain.errors import Forbidden

routes = Routes()


def _admin_only(request: web.Request) -> str:
    who = principal(request)
    if who.role != "admin":
        raise Forbidden("only an admin key may manage API keys")
    return who.actor


@routes.route(
    "GET",
    "/v1/api-keys",
    summary="Every API key, without its secret (admin)",
    tag="api-keys",
    response=ApiKeyPage,
    errors=(403,),
)
async def list_api_keys(request: web.Request) -> ApiKeyPage:
    _admin_only(request)
    async with pool(request).acquire() as conn:
        return ApiKeyPage(items=await apikeys.list_keys(conn))


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
    actor = _admin_only(request)
    expires_at = datetime.now(UTC) + parse_duration(body.expires_in) if body.expires_in else None
    async with transaction(pool(request)) as conn:
        return await apikeys.issue_key(
            conn,
            role=body.role,
            fleet_id=body.fleet_id,
            employee_id=body.employee_id,
            name=body.name,
            expires_at=expires_at,
            actor=actor,
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
    actor = _admin_only(request)
    async with transaction(pool(request)) as conn:
        return await apikeys.revoke(conn, request.match_info["prefix"], actor=actor)
